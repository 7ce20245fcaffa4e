"""`qm sample` and `qm sample rules`, in-process."""

import json

from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.db import session_scope
from qm.models import ReviewPick, SamplingRule
from tests.qm.commands.cli import invoke
from tests.qm.review_queue.helpers import done_call, user, veteran


def seed_calls(engine: Engine) -> None:
    with session_scope(engine) as session:
        user(session, "rev1")
        user(session, "李娜")
        for agent in ("a-1", "张伟"):
            veteran(session, agent)
            for day in range(1, 6):
                done_call(session, f"{agent}-{day}", agent_id=agent, day=day)
        done_call(session, "张伟-转接", agent_id="张伟", day=8, transfers=1)


def test_sample_prints_picks_per_reviewer_and_reason(engine: Engine, db_url: str) -> None:
    seed_calls(engine)

    result = invoke(db_url, "sample", "--period", "2024-03", "--seed", "4", "--today", "2024-04-02")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("2024-03: 5 new pick(s), 5 in all, from 11 call(s)")
    assert "Per reviewer:" in lines and "Per reason:" in lines
    assert any(line.split()[:2] == ["random", "4"] for line in lines)
    assert any(line.split()[:2] == ["transfer", "1"] for line in lines)
    assert any(line.strip().startswith("李娜") for line in lines)
    with Session(engine) as session:
        picks = session.exec(select(ReviewPick)).all()
        assert len(picks) == 5
        assert {p.due.isoformat() for p in picks} == {"2024-04-09"}

    again = invoke(db_url, "sample", "--period", "2024-03", "--json")
    body = json.loads(again.output)
    assert (body["created"], body["total"]) == (0, 5)
    assert body["by_reason"] == {"random": 4, "transfer": 1}
    assert sum(body["by_reviewer"].values()) == 5
    assert {p["agent_id"] for p in body["picks"]} == {"a-1", "张伟"}


def test_a_bad_period_names_the_option(engine: Engine, db_url: str) -> None:
    for bad in ("2024-13", "March", "2024-3"):
        result = invoke(db_url, "sample", "--period", bad)
        assert result.exit_code == 2
        assert "--period" in result.output
    missing = invoke(db_url, "sample")
    assert missing.exit_code == 2 and "--period" in missing.output
    bad_day = invoke(db_url, "sample", "--period", "2024-03", "--today", "soon")
    assert bad_day.exit_code == 2 and "--today" in bad_day.output


def test_rules_set_and_list(engine: Engine, db_url: str) -> None:
    seed_calls(engine)
    empty = invoke(db_url, "sample", "rules", "list")
    assert "built-in rule applies" in empty.output

    result = invoke(
        db_url, "sample", "rules", "set", "--queue", "billing", "--random", "1",
        "--reasons", "transfer,critical-miss", "--reviewers", "李娜", "--assignment", "by_load",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "queue billing: 1 random" in result.output
    assert "critical-miss, transfer" in result.output  # stored in the reasons' own order
    listed = invoke(db_url, "sample", "rules", "list", "--json")
    (rule,) = [json.loads(line) for line in listed.output.splitlines()]
    assert (rule["queue"], rule["reviewers"], rule["assignment"]) == (
        "billing",
        ["李娜"],
        "by_load",
    )

    # Seed 0 draws one of 张伟's plain calls, so the transfer is a targeted pick on top.
    sampled = invoke(db_url, "sample", "--period", "2024-03", "--seed", "0", "--json")
    body = json.loads(sampled.output)
    assert body["by_reviewer"] == {"李娜": 3}  # one random per agent plus the transfer
    assert body["by_reason"] == {"random": 2, "transfer": 1}


def test_a_bad_rule_names_the_field(engine: Engine, db_url: str) -> None:
    result = invoke(db_url, "sample", "rules", "set", "--reasons", "rudeness")
    assert result.exit_code == 1
    assert "field reasons" in result.output and "rudeness" in result.output
    result = invoke(db_url, "sample", "rules", "set", "--team", "nowhere")
    assert "field team_id" in result.output
    with Session(engine) as session:
        assert session.exec(select(SamplingRule)).all() == []
