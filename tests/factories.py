"""Small builders for test data. Each takes an open session, adds rows and flushes.

Defaults make a plausible call; pass only what a test is about.
"""

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from qm.domain.users import create_user
from qm.models import (
    Agent,
    Call,
    CallMetrics,
    CallStage,
    Customer,
    KeyPointResult,
    Queue,
    Role,
    Script,
    Segment,
    Stage,
    StageStatus,
    Transcript,
    TranscriptKind,
    User,
)

PASSWORD = "correct-horse-1"
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def make_agent(session: Session, agent_id: str = "a-1", name: str | None = None) -> Agent:
    """An agent (name defaults to the id, as an import would make it)."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        agent = Agent(id=agent_id, name=name or agent_id)
        session.add(agent)
        session.flush()
    return agent


def make_customer(session: Session, customer_id: str, name: str | None = None) -> Customer:
    """A customer (name defaults to the id)."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        customer = Customer(id=customer_id, name=name or customer_id)
        session.add(customer)
        session.flush()
    return customer


def make_queue(session: Session, queue_id: str) -> Queue:
    """A queue with default parameters."""
    queue = session.get(Queue, queue_id)
    if queue is None:
        queue = Queue(id=queue_id)
        session.add(queue)
        session.flush()
    return queue


def make_call(
    session: Session,
    call_id: str = "c-1",
    *,
    agent_id: str = "a-1",
    customer_id: str | None = "k-1",
    queue: str | None = "billing",
    reason: str | None = "balance",
    started_at: datetime = T0,
    talk_seconds: float | None = 240.0,
    hold_seconds: float | None = 30.0,
    wrap_seconds: float | None = 37.0,
    transfers: int | None = 0,
    resolved: bool | None = True,
) -> Call:
    """A call, creating its agent, customer and queue when they do not exist yet."""
    make_agent(session, agent_id)
    if customer_id:
        make_customer(session, customer_id)
    if queue:
        make_queue(session, queue)
    call = Call(
        id=call_id,
        agent_id=agent_id,
        customer_id=customer_id,
        queue=queue,
        reason=reason,
        started_at=started_at,
        talk_seconds=talk_seconds,
        hold_seconds=hold_seconds,
        wrap_seconds=wrap_seconds,
        transfers=transfers,
        resolved=resolved,
    )
    session.add(call)
    session.flush()
    return call


def make_transcript(
    session: Session,
    call_id: str,
    segments: list[tuple[str, float, float, str]],
    *,
    language: str = "en",
    kind: str = "original",
) -> Transcript:
    """A transcript from `(speaker, start, end, text)` tuples, in order."""
    transcript = Transcript(
        call_id=call_id,
        kind=TranscriptKind(kind),
        language=language,
        duration=max((end for _, _, end, _ in segments), default=0.0),
    )
    session.add(transcript)
    session.flush()
    for position, (speaker, start, end, text) in enumerate(segments):
        session.add(
            Segment(
                transcript_id=transcript.id or 0,
                position=position,
                speaker=speaker,
                start=start,
                end=end,
                text=text,
            )
        )
    session.flush()
    return transcript


def make_script(session: Session, key: str = "billing-inbound") -> Script:
    """A minimal stored script (results refer to one)."""
    script = session.exec(select(Script).where(Script.key == key)).first()
    if script is None:
        script = Script(
            key=key,
            version=1,
            name="Billing inquiry",
            language="en",
            body={"id": key, "name": "Billing inquiry", "key_points": [], "forbidden": []},
        )
        session.add(script)
        session.flush()
    return script


def make_results(
    session: Session, call_id: str, items: list[dict[str, Any]]
) -> list[KeyPointResult]:
    """Key-point / forbidden results; each item gives at least `item_id` and `hit`."""
    script = make_script(session)
    rows = []
    for item in items:
        values: dict[str, Any] = {"kind": "key_point", "label": item["item_id"], **item}
        row = KeyPointResult(call_id=call_id, script_id=script.id or 0, **values)
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def make_metrics(session: Session, call_id: str, **values: Any) -> CallMetrics:
    """The call's metrics row (and the call's copy of `critical_failed`, as the key-point
    stage writes both)."""
    metrics = CallMetrics(call_id=call_id, **values)
    session.add(metrics)
    if "critical_failed" in values:
        call = session.get(Call, call_id)
        if call is not None:
            call.critical_failed = values["critical_failed"]
            session.add(call)
    session.flush()
    return metrics


def make_stage(
    session: Session, call_id: str, stage: Stage, status: StageStatus, detail: str = ""
) -> CallStage:
    """One pipeline stage outcome."""
    row = CallStage(call_id=call_id, stage=stage, status=status, detail=detail)
    session.add(row)
    session.flush()
    return row


def make_done(session: Session, call_id: str) -> None:
    """Mark every pipeline stage of the call done."""
    for stage in Stage:
        make_stage(session, call_id, stage, StageStatus.DONE)


def make_user(
    session: Session,
    username: str,
    role: Role = Role.REVIEWER,
    *,
    agent_id: str | None = None,
    password: str = PASSWORD,
) -> User:
    """A user with `password` (agent users get their agent created)."""
    if agent_id:
        make_agent(session, agent_id)
    return create_user(session, username=username, password=password, role=role, agent_id=agent_id)
