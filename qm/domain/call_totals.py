"""Per-agent monthly totals of the stored calls, added up by the database.

A scorecard's components are sums over an agent's calls of the month: contacts, FCR
eligible and resolved, transfers, handle time (sum and sum of squares, for the interval),
calls in the queue's handle-time band, declared resolutions, compliance and courtesy
scores. With each call's repeat-contact flag stored (`qm.domain.repeat_contacts`) and its
two scores copied onto it (`Call.compliance`), none of them needs the calls in Python:
one GROUP BY over one covering index per page instead of reading tens of thousands of
rows (`benchmarks/web.py` measured the dashboard and scorecard pages at 0.5 - 2 s at
100,000 calls that way).

The figures are those of `scoring.operational` / `scoring.scorecard` (DESIGN.md's
definitions): a contact is FCR-eligible when its customer is known and t + W <= as-of (W
its queue's window, 7 days without a queue), and resolved when no repeat followed; the
handle-time band is the queue's. `tests/qm/test_call_totals.py` checks them against
`build_scorecards` over the same calls.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col

from qm.models import Call, Queue, UTCDateTime
from scoring.operational import DEFAULT_FCR_WINDOW, Tally
from scoring.period import Period
from scoring.scorecard import QualitySums

Key = tuple[str, str]  # (agent, "YYYY-MM")


def latest_start(session: Session) -> datetime | None:
    """The newest call's start anywhere: repeats are known up to it (the default as-of
    of every scorecard, page and report)."""
    latest: datetime | None = session.execute(sa.select(sa.func.max(col(Call.started_at)))).scalar()
    return latest


def _one(condition: Any) -> Any:
    return sa.case((condition, 1), else_=0)


def _per_queue(values: dict[str, Any], default: Any, make: Any) -> Any:
    """A CASE over the call's queue: `make(value)` of each queue whose value differs from
    `default`, `make(default)` for any other call (one constant when no queue differs,
    the common case: the CASE cost a third of the query). The queues' settings go into
    the query as constants rather than a join: a join per call cost more than the rest
    of the query."""
    differ = {queue: make(v) for queue, v in values.items() if v != default}
    if not differ:
        return make(default)
    return sa.case(differ, value=col(Call.queue), else_=make(default))


def _queue_terms(session: Session, as_of: datetime | None) -> tuple[Any, Any, Any, list[str]]:
    """Per call, from its queue: the latest start at which it is FCR-eligible (as-of minus
    the window; exact instants, no date arithmetic in SQL, which SQLite and PostgreSQL
    spell differently), the handle-time band's two ends, and the queues with a band."""
    queues = session.execute(
        sa.select(
            col(Queue.id),
            col(Queue.fcr_window_days),
            col(Queue.aht_min_seconds),
            col(Queue.aht_max_seconds),
        )
    ).all()
    eligible_before = None
    if as_of is not None:
        eligible_before = _per_queue(
            {str(q): as_of - timedelta(days=days) for q, days, _, _ in queues},
            as_of - DEFAULT_FCR_WINDOW,
            lambda instant: sa.literal(instant, UTCDateTime),
        )

    def seconds(value: float | None) -> Any:
        return sa.cast(sa.null(), sa.Float) if value is None else sa.literal(value)

    low = _per_queue({str(q): v for q, _, v, _ in queues}, None, seconds)
    high = _per_queue({str(q): v for q, _, _, v in queues}, None, seconds)
    banded = [str(q) for q, _, v, w in queues if v is not None or w is not None]
    return eligible_before, low, high, banded


def monthly_totals(
    session: Session,
    months: Sequence[Period],
    tz: ZoneInfo,
    *,
    as_of: datetime | None,
    agents: Any = None,
) -> tuple[dict[Key, Tally], dict[Key, QualitySums]]:
    """(agent, month) -> operational tally and quality sums, for consecutive `months`.

    Args:
        session: an open session.
        months: consecutive months, oldest first.
        tz: the site's time zone (it decides each call's month).
        as_of: the instant up to which repeats are known (None: no call is FCR-eligible).
        agents: a list of agent ids or a scalar subquery of them (None: every agent).
    """
    if not months:
        return {}, {}
    edges = [m.bounds(tz)[0] for m in months] + [months[-1].bounds(tz)[1]]
    month_of = sa.case(
        *[(col(Call.started_at) < edge, i) for i, edge in enumerate(edges[1:])], else_=None
    )
    handle = col(Call.talk_seconds) + col(Call.hold_seconds) + col(Call.wrap_seconds)
    eligible_before, low, high, banded = _queue_terms(session, as_of)
    # A comparison with NULL (a queue without that end of the band) is never true.
    short = handle < low
    eligible = (
        sa.and_(col(Call.customer_id).is_not(None), col(Call.started_at) <= eligible_before)
        if eligible_before is not None
        else sa.false()
    )
    query = (
        sa.select(
            col(Call.agent_id),
            month_of,
            sa.func.count(),
            sa.func.sum(_one(eligible)),
            sa.func.sum(
                _one(sa.and_(eligible, ~sa.func.coalesce(col(Call.repeat_contact), False)))
            ),
            sa.func.count(col(Call.transfers)),
            sa.func.sum(_one(col(Call.transfers) >= 1)),
            sa.func.count(handle),
            sa.func.sum(handle),
            sa.func.sum(handle * handle),
            sa.func.sum(_one(sa.and_(handle.is_not(None), col(Call.queue).in_(banded)))),
            sa.func.sum(_one(short)),
            sa.func.sum(_one(sa.and_(sa.or_(low.is_(None), handle >= low), handle > high))),
            sa.func.count(col(Call.resolved)),
            sa.func.sum(_one(col(Call.resolved))),
            sa.func.count(col(Call.compliance)),
            sa.func.sum(col(Call.compliance)),
            sa.func.count(col(Call.courtesy_score)),
            sa.func.sum(col(Call.courtesy_score)),
        )
        .where(col(Call.started_at) >= edges[0], col(Call.started_at) < edges[-1])
        .group_by(col(Call.agent_id), month_of)
    )
    if agents is not None:
        query = query.where(col(Call.agent_id).in_(agents))
    tallies: dict[Key, Tally] = {}
    quality: dict[Key, QualitySums] = {}
    for row in session.execute(query):
        agent, index, contacts, eligible_n, resolved_n = row[:5]
        if index is None:
            continue
        key = (str(agent), str(months[int(index)]))
        known, transferred, handle_n, handle_sum, handle_sq = row[5:10]
        banded, too_short, too_long, declared_n, declared_ok = row[10:15]
        compliance_n, compliance_sum, courtesy_n, courtesy_sum = row[15:19]
        tallies[key] = Tally(
            contacts=int(contacts),
            fcr_eligible=int(eligible_n or 0),
            fcr_resolved=int(resolved_n or 0),
            transfer_known=int(known),
            transferred=int(transferred or 0),
            handle_n=int(handle_n),
            handle_sum=float(handle_sum or 0.0),
            handle_sq_sum=float(handle_sq or 0.0),
            handle_banded=int(banded or 0),
            handle_short=int(too_short or 0),
            handle_long=int(too_long or 0),
            declared_n=int(declared_n),
            declared_resolved=int(declared_ok or 0),
        )
        if compliance_n or courtesy_n:
            quality[key] = QualitySums(
                int(compliance_n),
                float(compliance_sum or 0.0),
                int(courtesy_n),
                float(courtesy_sum or 0.0),
            )
    return tallies, quality
