"""Builders for the review-queue tests: calls whose pipeline is done, with metrics that
make each targeted reason hold (or none of them)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from qm.domain.evaluations.forms import assign_form, load_form_file
from qm.domain.users import create_user
from qm.models import Call, Role, TargetReason, User
from scoring.period import Period
from tests.factories import PASSWORD, make_call, make_done, make_metrics, make_queue, make_results

FORMS = Path(__file__).resolve().parent.parent / "evaluations" / "forms"
MARCH = Period(2024, 3)
MARCH_1 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
TODAY = datetime(2024, 4, 2, tzinfo=UTC).date()
# Courtesy that passes every check (score 1.0): no courtesy reason holds.
GOOD_COURTESY: dict[str, Any] = {
    "polite_count": 2,
    "empathy_count": 1,
    "forbidden_count": 0,
    "forbidden_phrases": [],
    "interruptions": 0,
    "long_silences": 0,
}


def user(
    session: Session, name: str, role: Role = Role.REVIEWER, *, teams: tuple[str, ...] = ()
) -> User:
    """A user (a manager of `teams`)."""
    return create_user(session, username=name, password=PASSWORD, role=role, team_ids=teams)


def veteran(session: Session, agent_id: str) -> None:
    """Give the agent a call long before March, so that it is not a new agent."""
    make_call(
        session,
        f"old-{agent_id}",
        agent_id=agent_id,
        customer_id=None,
        started_at=datetime(2023, 1, 5, 9, 0, tzinfo=UTC),
    )


def done_call(
    session: Session,
    call_id: str,
    *,
    agent_id: str = "a-1",
    day: int = 1,
    customer_id: str | None = None,
    queue: str = "billing",
    transfers: int = 0,
    **metrics: Any,
) -> Call:
    """A March call whose pipeline is done, with plain metrics unless told otherwise."""
    call = make_call(
        session,
        call_id,
        agent_id=agent_id,
        customer_id=customer_id,
        queue=queue,
        started_at=MARCH_1 + timedelta(days=day - 1),
        transfers=transfers,
    )
    make_done(session, call_id)
    values: dict[str, Any] = {
        "handle_seconds": 307.0,
        "transferred": transfers > 0,
        "compliance": 1.0,
        "critical_failed": False,
        "uncertain_items": 0,
        "courtesy": dict(GOOD_COURTESY),
    }
    make_metrics(session, call_id, **(values | metrics))
    return call


def reason_call(session: Session, reason: TargetReason, call_id: str, agent_id: str) -> None:
    """A call for which exactly `reason` holds (the agent's other calls hold none)."""
    if reason == TargetReason.CRITICAL_MISS:
        done_call(session, call_id, agent_id=agent_id, critical_failed=True, compliance=0.0)
        make_results(
            session,
            call_id,
            [{"item_id": "verify", "hit": False, "critical": True}],
        )
    elif reason == TargetReason.UNCERTAIN:
        done_call(session, call_id, agent_id=agent_id, uncertain_items=2)
    elif reason == TargetReason.FORBIDDEN_PHRASE:
        courtesy = GOOD_COURTESY | {"forbidden_count": 1, "forbidden_phrases": ["calm down"]}
        # Three of four checks pass: 75%, above the low-courtesy threshold.
        done_call(session, call_id, agent_id=agent_id, courtesy=courtesy)
    elif reason == TargetReason.LOW_COURTESY:
        courtesy = GOOD_COURTESY | {"polite_count": 0, "interruptions": 4, "long_silences": 2}
        done_call(session, call_id, agent_id=agent_id, courtesy=courtesy)
    elif reason == TargetReason.HANDLE_TIME:
        queue = make_queue(session, "fast")
        queue.aht_min_seconds, queue.aht_max_seconds = 120.0, 600.0
        session.add(queue)
        done_call(session, call_id, agent_id=agent_id, queue="fast", handle_seconds=45.0)
        done_call(session, f"{call_id}-ok", agent_id=agent_id, queue="fast", day=2)
    elif reason == TargetReason.TRANSFER:
        done_call(session, call_id, agent_id=agent_id, transfers=1)
    elif reason == TargetReason.REPEAT_CONTACT:
        done_call(session, call_id, agent_id=agent_id, customer_id="k-9", day=3)
        # The customer calls again two days later (and not after that).
        done_call(session, f"{call_id}-again", agent_id=agent_id, customer_id="k-9", day=5)
    elif reason == TargetReason.NEW_AGENT:
        done_call(session, call_id, agent_id=agent_id, day=20)
        return  # no veteran call: this agent started in March
    veteran(session, agent_id)


def bank_form(session: Session, queue: str = "billing") -> None:
    """The bank-standard evaluation form, assigned to `queue`."""
    make_queue(session, queue)
    load_form_file(session, FORMS / "bank-standard.yaml", actor="admin")
    assign_form(session, "bank-standard", queue=queue, actor="admin")
