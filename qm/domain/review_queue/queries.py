"""Reading the review queue: filtered, paged rows and each reviewer's workload.

Who sees what: reviewers and admins every pick, managers the picks of their teams'
agents; agents none (the queue is QA's work list). The query parameters of the page and
of `GET /api/review-queue` are parsed here (`parse_queue_query`), each refused with a
ValidationFailed naming the parameter:

| parameter  | meaning                                                            |
|------------|--------------------------------------------------------------------|
| `reason`   | `random`, or a targeted reason (`critical-miss`, ...)              |
| `agent`    | agent id                                                           |
| `queue`    | queue id                                                           |
| `due`      | `overdue` (unfinished, due before today), `today`, `week` (7 days) |
| `state`    | `open`, `in_progress`, `done`, `skipped`                           |
| `reviewer` | a user id, `me`, `all`, or `none` (unassigned)                     |
| `period`   | the month sampled, YYYY-MM                                         |
| `page`     | 1-based page number                                                |
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from qm.domain.bounds import MAX_AGENT_ID, MAX_PAGE, MAX_QUEUE_ID, text_problem
from qm.domain.evaluations.queries import managed_teams
from qm.domain.review_queue.states import UNFINISHED, state_expression
from qm.errors import Forbidden, ValidationFailed
from qm.i18n import N_, gettext
from qm.models import (
    Agent,
    Call,
    Evaluation,
    PickState,
    ReviewPick,
    Role,
    TargetReason,
    User,
)
from qm.models.review import RANDOM_SAMPLE
from scoring.period import Period

REVIEWING_ROLES = (Role.REVIEWER, Role.MANAGER, Role.ADMIN)
WHERE = "review queue"
QUERY_KEYS = ("reason", "agent", "queue", "due", "state", "reviewer", "period", "page")
ONLY_REVIEWERS = N_("the review queue is for reviewers, managers and admins")


class DueFilter(StrEnum):
    """Which due dates to show."""

    OVERDUE = "overdue"  # unfinished and due before today
    TODAY = "today"
    WEEK = "week"  # due from today to six days on


# `reviewer` values besides a user id.
ALL = "all"
ME = "me"
NOBODY = "none"


@dataclass(frozen=True, slots=True)
class QueueQuery:
    """The queue's filters, checked. `reviewer`: a user id, ALL, or NOBODY."""

    reason: str | None = None
    agent: str | None = None
    queue: str | None = None
    due: DueFilter | None = None
    state: PickState | None = None
    reviewer: int | str = ALL
    period: str | None = None
    page: int = 1

    def values(self) -> dict[str, str]:
        """The filters as query-string values (for forms and paging links)."""
        given: dict[str, Any] = {
            "reason": self.reason,
            "agent": self.agent,
            "queue": self.queue,
            "due": self.due,
            "state": self.state,
            "reviewer": self.reviewer,
            "period": self.period,
        }
        return {k: str(v) for k, v in given.items() if v is not None}


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One pick as the queue lists it."""

    pick_id: int
    call_id: str
    period: str
    agent_id: str
    agent_name: str
    queue: str | None
    started_at: datetime
    sample: str
    reasons: tuple[str, ...]
    detail: str
    reviewer_id: int | None
    reviewer: str | None  # display name, else username
    due: date
    overdue: bool
    state: PickState
    evaluation_id: int | None


@dataclass(frozen=True, slots=True)
class QueuePage:
    """One page of queue rows."""

    items: tuple[QueueRow, ...]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least one)."""
        return max(1, math.ceil(self.total / self.page_size))


@dataclass(frozen=True, slots=True)
class Workload:
    """One reviewer's picks: assigned (not skipped), done, still open, overdue."""

    reviewer_id: int
    reviewer: str
    assigned: int
    done: int
    open: int
    overdue: int


def _bad(parameter: str, message: str) -> ValidationFailed:
    return ValidationFailed(WHERE, None, parameter, message)


def _text(params: Mapping[str, str], key: str, limit: int) -> str | None:
    value = (params.get(key) or "").strip()
    if not value:
        return None
    problem = text_problem(value, limit)
    if problem is not None:
        raise _bad(key, problem)
    return value


def parse_period(text: str, parameter: str = "period") -> Period:
    """A month written YYYY-MM, or ValidationFailed naming `parameter`."""
    try:
        return Period.parse(text.strip())
    except ValueError as exc:
        raise _bad(parameter, str(exc)) from None


def _choice(params: Mapping[str, str], key: str, options: list[str]) -> str | None:
    value = (params.get(key) or "").strip()
    if not value:
        return None
    if value not in options:
        raise _bad(key, f"expected one of {', '.join(options)}")
    return value


def parse_queue_query(params: Mapping[str, str], *, viewer: User) -> QueueQuery:
    """The queue's filters from query parameters (empty means any).

    A reviewer's queue shows their own picks unless `reviewer` says otherwise; managers
    and admins see everyone's by default.

    Raises:
        ValidationFailed: naming the parameter and what is wrong with it.
    """
    reasons = [RANDOM_SAMPLE, *(r.value for r in TargetReason)]
    reason = _choice(params, "reason", reasons)
    due = _choice(params, "due", [d.value for d in DueFilter])
    state = _choice(params, "state", [s.value for s in PickState])
    raw_reviewer = (params.get("reviewer") or "").strip()
    reviewer: int | str
    if not raw_reviewer:
        reviewer = (viewer.id or 0) if viewer.role == Role.REVIEWER else ALL
    elif raw_reviewer == ME:
        reviewer = viewer.id or 0
    elif raw_reviewer in (ALL, NOBODY):
        reviewer = raw_reviewer
    elif raw_reviewer.isascii() and raw_reviewer.isdigit() and len(raw_reviewer) <= 9:
        reviewer = int(raw_reviewer)
    else:
        raise _bad("reviewer", "expected a user id, me, all or none")
    raw_period = (params.get("period") or "").strip()
    period = str(parse_period(raw_period)) if raw_period else None
    raw_page = (params.get("page") or "").strip() or "1"
    if not (raw_page.isascii() and raw_page.isdigit()) or not 1 <= int(raw_page) <= MAX_PAGE:
        raise _bad("page", f"expected a whole number from 1 to {MAX_PAGE}")
    return QueueQuery(
        reason=reason,
        agent=_text(params, "agent", MAX_AGENT_ID),
        queue=_text(params, "queue", MAX_QUEUE_ID),
        due=DueFilter(due) if due else None,
        state=PickState(state) if state else None,
        reviewer=reviewer,
        period=period,
        page=int(raw_page),
    )


def _require_reviewer(viewer: User) -> None:
    if viewer.role not in REVIEWING_ROLES:
        raise Forbidden(gettext(ONLY_REVIEWERS))


def _scope(session: Session, viewer: User) -> list[Any]:
    """Conditions limiting picks to those `viewer` may see (managers: their teams)."""
    if viewer.role == Role.MANAGER:
        return [col(Agent.team_id).in_(sorted(managed_teams(session, viewer)))]
    return []


def _conditions(query: QueueQuery, state: Any, today: date) -> list[Any]:
    conditions: list[Any] = []
    if query.reason == RANDOM_SAMPLE:
        conditions.append(col(ReviewPick.sample) == RANDOM_SAMPLE)
    elif query.reason is not None:
        # Reasons are stored comma-separated; matching ",reason," on the padded list
        # finds whole entries only.
        padded = sa.literal(",") + col(ReviewPick.reasons) + sa.literal(",")
        conditions.append(padded.like(f"%,{query.reason},%"))
    if query.agent is not None:
        conditions.append(col(Call.agent_id) == query.agent)
    if query.queue is not None:
        conditions.append(col(Call.queue) == query.queue)
    if query.state is not None:
        conditions.append(state == query.state.value)
    if query.reviewer == NOBODY:
        conditions.append(col(ReviewPick.reviewer_id).is_(None))
    elif isinstance(query.reviewer, int):
        conditions.append(col(ReviewPick.reviewer_id) == query.reviewer)
    if query.period is not None:
        conditions.append(col(ReviewPick.period) == query.period)
    if query.due == DueFilter.OVERDUE:
        conditions += [col(ReviewPick.due) < today, state.in_(UNFINISHED)]
    elif query.due == DueFilter.TODAY:
        conditions.append(col(ReviewPick.due) == today)
    elif query.due == DueFilter.WEEK:
        conditions += [col(ReviewPick.due) >= today, col(ReviewPick.due) < today + timedelta(7)]
    return conditions


def queue_page(
    session: Session,
    *,
    viewer: User,
    query: QueueQuery,
    page_size: int,
    today: date,
) -> QueuePage:
    """The picks matching `query` that `viewer` may see, soonest due first.

    Raises:
        Forbidden: `viewer` is an agent.
    """
    _require_reviewer(viewer)
    state = state_expression()
    reviewer = aliased(User)
    where = _scope(session, viewer) + _conditions(query, state, today)
    base = (
        select(ReviewPick)
        .join(Call, col(Call.id) == col(ReviewPick.call_id))
        .join(Agent, col(Agent.id) == col(Call.agent_id))
        .outerjoin(Evaluation, col(Evaluation.id) == col(ReviewPick.evaluation_id))
        .where(*where)
    )
    total = session.exec(select(sa.func.count()).select_from(base.subquery())).one()
    rows = session.execute(
        sa.select(
            ReviewPick,
            col(Call.agent_id),
            col(Agent.name),
            col(Call.queue),
            col(Call.started_at),
            col(reviewer.username),
            col(reviewer.display_name),
            state,
        )
        .join(Call, col(Call.id) == col(ReviewPick.call_id))
        .join(Agent, col(Agent.id) == col(Call.agent_id))
        .outerjoin(Evaluation, col(Evaluation.id) == col(ReviewPick.evaluation_id))
        .outerjoin(reviewer, col(reviewer.id) == col(ReviewPick.reviewer_id))
        .where(*where)
        .order_by(col(ReviewPick.due), col(Call.started_at), col(ReviewPick.id))
        .offset((query.page - 1) * page_size)
        .limit(page_size)
    ).all()
    items = []
    for pick, agent_id, agent_name, queue, started_at, username, display, derived in rows:
        pick_state = PickState(derived)
        items.append(
            QueueRow(
                pick_id=pick.id or 0,
                call_id=pick.call_id,
                period=pick.period,
                agent_id=agent_id,
                agent_name=agent_name,
                queue=queue,
                started_at=started_at,
                sample=pick.sample,
                reasons=tuple(r for r in pick.reasons.split(",") if r),
                detail=pick.detail,
                reviewer_id=pick.reviewer_id,
                reviewer=(display or username) if username else None,
                due=pick.due,
                overdue=pick.due < today and pick_state.value in UNFINISHED,
                state=pick_state,
                evaluation_id=pick.evaluation_id,
            )
        )
    return QueuePage(tuple(items), total, query.page, page_size)


def workload(
    session: Session, *, viewer: User, today: date, period: str | None = None
) -> list[Workload]:
    """Per reviewer with picks (and every active reviewer): assigned, done, open, overdue.

    Raises:
        Forbidden: `viewer` is an agent.
    """
    _require_reviewer(viewer)
    state = state_expression()
    unfinished = state.in_(UNFINISHED)

    def tally(condition: Any) -> Any:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    where = [col(ReviewPick.reviewer_id).is_not(None), state != PickState.SKIPPED.value]
    where += _scope(session, viewer)
    if period is not None:
        where.append(col(ReviewPick.period) == period)
    rows = session.execute(
        sa.select(
            col(ReviewPick.reviewer_id),
            sa.func.count(),
            tally(state == PickState.DONE.value),
            tally(unfinished),
            tally(sa.and_(unfinished, col(ReviewPick.due) < today)),
        )
        .select_from(ReviewPick)
        .join(Call, col(Call.id) == col(ReviewPick.call_id))
        .join(Agent, col(Agent.id) == col(Call.agent_id))
        .outerjoin(Evaluation, col(Evaluation.id) == col(ReviewPick.evaluation_id))
        .where(*where)
        .group_by(col(ReviewPick.reviewer_id))
    ).all()
    counts = {r[0]: (int(r[1]), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0)) for r in rows}
    people = session.exec(
        select(User).where(
            sa.or_(
                col(User.id).in_(list(counts)),
                sa.and_(col(User.role) == Role.REVIEWER, col(User.active)),
            )
        )
    ).all()
    result = [
        Workload(u.id or 0, u.display_name or u.username, *counts.get(u.id, (0, 0, 0, 0)))
        for u in people
    ]
    return sorted(result, key=lambda w: (-w.overdue, -w.open, w.reviewer.casefold()))


@dataclass(frozen=True, slots=True)
class FilterOptions:
    """What the queue's filter form offers."""

    agents: tuple[tuple[str, str], ...]  # (id, name)
    queues: tuple[str, ...]
    reviewers: tuple[tuple[int, str], ...]  # (user id, name)
    periods: tuple[str, ...]


def filter_options(session: Session, *, viewer: User) -> FilterOptions:
    """The agents, queues and periods that have picks `viewer` may see, and the reviewers."""
    _require_reviewer(viewer)
    scope = _scope(session, viewer)
    picked = (
        select(Call.agent_id, Agent.name, Call.queue, ReviewPick.period)
        .join(ReviewPick, col(ReviewPick.call_id) == col(Call.id))
        .join(Agent, col(Agent.id) == col(Call.agent_id))
        .where(*scope)
        .distinct()
    )
    rows = session.exec(picked).all()
    reviewers = session.exec(
        select(User.id, User.display_name, User.username)
        .where(col(User.role).in_(REVIEWING_ROLES))
        .order_by(col(User.username))
    ).all()
    return FilterOptions(
        agents=tuple(sorted({(a, n) for a, n, _, _ in rows}, key=lambda a: (a[1], a[0]))),
        queues=tuple(sorted({q for _, _, q, _ in rows if q})),
        reviewers=tuple((i or 0, d or u) for i, d, u in reviewers),
        periods=tuple(sorted({p for _, _, _, p in rows}, reverse=True)),
    )
