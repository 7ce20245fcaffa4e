"""Reading calls: the filtered, paged call list and everything the call page shows.

Visibility is decided here, not in the web layer: an agent-role viewer only ever sees
their own agent's calls, whatever the filters say. A call the viewer may not see is
reported exactly as a call that does not exist (`NotFound`, same message), so that its
existence is not revealed either.
"""

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from math import ceil
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from qm.domain.bounds import MAX_CALL_ID, MAX_PAGE, control_character
from qm.domain.store import current_transcript, transcript_segments
from qm.errors import NotFound
from qm.models import (
    Agent,
    AsrAccuracy,
    Call,
    CallMetrics,
    CallStage,
    Customer,
    KeyPointResult,
    ResultKind,
    Role,
    Stage,
    StageStatus,
    Transcript,
    User,
)

STAGE_ORDER = (Stage.TRANSCRIBE, Stage.KEYPOINTS, Stage.METRICS)
FINISHED = (StageStatus.DONE.value, StageStatus.SKIPPED.value)


class PipelineStatus(StrEnum):
    """Where a call stands in the pipeline as a whole."""

    PENDING = "pending"  # some stage has not run yet
    DONE = "done"  # every stage is done or skipped
    FAILED = "failed"  # some stage failed (and waits for a retry)


@dataclass(frozen=True, slots=True)
class CallFilters:
    """What the call list is narrowed to; None means "any".

    `date_from` and `date_to` are calendar days in the site's time zone, both inclusive.
    `compliance_below` is a share in [0, 1]: calls with a computed compliance under it.
    `search` matches part of the call id, the customer id or the customer's name.
    """

    agent: str | None = None
    queue: str | None = None
    reason: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    status: PipelineStatus | None = None
    compliance_below: float | None = None
    critical_failed: bool | None = None
    search: str | None = None


@dataclass(frozen=True, slots=True)
class CallRow:
    """One line of the call list."""

    call_id: str
    started_at: datetime
    agent_id: str
    agent_name: str
    customer_id: str | None
    customer_name: str | None
    queue: str | None
    reason: str | None
    handle_seconds: float | None
    transfers: int | None
    compliance: float | None
    critical_failed: bool | None
    status: PipelineStatus


@dataclass(frozen=True, slots=True)
class Page:
    """One page of calls plus the total number matching the filters."""

    items: list[CallRow]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least 1, so "page 1 of 1" reads right when empty)."""
        return max(1, ceil(self.total / self.page_size))

    @property
    def has_previous(self) -> bool:
        """True when there is a page before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """True when there is a page after this one."""
        return self.page < self.pages


@dataclass(frozen=True, slots=True)
class FilterOptions:
    """The choices the filter form offers, limited to what the viewer may see."""

    agents: list[tuple[str, str]]
    queues: list[str]
    reasons: list[str]


@dataclass(frozen=True, slots=True)
class SegmentView:
    """One utterance, with an anchor id and the checks whose evidence lies in it."""

    position: int
    anchor: str
    speaker: str
    start: float
    end: float
    text: str
    marks: list[KeyPointResult] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ResultView:
    """A key-point or forbidden-phrase result, linked to the segment holding its evidence."""

    result: KeyPointResult
    anchor: str | None

    @property
    def outcome(self) -> str:
        """Key points: hit, miss or uncertain. Forbidden phrases: found, absent or uncertain."""
        if self.result.uncertain:
            return "uncertain"
        if self.result.kind == ResultKind.FORBIDDEN:
            return "found" if self.result.hit else "absent"
        return "hit" if self.result.hit else "miss"


@dataclass(frozen=True, slots=True)
class StageView:
    """One pipeline stage of one call; `status` is "pending" when it has not run."""

    stage: str
    status: str
    detail: str
    attempts: int
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class CallDetail:
    """Everything the call page shows."""

    call: Call
    agent: Agent | None
    customer: Customer | None
    handle_seconds: float | None
    metrics: CallMetrics | None
    transcript: Transcript | None
    segments: list[SegmentView]
    # The engine's measured accuracy, once a reviewer has corrected its transcript.
    asr_accuracy: list[AsrAccuracy]
    key_points: list[ResultView]
    forbidden: list[ResultView]
    stages: list[StageView]
    status: PipelineStatus


def handle_time(call: Call, metrics: CallMetrics | None) -> float | None:
    """Talk + hold + wrap seconds; the stored metric when the pipeline computed one.

    Before the metrics stage has run the sum is taken from the call itself, and stays
    unknown when any part is unknown (an empty manifest cell is not zero). A sum that is
    not finite (rows stored before imports bounded each part to a day) is unknown too,
    rather than an infinity no page can show.
    """
    if metrics is not None and metrics.handle_seconds is not None:
        total = metrics.handle_seconds
    else:
        parts = (call.talk_seconds, call.hold_seconds, call.wrap_seconds)
        if any(p is None for p in parts):
            return None
        total = sum(p for p in parts if p is not None)
    return total if math.isfinite(total) else None


def _status_expression() -> Any:
    failed = (
        sa.select(sa.func.count())
        .select_from(CallStage)
        .where(
            col(CallStage.call_id) == col(Call.id),
            col(CallStage.status) == StageStatus.FAILED.value,
        )
        .scalar_subquery()
    )
    finished = (
        sa.select(sa.func.count())
        .select_from(CallStage)
        .where(col(CallStage.call_id) == col(Call.id), col(CallStage.status).in_(FINISHED))
        .scalar_subquery()
    )
    return sa.case(
        (failed > 0, PipelineStatus.FAILED.value),
        (finished >= len(STAGE_ORDER), PipelineStatus.DONE.value),
        else_=PipelineStatus.PENDING.value,
    )


def _day_start(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def _may_see(viewer: User, call: Call) -> bool:
    """The row-level form of `_visible`, for a call already loaded."""
    if viewer.role == Role.AGENT:
        return viewer.agent_id is not None and call.agent_id == viewer.agent_id
    return True


def _visible(viewer: User) -> list[Any]:
    """Conditions limiting calls to what `viewer` may see."""
    if viewer.role == Role.AGENT:
        # An agent account not linked to an agent sees nothing rather than everything.
        return [col(Call.agent_id) == viewer.agent_id] if viewer.agent_id else [sa.false()]
    return []


def _conditions(filters: CallFilters, tz: tzinfo, status: Any) -> list[Any]:
    where: list[Any] = []
    if filters.agent:
        where.append(col(Call.agent_id) == filters.agent)
    if filters.queue:
        where.append(col(Call.queue) == filters.queue)
    if filters.reason:
        where.append(col(Call.reason) == filters.reason)
    if filters.date_from:
        where.append(col(Call.started_at) >= _day_start(filters.date_from, tz))
    if filters.date_to:
        where.append(col(Call.started_at) < _day_start(filters.date_to + timedelta(days=1), tz))
    if filters.status:
        where.append(status == filters.status.value)
    if filters.compliance_below is not None:
        where.append(col(CallMetrics.compliance) < filters.compliance_below)
    if filters.critical_failed is not None:
        where.append(col(CallMetrics.critical_failed) == filters.critical_failed)
    if filters.search and filters.search.strip():
        needle = filters.search.strip().lower()
        where.append(
            sa.or_(
                sa.func.lower(col(Call.id)).contains(needle, autoescape=True),
                sa.func.lower(col(Call.customer_id)).contains(needle, autoescape=True),
                sa.func.lower(col(Customer.name)).contains(needle, autoescape=True),
            )
        )
    return where


def list_calls(
    session: Session,
    *,
    filters: CallFilters,
    page: int,
    page_size: int,
    viewer: User,
    tz: tzinfo = UTC,
) -> Page:
    """One page of the calls `viewer` may see that match `filters`: the calls with
    results (a checked script) newest first, then those without, newest first.

    Args:
        session: an open database session.
        filters: what to narrow the list to.
        page: 1-based page number, at most `bounds.MAX_PAGE`; pages past the end come
            back empty.
        page_size: calls per page (at least 1).
        viewer: the signed-in user; an agent sees only their own agent's calls.
        tz: the site's time zone, in which `filters.date_from`/`date_to` are days; the
            days must lie within `bounds.EARLIEST_DAY`..`LATEST_DAY` (the web layer's
            `parse_call_query` checks this), so that turning them into instants never
            overflows.
    """
    # The bound keeps the offset far inside a 64-bit integer whatever the page size.
    page = min(max(1, page), MAX_PAGE)
    page_size = max(1, page_size)
    status = _status_expression().label("pipeline_status")
    where = _visible(viewer) + _conditions(filters, tz, status.element)
    joined = (
        sa.select(Call, Agent, Customer, CallMetrics, status)
        .join(Agent, col(Agent.id) == col(Call.agent_id), isouter=True)
        .join(Customer, col(Customer.id) == col(Call.customer_id), isouter=True)
        .join(CallMetrics, col(CallMetrics.call_id) == col(Call.id), isouter=True)
        .where(*where)
    )
    total = session.execute(
        sa.select(sa.func.count()).select_from(joined.with_only_columns(col(Call.id)).subquery())
    ).scalar_one()
    # Calls still waiting for results (or with none to give: no transcript) would bury
    # the reviewed ones at the top of a list that is mostly read for its results.
    without_results = sa.case((col(CallMetrics.compliance).is_(None), 1), else_=0)
    rows = session.execute(
        joined.order_by(without_results, col(Call.started_at).desc(), col(Call.id).desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    items = [
        CallRow(
            call_id=call.id,
            started_at=call.started_at,
            agent_id=call.agent_id,
            agent_name=agent.name if agent else call.agent_id,
            customer_id=call.customer_id,
            customer_name=customer.name if customer else None,
            queue=call.queue,
            reason=call.reason,
            handle_seconds=handle_time(call, metrics),
            transfers=call.transfers,
            compliance=metrics.compliance if metrics else None,
            critical_failed=metrics.critical_failed if metrics else None,
            status=PipelineStatus(pipeline_status),
        )
        for call, agent, customer, metrics, pipeline_status in rows
    ]
    return Page(items=items, total=total, page=page, page_size=page_size)


def filter_options(session: Session, viewer: User) -> FilterOptions:
    """Agents, queues and reasons that occur in the calls `viewer` may see."""
    where = _visible(viewer)
    agents = session.execute(
        sa.select(col(Agent.id), col(Agent.name))
        .where(col(Agent.id).in_(sa.select(col(Call.agent_id)).where(*where)))
        .order_by(col(Agent.name), col(Agent.id))
    ).all()

    def distinct(column: Any) -> list[str]:
        query = sa.select(column).where(column.is_not(None), *where).distinct().order_by(column)
        return [str(v) for v in session.execute(query).scalars()]

    return FilterOptions(
        agents=[(a_id, name) for a_id, name in agents],
        queues=distinct(col(Call.queue)),
        reasons=distinct(col(Call.reason)),
    )


def _find_anchor(segments: list[SegmentView], result: KeyPointResult) -> str | None:
    """The segment holding `result`'s evidence: the one spanning its start time.

    Prefers a segment of the result's speaker, since stereo channels overlap in time.
    """
    if result.start is None or not segments:
        return None
    spanning = [s for s in segments if s.start - 0.05 <= result.start <= s.end + 0.05]
    same_speaker = [s for s in spanning if s.speaker == result.speaker]
    for candidates in (same_speaker, spanning):
        if candidates:
            return candidates[0].anchor
    # No segment spans it (times rounded differently): the last one starting before it.
    earlier = [s for s in segments if s.start <= result.start]
    for candidates in ([s for s in earlier if s.speaker == result.speaker], earlier):
        if candidates:
            return candidates[-1].anchor
    return segments[0].anchor


def _stages(session: Session, call_id: str) -> tuple[list[StageView], PipelineStatus]:
    rows = {
        r.stage: r
        for r in session.exec(select(CallStage).where(col(CallStage.call_id) == call_id)).all()
    }
    views = []
    for stage in STAGE_ORDER:
        row = rows.get(stage)
        if row is None:
            views.append(StageView(stage.value, "pending", "", 0, None))
        else:
            views.append(
                StageView(stage.value, str(row.status), row.detail, row.attempts, row.updated_at)
            )
    statuses = [v.status for v in views]
    if StageStatus.FAILED.value in statuses:
        return views, PipelineStatus.FAILED
    if all(s in FINISHED for s in statuses):
        return views, PipelineStatus.DONE
    return views, PipelineStatus.PENDING


def visible_call(session: Session, call_id: str, viewer: User) -> Call:
    """The call with this id, when `viewer` may see it.

    Raises:
        NotFound: no call has this id, or `viewer` may not see it (the same error, so
            that a hidden call cannot be told from a missing one).
    """
    # An id no call can have (too long for the column, control characters that
    # PostgreSQL would refuse) is simply not found, without asking the database.
    plausible = len(call_id) <= MAX_CALL_ID and control_character(call_id) is None
    call = session.get(Call, call_id) if plausible else None
    if call is None or not _may_see(viewer, call):
        raise NotFound(f"no call with id {call_id!r}" if plausible else "no call with this id")
    return call


def get_call_detail(session: Session, call_id: str, viewer: User) -> CallDetail:
    """The call with its people, transcript, check results, metrics and pipeline stages.

    Raises:
        NotFound: no call has this id, or `viewer` may not see it (the same error, so
            that a hidden call cannot be told from a missing one).
    """
    call = visible_call(session, call_id, viewer)
    transcript = current_transcript(session, call_id)
    segments: list[SegmentView] = []
    if transcript is not None:
        segments = [
            SegmentView(s.position, f"seg-{s.position}", s.speaker, s.start, s.end, s.text)
            for s in transcript_segments(session, transcript.id)
        ]
    results = session.exec(
        select(KeyPointResult)
        .where(col(KeyPointResult.call_id) == call_id)
        .order_by(col(KeyPointResult.id))
    ).all()
    views = [ResultView(r, _find_anchor(segments, r)) for r in results]
    by_anchor = {s.anchor: s for s in segments}
    for view in views:
        # Only evidence that was actually found is marked in the transcript.
        if view.anchor and view.result.hit:
            by_anchor[view.anchor].marks.append(view.result)
    metrics = session.get(CallMetrics, call_id)
    stages, status = _stages(session, call_id)
    return CallDetail(
        call=call,
        agent=session.get(Agent, call.agent_id),
        customer=session.get(Customer, call.customer_id) if call.customer_id else None,
        handle_seconds=handle_time(call, metrics),
        metrics=metrics,
        transcript=transcript,
        segments=segments,
        asr_accuracy=list(
            session.exec(
                select(AsrAccuracy)
                .where(col(AsrAccuracy.call_id) == call_id)
                .order_by(col(AsrAccuracy.measured_at))
            ).all()
        ),
        key_points=[v for v in views if v.result.kind != ResultKind.FORBIDDEN],
        forbidden=[v for v in views if v.result.kind == ResultKind.FORBIDDEN],
        stages=stages,
        status=status,
    )
