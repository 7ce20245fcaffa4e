"""Each call's repeat-contact flag: did the same customer call again within the call's
FCR window?

DESIGN.md's FCR: a contact C of customer K at time t is resolved at first contact when no
other contact of K starts in (t, t + W], W being C's queue window. The other contacts
include those that reached no agent (`UnansweredContact`: abandoned, IVR-only), which
have no flag of their own. Whether such a repeat
exists does not depend on when the figures are read, so it is stored on the call
(`Call.repeat_contact`, from `scoring.operational.repeat_contacts`); a month's FCR is then
a sum over its calls (`qm.domain.call_totals`), with eligibility (t + W <= as-of) decided
at read time. A flag changes only when a call of the same customer is added, moved or
removed, or when a queue's window changes, and every such write refreshes the customers
concerned:

- the importers' Core writes call `refresh_customers` with the customers of the rows
  (calls and unanswered contacts alike);
- ORM writes (a call added, changed or deleted; a queue's window changed) are caught by
  `track_repeat_contacts`, a flush hook that `qm.db` installs for every session;
- `refresh_all` rebuilds every flag (the migration that added them, bulk loads).
"""

from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from qm.models import Call, Queue, UnansweredContact
from scoring.operational import Contact, FcrRules, repeat_contacts

# Customers per query: below SQLite's host-parameter limit.
CHUNK = 900
CALLS: sa.Table = Call.__table__  # type: ignore[attr-defined]
QUEUES: sa.Table = Queue.__table__  # type: ignore[attr-defined]
UNANSWERED: sa.Table = UnansweredContact.__table__  # type: ignore[attr-defined]
# The call columns whose change can change a flag.
KEY_FIELDS = ("customer_id", "started_at", "queue")


def _rules(conn: Connection) -> FcrRules:
    windows = {
        str(queue): timedelta(days=days)
        for queue, days in conn.execute(sa.select(QUEUES.c.id, QUEUES.c.fcr_window_days))
    }
    return FcrRules(queue_windows=windows)


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = sorted(values)
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _write(
    conn: Connection,
    rows: Sequence[tuple[Any, ...]],
    rules: FcrRules,
    unanswered: Sequence[tuple[Any, ...]] = (),
) -> int:
    """Compute the flags of `rows` (id, customer, queue, start, stored flag: all the calls
    of their customers) with their customers' `unanswered` contacts (id, customer, queue,
    start) among the later contacts, and write those that changed; returns how many."""
    contacts = [
        Contact(call_id, "", started, customer, queue)
        for call_id, customer, queue, started, _ in rows
    ]
    others = [
        Contact(i, "", started, customer, queue) for i, customer, queue, started in unanswered
    ]
    flags = repeat_contacts([*contacts, *others], rules=rules)[: len(contacts)]
    changed = [
        {"row_id": row[0], "flag": flag}
        for row, flag in zip(rows, flags, strict=True)
        if row[4] is None or bool(row[4]) != flag
    ]
    if changed:
        conn.execute(
            sa.update(CALLS)
            .where(CALLS.c.id == sa.bindparam("row_id"))
            .values(repeat_contact=sa.bindparam("flag")),
            changed,
        )
    return len(changed)


_COLUMNS = (
    CALLS.c.id,
    CALLS.c.customer_id,
    CALLS.c.queue,
    CALLS.c.started_at,
    CALLS.c.repeat_contact,
)
_UNANSWERED_COLUMNS = (
    UNANSWERED.c.id,
    UNANSWERED.c.customer_id,
    UNANSWERED.c.queue,
    UNANSWERED.c.started_at,
)


def refresh_customers(
    conn: Connection, customers: Iterable[str | None], calls: Collection[str] = ()
) -> int:
    """Recompute the flags of every call of `customers`, and clear the flag of any of
    `calls` that has no customer (any more); returns how many flags changed."""
    changed = 0
    wanted = {c for c in customers if c}
    rules = _rules(conn) if wanted else FcrRules()
    for chunk in _chunks(wanted):
        rows = conn.execute(sa.select(*_COLUMNS).where(CALLS.c.customer_id.in_(chunk))).all()
        others = conn.execute(
            sa.select(*_UNANSWERED_COLUMNS).where(UNANSWERED.c.customer_id.in_(chunk))
        ).all()
        changed += _write(conn, [tuple(r) for r in rows], rules, [tuple(r) for r in others])
    for chunk in _chunks(calls):
        result = conn.execute(
            sa.update(CALLS)
            .where(
                CALLS.c.id.in_(chunk),
                CALLS.c.customer_id.is_(None),
                CALLS.c.repeat_contact.is_not(None),
            )
            .values(repeat_contact=None)
        )
        changed += int(result.rowcount or 0)
    return changed


def refresh_queues(conn: Connection, queues: Iterable[str]) -> int:
    """Recompute the flags of the customers who called `queues` (after a window change)."""
    wanted = sorted(set(queues))
    if not wanted:
        return 0
    customers = conn.execute(
        sa.select(CALLS.c.customer_id)
        .where(CALLS.c.queue.in_(wanted), CALLS.c.customer_id.is_not(None))
        .distinct()
    ).scalars()
    return refresh_customers(conn, list(customers))


def refresh_all(conn: Connection, *, unanswered: bool = True) -> int:
    """Recompute every call's flag; returns how many changed. The calls are read first
    (in customer order) and written in batches of whole customers afterwards: writing
    the table while reading it on the same connection is not something to rely on.

    `unanswered=False` leaves contacts without an agent out (a migration that runs
    before their table exists)."""
    rules = _rules(conn)
    rows = [
        tuple(r)
        for r in conn.execute(
            sa.select(*_COLUMNS)
            .where(CALLS.c.customer_id.is_not(None))
            .order_by(CALLS.c.customer_id)
        )
    ]
    others: dict[str, list[tuple[Any, ...]]] = {}
    query = sa.select(*_UNANSWERED_COLUMNS).where(UNANSWERED.c.customer_id.is_not(None))
    for row in conn.execute(query) if unanswered else ():
        others.setdefault(row[1], []).append(tuple(row))
    changed = start = 0
    while start < len(rows):
        end = min(start + 10_000, len(rows))
        while end < len(rows) and rows[end][1] == rows[end - 1][1]:
            end += 1  # a customer's calls stay in one batch
        batch = rows[start:end]
        customers = dict.fromkeys(r[1] for r in batch)
        later = [o for c in customers for o in others.get(c, [])]
        changed += _write(conn, batch, rules, later)
        start = end
    return changed


def _customers_touched(session: Session) -> tuple[set[str], set[str], set[str]]:
    """The customers, calls and queues whose flags this flush may have changed."""
    customers: set[str] = set()
    calls: set[str] = set()
    queues: set[str] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Call):
            state = sa.inspect(obj)
            if obj in session.dirty:
                histories = [state.attrs[name].history for name in KEY_FIELDS]
                if not any(h.has_changes() for h in histories):
                    continue
                customers.update(c for c in histories[0].deleted if c)
            if obj.customer_id:
                customers.add(obj.customer_id)
            calls.add(obj.id)
        elif isinstance(obj, Queue) and obj not in session.deleted:
            history = sa.inspect(obj).attrs["fcr_window_days"].history
            if obj in session.new or history.has_changes():
                queues.add(obj.id)
    return customers, calls, queues


def _after_flush(session: Session, _context: Any) -> None:
    customers, calls, queues = _customers_touched(session)
    if customers or calls or queues:
        conn = session.connection()
        refresh_customers(conn, customers, calls)
        refresh_queues(conn, queues)


def track_repeat_contacts() -> None:
    """Refresh the flags after every ORM flush that adds, moves or removes a call or
    changes a queue's window (idempotent: the hook is installed once)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
