"""Scorecards computed from stored calls, through the domain function and `qm scorecard`."""

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from qm.db import session_scope
from qm.domain.imports.ingest import ingest_manifest
from qm.domain.scorecards import ScorecardRequest, compute_scorecards, month_bounds
from qm.errors import ValidationFailed
from qm.models import CallMetrics
from scoring.scorecard import Scorecard, ScorecardConfig
from tests.qm.commands.subprocess_qm import run_qm
from tests.qm.manifests import row, write_manifest


def scorecards(
    engine: Engine, request: ScorecardRequest, *, tz: ZoneInfo, config: ScorecardConfig
) -> list[Scorecard]:
    """compute_scorecards in a session of its own, as `qm scorecard` runs it."""
    with Session(engine) as session:
        return compute_scorecards(session, request, tz=tz, config=config)


CALLS = [
    row(
        "c1",
        agent_id="a",
        customer_id="k1",
        started_at="2024-03-01T10:00:00Z",
        talk_seconds="100",
        hold_seconds="0",
        wrap_seconds="20",
        transfers="0",
    ),
    row(
        "c2",
        agent_id="a",
        customer_id="k1",
        started_at="2024-03-04T10:00:00Z",
        talk_seconds="30",
        hold_seconds="0",
        wrap_seconds="10",
        transfers="1",
    ),
    row(
        "c3",
        agent_id="a",
        customer_id="k2",
        started_at="2024-03-05T10:00:00Z",
        talk_seconds="700",
        hold_seconds="0",
        wrap_seconds="0",
        transfers="0",
    ),
    row("c4", agent_id="b", customer_id="k9", started_at="2024-03-10T10:00:00Z"),
    # 04:00 on 1 April in Shanghai, still March in UTC
    row("c5", agent_id="b", customer_id="k8", started_at="2024-03-31T20:00:00Z"),
]


@pytest.fixture
def stored(engine: Engine, tmp_path: Path) -> Engine:
    ingest_manifest(engine, write_manifest(tmp_path / "m.csv", CALLS))
    with session_scope(engine) as session:
        session.add(
            CallMetrics(
                call_id="c1", compliance=1.0, courtesy={"polite_count": 1, "forbidden_count": 0}
            )
        )
        session.add(
            CallMetrics(
                call_id="c2", compliance=0.5, courtesy={"polite_count": 0, "forbidden_count": 0}
            )
        )
    return engine


def test_scorecards_from_stored_calls(stored: Engine) -> None:
    cards = {
        c.agent_id: c.to_dict()
        for c in scorecards(
            stored,
            ScorecardRequest("2024-03"),
            tz=ZoneInfo("UTC"),
            config=ScorecardConfig(min_contacts=3),
        )
    }
    a = cards["a"]
    assert a["contacts"] == 3 and a["rank"] == 1
    assert a["metrics"]["fcr"]["value"] == pytest.approx(2 / 3)
    assert a["metrics"]["transfer_rate"]["value"] == pytest.approx(1 / 3)
    assert a["metrics"]["aht_seconds"]["value"] == pytest.approx(860 / 3)
    assert a["metrics"]["script_compliance"]["value"] == pytest.approx(0.75)
    assert a["metrics"]["courtesy"]["value"] == pytest.approx(0.75)  # (1 + 0.5) / 2
    assert cards["b"]["contacts"] == 2 and cards["b"]["status"] == "not enough data"


def test_months_follow_the_site_time_zone(stored: Engine) -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    march = scorecards(
        stored, ScorecardRequest("2024-03", agent_id="b"), tz=shanghai, config=ScorecardConfig()
    )
    april = scorecards(
        stored, ScorecardRequest("2024-04", agent_id="b"), tz=shanghai, config=ScorecardConfig()
    )
    assert [c.contacts for c in march] == [1] and [c.contacts for c in april] == [1]


def test_fcr_window_and_as_of_are_parameters(stored: Engine) -> None:
    tz = ZoneInfo("UTC")
    narrow = scorecards(
        stored, ScorecardRequest("2024-03", "a", fcr_window_days=2), tz=tz, config=ScorecardConfig()
    )
    assert narrow[0].metrics.fcr.value == 1.0  # the repeat came 3 days later
    from datetime import UTC, datetime

    early = ScorecardRequest("2024-03", "a", as_of=datetime(2024, 3, 9, tzinfo=UTC))
    assert scorecards(stored, early, tz=tz, config=ScorecardConfig())[0].metrics.fcr.n == 1


def test_bad_period_is_rejected() -> None:
    with pytest.raises(ValidationFailed, match="YYYY-MM"):
        month_bounds("March", ZoneInfo("UTC"))


def test_scorecard_command_prints_json_lines(db_url: str, stored: Engine, tmp_path: Path) -> None:
    out = run_qm("scorecard", "--period", "2024-03", "--json", db_url=db_url, cwd=tmp_path).stdout
    cards = [json.loads(line) for line in out.splitlines()]
    assert [c["agent_id"] for c in cards] == ["a", "b"]
    assert set(cards[0]["metrics"]) == {
        "fcr",
        "transfer_rate",
        "aht_seconds",
        "courtesy",
        "script_compliance",
        "mystery_shopper",
    }
    assert cards[0]["composite"]["weights"]
    text = run_qm(
        "scorecard", "--period", "2024-03", "--agent", "b", db_url=db_url, cwd=tmp_path
    ).stdout
    assert "not enough data" in text and "a " not in text.splitlines()[1]
