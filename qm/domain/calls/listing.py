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
    key_point_options,
    matching_calls,
    missed_calls,
    searches_transcripts,
)
from qm.domain.calls.status import PipelineStatus, handle_time, status_expression
from qm.domain.calls.visibility import visible_conditions
from qm.models import (
    Agent,
    Call,
    CallMetrics,
    Customer,
    User,
)


@dataclass(frozen=True, slots=True)
class CallFilters:
    """What the call list is narrowed to; None means "any".

    `date_from` and `date_to` are calendar days in the site's time zone, both inclusive.
    `compliance_below` is a share in [0, 1]: calls with a computed compliance under it.
    `search` matches part of the call id, the customer id or the customer's name, or a
    line of the call's transcript (see `qm.domain.calls.search`).
    `missed` is a key point's item id: calls on which it was missed.
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
    key_points: list[KeyPointOption]


def _day_start(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def _conditions(filters: CallFilters, tz: tzinfo, status: Any, dialect: str) -> list[Any]:
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
    if filters.missed:
        where.append(col(Call.id).in_(missed_calls(filters.missed)))
    if filters.search and filters.search.strip():
        needle = filters.search.strip().lower()
        found = [
            sa.func.lower(col(Call.id)).contains(needle, autoescape=True),
            sa.func.lower(col(Call.customer_id)).contains(needle, autoescape=True),
            sa.func.lower(col(Customer.name)).contains(needle, autoescape=True),
        ]
        if searches_transcripts(filters.search):
            found.append(col(Call.id).in_(matching_calls(filters.search, dialect)))
        where.append(sa.or_(*found))
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
    status = status_expression().label("pipeline_status")
    dialect = session.get_bind().dialect.name
    where = visible_conditions(viewer) + _conditions(filters, tz, status.element, dialect)
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
    hits = (
        first_hits(session, call_ids=[row[0].id for row in rows], query=filters.search)
        if filters.search
        else {}
    )
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
            match=hits.get(call.id),
        )
        for call, agent, customer, metrics, pipeline_status in rows
    ]
    return Page(items=items, total=total, page=page, page_size=page_size)


def filter_options(session: Session, viewer: User) -> FilterOptions:
    """Agents, queues and reasons that occur in the calls `viewer` may see, and the
    scripts' key points."""
    where = visible_conditions(viewer)
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
        key_points=key_point_options(session),
    )
