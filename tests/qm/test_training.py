"""Training plans from stored key-point results, with status kept and follow-ups."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.db import session_scope
from qm.domain.training import PlanEntry, build_training_plan, set_status
from qm.models import Agent, Call, KeyPointResult, Script, TrainingAssignment, TrainingStatus
from scoring.training import TrainingRules, load_catalog
from tests.qm.commands.subprocess_qm import run_qm

UTC_ZONE = ZoneInfo("UTC")


def add_calls(engine: Engine, start: datetime, hits: list[bool], prefix: str) -> None:
    with session_scope(engine) as session:
        if session.get(Agent, "a") is None:
            session.add(Agent(id="a", name="Ann"))
        if session.get(Script, 1) is None:
            session.add(Script(id=1, key="s", version=1, name="s", language="en", body={}))
        session.flush()
        for i, hit in enumerate(hits):
            call_id = f"{prefix}{i}"
            session.add(Call(id=call_id, agent_id="a", started_at=start + timedelta(hours=i)))
            session.flush()
            session.add(
                KeyPointResult(
                    call_id=call_id,
                    script_id=1,
                    kind="key_point",
                    item_id="verify",
                    hit=hit,
                    critical=True,
                )
            )


def plan_for(engine: Engine, period: str, **options: Any) -> list[PlanEntry]:
    """build_training_plan in a transaction of its own, as `qm training` runs it."""
    with session_scope(engine, immediate=True) as session:
        return build_training_plan(session, period, tz=UTC_ZONE, **options)


def test_plan_is_stored_keeps_status_and_follows_up(engine: Engine) -> None:
    # March: verify hit on 2 of 6 calls (missed 4/6); April: hit on 5 of 5.
    add_calls(
        engine, datetime(2024, 3, 5, tzinfo=UTC), [True, False, False, True, False, False], "m"
    )
    add_calls(engine, datetime(2024, 4, 5, tzinfo=UTC), [True] * 5, "p")
    catalog = load_catalog()
    entries = plan_for(engine, "2024-03", catalog=catalog, rules=TrainingRules())
    (entry,) = entries
    assert entry.assignment.module.id == "identity-verification"
    assert entry.stored.status == "assigned" and str(entry.stored.due_date) == "2024-05-01"
    (gap,) = entry.assignment.gaps
    assert gap.evidence == "missed on 4 of 6 calls" and gap.impact == 3.0
    (follow,) = entry.followups
    assert (follow.before.value, follow.before.n) == (2 / 6, 6)
    assert (follow.after.value, follow.after.n) == (1.0, 5)
    with session_scope(engine) as session:
        set_status(session, entry.stored.id or 0, TrainingStatus.ACKNOWLEDGED, actor="ann")
    again = plan_for(engine, "2024-03", catalog=catalog)
    assert again[0].stored.id == entry.stored.id and again[0].stored.status == "acknowledged"
    with Session(engine) as session:
        assert len(session.exec(select(TrainingAssignment)).all()) == 1
    assert plan_for(engine, "2024-04", catalog=catalog) == []


def test_training_command_json(db_url: str, engine: Engine, tmp_path: Path) -> None:
    add_calls(engine, datetime(2024, 3, 5, tzinfo=UTC), [False] * 6, "m")
    out = run_qm("training", "--period", "2024-03", "--json", db_url=db_url, cwd=tmp_path).stdout
    (line,) = out.splitlines()
    data = json.loads(line)
    assert data["module"]["id"] == "identity-verification" and data["status"] == "assigned"
    assert data["criteria"][0]["criterion"] == "key_point:verify"
    assert data["follow_up"][0]["before"] == {
        "value": 0.0,
        "n": 6,
        "ci95": data["follow_up"][0]["before"]["ci95"],
    }
    text = run_qm("training", "--period", "2024-03", db_url=db_url, cwd=tmp_path).stdout
    assert "missed on 6 of 6 calls" in text
    assert f"#{data['id']} a: " in text

    moved = run_qm(
        "training-status",
        str(data["id"]),
        "acknowledged",
        "--actor",
        "ann",
        db_url=db_url,
        cwd=tmp_path,
    ).stdout
    assert "is now acknowledged" in moved
    again = run_qm("training", "--period", "2024-03", "--json", db_url=db_url, cwd=tmp_path)
    assert json.loads(again.stdout)["status"] == "acknowledged"  # kept across runs
    missing = run_qm(
        "training-status",
        "999",
        "completed",
        "--actor",
        "ann",
        db_url=db_url,
        cwd=tmp_path,
        check=False,
    )
    assert missing.returncode == 1 and "no training assignment 999" in missing.stderr
