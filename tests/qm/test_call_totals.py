"""The database's monthly totals equal the scoring library's over the same calls, and the
stored repeat-contact flags stay current through every kind of write."""

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.db import session_scope
from qm.domain.call_totals import monthly_totals
from qm.domain.imports.ingest import CallRecord, ImportReport, store_calls
from qm.domain.queues import configure_queue
from qm.domain.repeat_contacts import refresh_all
from qm.domain.scorecards import ScorecardRequest, _from_calls, compute_scorecards
from qm.models import Call, CallMetrics
from scoring.courtesy import courtesy_score
from scoring.operational import (
    Contact,
    FcrRules,
    HandleTarget,
    first_contact_resolution,
    monthly_tallies,
)
from scoring.period import Period
from scoring.scorecard import ScorecardConfig
from tests.factories import make_call

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 1, tzinfo=UTC)
QUEUES = {"billing": (3, 120.0, 600.0), "tech": (7, None, 480.0), "sales": (1, 60.0, None)}
MONTHS = [Period(2026, 2), Period(2026, 3), Period(2026, 4)]


def _world(session: Session, seed: int) -> None:
    """Calls of 4 agents and 12 customers over three months, whole hours apart so that
    repeats land exactly on window edges too; metrics with compliance and courtesy."""
    rng = random.Random(seed)
    for queue, (days, low, high) in QUEUES.items():
        configure_queue(
            session,
            queue,
            actor="t",
            fcr_window_days=days,
            aht_min_seconds=low,
            aht_max_seconds=high,
        )
    for i in range(160):
        started = START - timedelta(days=20) + timedelta(hours=rng.randint(0, 24 * 80))
        call = make_call(
            session,
            f"c{i:03d}",
            agent_id=f"a{rng.randint(1, 4)}",
            customer_id=rng.choice([None, *[f"k{j}" for j in range(12)]]),
            queue=rng.choice([None, *QUEUES]),
            started_at=started,
            talk_seconds=rng.choice([None, rng.uniform(30, 900)]),
            transfers=rng.choice([None, 0, 0, 1, 2]),
            resolved=rng.choice([None, True, False]),
        )
        if rng.random() < 0.8:
            courtesy = rng.choice(
                [{}, {"polite_count": rng.randint(0, 2), "interruptions": rng.randint(0, 3)}]
            )
            session.add(
                CallMetrics(
                    call_id=call.id,
                    compliance=rng.choice([None, rng.random()]),
                    courtesy=courtesy,
                )
            )
    session.flush()


def _library_totals(session: Session, as_of: datetime) -> dict:
    """The scoring library's tallies over every stored call (the definition)."""
    calls = session.exec(select(Call)).all()
    contacts = [
        Contact(
            c.id,
            c.agent_id,
            c.started_at,
            c.customer_id,
            c.queue,
            c.reason,
            c.talk_seconds,
            c.hold_seconds,
            c.wrap_seconds,
            c.transfers,
            c.resolved,
        )
        for c in calls
    ]
    rules = FcrRules(queue_windows={q: timedelta(days=d) for q, (d, _, _) in QUEUES.items()})
    fcr = first_contact_resolution(contacts, as_of=as_of, rules=rules)
    bands = {q: HandleTarget(low, high) for q, (_, low, high) in QUEUES.items()}
    return monthly_tallies(contacts, fcr, tz=TZ, targets=bands)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_database_totals_equal_the_library(engine: Engine, seed: int) -> None:
    with session_scope(engine) as session:
        _world(session, seed)
    with Session(engine) as session:
        as_of = session.exec(select(sa.func.max(Call.started_at))).one()
        expected = {
            k: t
            for k, t in _library_totals(session, as_of).items()
            if k[1] in {str(m) for m in MONTHS}
        }
        tallies, quality = monthly_totals(session, MONTHS, TZ, as_of=as_of)
        assert set(tallies) == set(expected)
        for key, tally in tallies.items():
            want = expected[key]
            for name in (
                "contacts",
                "fcr_eligible",
                "fcr_resolved",
                "transfer_known",
                "transferred",
                "handle_n",
                "handle_banded",
                "handle_short",
                "handle_long",
                "declared_n",
                "declared_resolved",
            ):
                assert getattr(tally, name) == getattr(want, name), (key, name)
            assert tally.handle_sum == pytest.approx(want.handle_sum)
            assert tally.handle_sq_sum == pytest.approx(want.handle_sq_sum)
        rows = session.exec(select(Call, CallMetrics).join(CallMetrics)).all()
        for key, sums in quality.items():
            agent, month = key
            mine = [
                (c, m)
                for c, m in rows
                if c.agent_id == agent and str(Period.of(c.started_at, TZ)) == month
            ]
            scores = [courtesy_score(m.courtesy) for _, m in mine if m.courtesy]
            scores = [s for s in scores if s is not None]
            assert sums.courtesy_n == len(scores)
            assert sums.courtesy_sum == pytest.approx(sum(scores))
            compliance = [m.compliance for _, m in mine if m.compliance is not None]
            assert sums.compliance_n == len(compliance)
            assert sums.compliance_sum == pytest.approx(sum(compliance))


def test_cards_from_totals_equal_cards_from_calls(engine: Engine) -> None:
    """The two ways `compute_scorecards` answers (the database's totals; the calls read
    back for other FCR rules) give the same cards."""
    with session_scope(engine) as session:
        _world(session, 7)
    config = ScorecardConfig(min_contacts=3)
    request = ScorecardRequest("2026-03")
    with Session(engine) as session:
        fast = compute_scorecards(session, request, tz=TZ, config=config)
        as_of = session.exec(select(sa.func.max(Call.started_at))).one()
        bands = {q: HandleTarget(low, high) for q, (_, low, high) in QUEUES.items()}
        slow = _from_calls(
            session, request, TZ, [], ScorecardConfig(config.weights, 3, bands), {}, as_of
        )
    assert fast and [c.agent_id for c in fast] == [c.agent_id for c in slow]
    for a, b in zip(fast, slow, strict=True):
        assert (a.contacts, a.rank, a.enough_data) == (b.contacts, b.rank, b.enough_data)
        pairs = [*zip(a.metrics.as_dict().values(), b.metrics.as_dict().values(), strict=True)]
        pairs += [(a.handle_in_band, b.handle_in_band), (a.composite, b.composite)]
        for mine, theirs in pairs:
            assert mine.n == theirs.n
            assert mine.value == pytest.approx(theirs.value)
            assert mine.ci95 == (None if theirs.ci95 is None else pytest.approx(theirs.ci95))
        assert a.previous == pytest.approx(b.previous)


def _stale(engine: Engine) -> int:
    """How many stored flags a rebuild from scratch changes (rolled back)."""
    with engine.connect() as conn:
        changed = refresh_all(conn)
        conn.rollback()
    return changed


def _flags(engine: Engine) -> dict[str, bool | None]:
    with Session(engine) as session:
        return {c.id: c.repeat_contact for c in session.exec(select(Call))}


def test_flags_follow_orm_writes(engine: Engine) -> None:
    with session_scope(engine) as session:
        make_call(session, "x1", customer_id="k1", queue="tech", started_at=START)
        make_call(
            session, "x2", customer_id="k1", queue="tech", started_at=START + timedelta(days=7)
        )
        make_call(
            session, "x3", customer_id="k2", queue="tech", started_at=START + timedelta(days=8)
        )
        make_call(session, "x4", customer_id=None, queue="tech", started_at=START)
    # A repeat exactly at t + W counts ((t, t + W]); the unknown customer has no flag.
    assert _flags(engine) == {"x1": True, "x2": False, "x3": False, "x4": None}
    with session_scope(engine) as session:  # moved to another customer
        session.get(Call, "x2").customer_id = "k2"
    assert _flags(engine) == {"x1": False, "x2": True, "x3": False, "x4": None}
    with session_scope(engine) as session:  # moved in time, out of the window
        session.get(Call, "x3").started_at = START + timedelta(days=30)
    assert _flags(engine)["x2"] is False
    with session_scope(engine) as session:  # the queue's window made longer
        configure_queue(session, "tech", actor="t", fcr_window_days=30)
    assert _flags(engine) == {"x1": False, "x2": True, "x3": False, "x4": None}
    with session_scope(engine) as session:  # the customer removed, the repeat deleted
        session.get(Call, "x2").customer_id = None
        session.delete(session.get(Call, "x3"))
    assert _flags(engine) == {"x1": False, "x2": None, "x4": None}
    with session_scope(engine) as session:
        _world(session, 11)
    assert _stale(engine) == 0


def test_flags_follow_imports(engine: Engine) -> None:
    """The importers' Core writes refresh the customers they touch, old and new."""

    def record(call_id: str, customer: str, day: int) -> CallRecord:
        return CallRecord(
            {
                "id": call_id,
                "agent_id": "a1",
                "customer_id": customer,
                "queue": "q",
                "reason": None,
                "started_at": START + timedelta(days=day),
                "talk_seconds": 60.0,
                "hold_seconds": 0.0,
                "wrap_seconds": 5.0,
                "transfers": 0,
                "resolved": True,
                "audio_path": None,
                "agent_channel": None,
                "source": "test",
                "imported_at": START,
            }
        )

    with engine.begin() as conn:
        store_calls(
            conn, [record("i1", "客户甲", 0), record("i2", "客户甲", 2)], ImportReport("m.csv")
        )
    assert _flags(engine) == {"i1": True, "i2": False}
    with engine.begin() as conn:  # re-imported under another customer
        store_calls(conn, [record("i2", "客户乙", 2)], ImportReport("m.csv"))
    assert _flags(engine) == {"i1": False, "i2": False}
    assert _stale(engine) == 0
