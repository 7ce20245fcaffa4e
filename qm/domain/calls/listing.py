"""The filtered, paged call list and the choices of its filter form."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from math import ceil
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from qm.domain.bounds import MAX_PAGE
from qm.domain.calls.search import (
    KeyPointOption,
    SearchHit,
    first_hits,
    id_narrowing,
    key_point_options,
    missed_narrowing,
    searches_transcripts,
    transcript_narrowing,
)
from qm.domain.calls.status import (
    FINISHED,
    STAGE_ORDER,
    PipelineStatus,
    handle_time,
    status_expression,
)
from qm.domain.calls.visibility import visible_conditions
from qm.models import (
    Agent,
    Call,
    CallMetrics,
    CallStage,
    Customer,
    KeyPointResult,
    ResultKind,
    StageStatus,
    User,
)

# A list is counted up to here; past it the page says "1000+ calls" and pages on with
# "next" (benchmarks/web.py: an exact count read every matching call of 100,000).
COUNT_CAP = 1000


@dataclass(frozen=True, slots=True)
class CallFilters:
    """What the call list is narrowed to; None means "any".

    `date_from` and `date_to` are calendar days in the site's time zone, both inclusive.
    `compliance_below` is a share in [0, 1]: calls with a computed compliance under it.
    `search` matches the start of the call id or the customer id, part of the customer's
    name, or part of a line of the call's transcript (see `qm.domain.calls.search`).
    `missed` is a key point's item id: calls on which it was missed.
    `team` is a team id: calls of the agents now in that team (the dashboard's drill-down).
    `forbidden` is a forbidden phrase's item id: calls on which the agent said it.
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
    missed: str | None = None
    team: str | None = None
    forbidden: str | None = None


@dataclass(frozen=True, slots=True)
class CallRow:
    """One line of the call list; `match` is the transcript line `search` found, if any."""

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
    match: SearchHit | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of calls plus the total number matching the filters.

    `total_is_lower_bound`: the matches were not all counted (a search with many
    matches, checked call by call: see `qm.domain.calls.search`; or more than
    COUNT_CAP); `total` is then the number of calls known so far (up to the end of this
    page, or COUNT_CAP), and `more` says whether a next page has any.
    """

    items: list[CallRow]
    total: int
    page: int
    page_size: int
    total_is_lower_bound: bool = False
    more: bool = False

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
        if self.total_is_lower_bound:
            return self.more
        return self.page < self.pages


@dataclass(frozen=True, slots=True)
class FilterOptions:
    """The choices the filter form offers, limited to what the viewer may see."""

    agents: list[tuple[str, str]]
    queues: list[str]
    reasons: list[str]
    key_points: list[KeyPointOption]


def _day_start(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def _status_condition(status: PipelineStatus) -> Any:
    """Calls in `status`, as `status_expression` decides it, with fewer look-ups: the
    failed ones as one set read from the stages (they are few, and checking each call
    would read every call to find them), finished stages counted per call. A call whose
    every stage is finished cannot have a failed one."""
    stages = CallStage.__table__  # type: ignore[attr-defined]
    failed = sa.select(stages.c.call_id).where(stages.c.status == StageStatus.FAILED.value)
    finished = (
        sa.select(sa.func.count())
        .where(stages.c.call_id == col(Call.id), stages.c.status.in_(FINISHED))
        .scalar_subquery()
    )
    if status == PipelineStatus.FAILED:
        return col(Call.id).in_(failed)
    if status == PipelineStatus.DONE:
        return finished >= len(STAGE_ORDER)
    return sa.and_(col(Call.id).not_in(failed), finished < len(STAGE_ORDER))


def _conditions(session: Session, filters: CallFilters, tz: tzinfo) -> tuple[list[Any], bool]:
    """The WHERE conditions of `filters`, and whether some are checked call by call over
    many candidates (then the matches are not counted; see `qm.domain.calls.search`)."""
    where: list[Any] = []
    per_call = False
    if filters.agent:
        where.append(col(Call.agent_id) == filters.agent)
    if filters.team:
        team_agents = sa.select(col(Agent.id)).where(col(Agent.team_id) == filters.team)
        where.append(col(Call.agent_id).in_(team_agents.correlate(None)))
    if filters.forbidden:
        said = KeyPointResult.__table__.alias("said")  # type: ignore[attr-defined]
        where.append(
            sa.exists().where(
                said.c.call_id == col(Call.id),
                said.c.kind == ResultKind.FORBIDDEN.value,
                said.c.item_id == filters.forbidden,
                said.c.hit.is_(True),
            )
        )
    if filters.queue:
        where.append(col(Call.queue) == filters.queue)
    if filters.reason:
        where.append(col(Call.reason) == filters.reason)
    if filters.date_from:
        where.append(col(Call.started_at) >= _day_start(filters.date_from, tz))
    if filters.date_to:
        where.append(col(Call.started_at) < _day_start(filters.date_to + timedelta(days=1), tz))
    if filters.status:
        where.append(_status_condition(filters.status))
    if filters.compliance_below is not None:
        where.append(col(CallMetrics.compliance) < filters.compliance_below)
    if filters.critical_failed is not None:
        # The call's copy of the flag: its partial indexes find the rare critical misses.
        flag = sa.true() if filters.critical_failed else sa.false()
        where.append(col(Call.critical_failed) == flag)
    if filters.missed:
        missed = missed_narrowing(filters.missed)
        where.append(missed.condition)
        per_call = missed.per_call
    if filters.search and filters.search.strip():
        found = [id_narrowing(session, filters.search)]
        if searches_transcripts(filters.search):
            found.append(transcript_narrowing(session, filters.search))
        where.append(sa.or_(*(n.condition for n in found)))
        per_call = per_call or any(n.per_call for n in found)
    return where, per_call


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
    offset = (page - 1) * page_size
    conditions, per_call = _conditions(session, filters, tz)
    where = visible_conditions(viewer) + conditions
    matching = sa.outerjoin(Call, CallMetrics, col(CallMetrics.call_id) == col(Call.id))
    ids_query = sa.select(col(Call.id)).select_from(matching).where(*where)
    # Counting every match of a condition checked call by call would read them all:
    # then the list is not counted, and one call more than the page tells whether
    # there is a next page. Other lists are counted up to COUNT_CAP: past it the
    # exact number tells a reviewer nothing and costs a read of every matching call.
    total = 0 if per_call else _count(session, filters, where, limit=COUNT_CAP + 1)
    uncounted = per_call or total > COUNT_CAP
    wanted = page_size + 1 if uncounted else page_size
    # Calls still waiting for results (or with none to give: no transcript) would bury
    # the reviewed ones at the top of a list that is mostly read for its results. The
    # two parts are read apart, each newest first, so that the database walks the
    # started_at index and stops at the page instead of sorting every matching call.
    has_results = col(CallMetrics.compliance).is_not(None)
    newest = (col(Call.started_at).desc(), col(Call.id).desc())
    ids: list[str] = list(
        session.execute(ids_query.where(has_results).order_by(*newest).limit(wanted).offset(offset))
        .scalars()
        .all()
    )
    if len(ids) < wanted and (uncounted or offset + len(ids) < total):
        # Where the part with results ends: right after this page's share of it, or, when
        # the page lies past it, wherever a count says.
        with_results = (
            offset + len(ids)
            if ids
            else session.execute(
                sa.select(sa.func.count()).select_from(ids_query.where(has_results).subquery())
            ).scalar_one()
        )
        ids += (
            session.execute(
                ids_query.where(~has_results)
                .order_by(*newest)
                .limit(wanted - len(ids))
                .offset(max(0, offset - with_results))
            )
            .scalars()
            .all()
        )
    more = len(ids) > page_size
    ids = ids[:page_size]
    if uncounted:
        # A capped count still knows there are more than COUNT_CAP.
        total = max(offset + len(ids), 0 if per_call else COUNT_CAP)
    rows = {
        row[0].id: row
        for row in session.execute(
            sa.select(Call, Agent, Customer, CallMetrics, status_expression())
            .join(Agent, col(Agent.id) == col(Call.agent_id), isouter=True)
            .join(Customer, col(Customer.id) == col(Call.customer_id), isouter=True)
            .join(CallMetrics, col(CallMetrics.call_id) == col(Call.id), isouter=True)
            .where(col(Call.id).in_(ids))
        ).all()
    }
    hits = first_hits(session, call_ids=ids, query=filters.search) if filters.search else {}
    items = []
    for call_id in ids:
        call, agent, customer, metrics, pipeline_status = rows[call_id]
        items.append(
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
                match=hits.get(call.id),
            )
        )
    return Page(
        items=items,
        total=total,
        page=page,
        page_size=page_size,
        # Without a next page, the calls up to here are all of them (unless the page
        # lies past the end, where nothing says how far).
        total_is_lower_bound=uncounted and (more or not (ids or page == 1)),
        more=more,
    )


def _count(session: Session, filters: CallFilters, where: list[Any], *, limit: int) -> int:
    """How many calls match `where`, up to `limit` (the database stops there), joining
    the metrics only when a filter reads them."""
    matches = sa.select(sa.literal(1)).select_from(Call)
    if filters.compliance_below is not None:
        matches = matches.outerjoin(CallMetrics, col(CallMetrics.call_id) == col(Call.id))
    counted = sa.select(sa.func.count()).select_from(matches.where(*where).limit(limit).subquery())
    return int(session.execute(counted).scalar_one())


def _distinct_by_seeks(session: Session, column: Any) -> list[str]:
    """The distinct non-null values of an indexed column, in order, by one index seek per
    value (a "loose index scan" as a recursive query): a DISTINCT reads every entry of the
    index, 10-20 ms at 100,000 calls on every call-list page (benchmarks/web.py), while a
    site has a handful of queues and reasons."""
    first = sa.select(sa.func.min(column)).where(column.is_not(None)).scalar_subquery()
    seen = sa.select(first.label("value")).cte("seen", recursive=True)
    after = sa.select(sa.func.min(column)).where(column > seen.c.value).scalar_subquery()
    seen = seen.union_all(sa.select(after).where(seen.c.value.is_not(None)))
    query = sa.select(seen.c.value).where(seen.c.value.is_not(None))
    return [str(v) for v in session.execute(query).scalars()]


def filter_options(session: Session, viewer: User) -> FilterOptions:
    """Agents, queues and reasons that occur in the calls `viewer` may see, and the
    scripts' key points."""
    where = visible_conditions(viewer)
    agents = session.execute(
        sa.select(col(Agent.id), col(Agent.name))
        # One look-up per agent in the (agent, started_at) index, rather than reading
        # the agent of every call.
        .where(sa.exists().where(col(Call.agent_id) == col(Agent.id), *where))
        .order_by(col(Agent.name), col(Agent.id))
    ).all()

    def distinct(column: Any) -> list[str]:
        if not where:
            return _distinct_by_seeks(session, column)
        query = sa.select(column).where(column.is_not(None), *where).distinct().order_by(column)
        return [str(v) for v in session.execute(query).scalars()]

    return FilterOptions(
        agents=[(a_id, name) for a_id, name in agents],
        queues=distinct(col(Call.queue)),
        reasons=distinct(col(Call.reason)),
        key_points=key_point_options(session),
    )
