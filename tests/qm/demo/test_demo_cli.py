"""`qm demo` through its real entry point: the whole demo, once, on a SQLite file.

The issue's "done when": both teams load; `qm scorecard` for the last demo month ranks
at least 20 agents with enough contacts; the behaviour profiles (docs/demo.md) show up
in their scorecards; a second run reuses the database; generated files go beside it.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from qm.db import make_engine
from qm.domain.demo.build import load_teams
from qm.models import Call, KeyPointResult, Report, ReportKind
from tests.qm.commands.subprocess_qm import run_qm

LAST, FIRST = "2026-10", "2026-05"


def scorecards(db_url: str, cwd: Path, period: str) -> dict[str, dict[str, Any]]:
    out = run_qm("scorecard", "--period", period, "--json", db_url=db_url, cwd=cwd).stdout
    return {c["agent_id"]: c for c in map(json.loads, out.splitlines())}


def value(card: dict[str, Any], metric: str) -> float:
    if metric == "in_band":
        return float(card["handle_time_in_band"]["value"])
    return float(card["metrics"][metric]["value"])


def extreme(pick: Any, cards: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """The card with the lowest (`pick=min`) or highest (`max`) value of `metric`."""
    found: dict[str, Any] = pick(cards, key=lambda c: value(c, metric))
    return found


@pytest.mark.slow
def test_demo_builds_both_teams_and_the_scorecards_find_the_profiles(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'qm.db'}"
    first = run_qm("demo", "--no-serve", db_url=db_url, cwd=tmp_path).stdout
    assert "Building the demo database" in first
    assert "http://127.0.0.1:8000/" in first
    for login in ("admin", "manager.zh", "manager.en", "reviewer.zh", "agent.zh", "agent.en"):
        assert f"  {login} " in first
    # Generated files beside the database, nothing loose in the working directory.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("qm.db")) == []
    assert (tmp_path / "qm.db.demo" / "calls.csv").is_file()
    assert (tmp_path / "qm.db.demo" / "enrichment.csv").is_file()

    # The report archive holds the last month's PDFs, rendered once.
    assert f"Rendering the reports of {LAST} for the report archive" in first
    assert "Archived 5 report(s)" in first and "not rendered" not in first

    second = run_qm("demo", "--no-serve", db_url=db_url, cwd=tmp_path).stdout
    assert "Reusing the demo database" in second and "Processed 0 call(s)" in second
    assert "Rendering the reports" not in second

    cards = scorecards(db_url, tmp_path, LAST)
    first_month = scorecards(db_url, tmp_path, FIRST)
    ranked = [c for c in cards.values() if c["rank"] is not None]
    assert len(ranked) >= 20
    assert all(c["contacts"] >= 10 for c in ranked)
    for team in load_teams():
        by_profile: dict[str, list[dict[str, Any]]] = {}
        for agent in team.agents:
            by_profile.setdefault(agent.profile, []).append(cards[agent.id])
        one = {p: cs[0] for p, cs in by_profile.items()}
        steady = by_profile["steady"]
        others = [cards[a.id] for a in team.agents if a.profile != "new_hire"]

        # Fast: short calls out of the band, callers ring back, identity checks skipped.
        assert extreme(min, others, "fcr") is one["fast"], team.id
        assert extreme(min, others, "aht_seconds") is one["fast"], team.id
        assert extreme(min, others, "in_band") is one["fast"], team.id
        assert value(one["fast"], "script_compliance") < 0.5
        # Thorough: long calls that stay resolved.
        assert extreme(max, others, "aht_seconds") is one["thorough"], team.id
        assert value(one["thorough"], "fcr") >= max(value(c, "fcr") for c in steady) - 0.05
        # Courteous but non-compliant; rude.
        assert value(one["courteous"], "courtesy") >= min(value(c, "courtesy") for c in steady)
        assert value(one["courteous"], "script_compliance") < min(
            value(c, "script_compliance") for c in steady
        )
        assert extreme(min, others, "courtesy") is one["rude"], team.id
        # The new hire is not ranked; the improver improved after training.
        assert one["new_hire"]["rank"] is None
        assert one["new_hire"]["status"] == "not enough data"
        before = first_month[one["improver"]["agent_id"]]
        gain = value(one["improver"], "script_compliance") - value(before, "script_compliance")
        assert gain > 0.2, team.id

    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            real = session.exec(
                select(Call).where(
                    col(Call.source) == "manifest:enrichment.csv", ~col(Call.id).endswith("-f1")
                )
            ).all()
            assert len(real) == 60  # the Harper Valley calls are still there
            checked = {r.call_id for r in session.exec(select(KeyPointResult)).all()}
            assert {c.id for c in real} <= checked
            audio = session.get(Call, "demo-stereo-1")
            assert audio is not None and audio.audio_path is not None
            archived = session.exec(select(Report).where(col(Report.period) == LAST)).all()
            assert {(r.kind, r.team_id, r.language) for r in archived} >= {
                (ReportKind.TEAM, "zh-hotline", "zh-CN"),
                (ReportKind.TEAM, "en-bank", "en"),
                (ReportKind.AGENT, "zh-hotline", "zh-CN"),
                (ReportKind.AGENT, "en-bank", "en"),
            }
            assert all((tmp_path / "qm.db.reports" / r.path).is_file() for r in archived)
    finally:
        engine.dispose()
