"""The audit log: appending entries to its hash chain, and verifying the chain.

Every entry stores `hash` = SHA-256 of a canonical JSON array of (prev_hash, at, actor,
action, entity, entity_id, detail), where `prev_hash` is the `hash` of the entry before
it. Editing an entry changes what its hash should be; deleting one leaves the next
entry's `prev_hash` pointing at nothing. Either way `verify_chain` names the entry.
(Removing the newest entries leaves a shorter chain that is still whole; a copy of the
latest hash kept elsewhere catches that.)

Appends are serialized so that two writers never link to the same predecessor (a fork):
on PostgreSQL with a transaction-level advisory lock; on SQLite the INSERT itself takes
the database's single write lock, and the predecessor is read only after it, while that
lock is held.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlmodel import Session

from qm.models import AuditEvent, utcnow

# Any fixed 64-bit number: the key of the PostgreSQL advisory lock that serializes appends.
CHAIN_LOCK_KEY = 0x716D_6175_6469_7401
_TABLE: sa.Table = AuditEvent.__table__  # type: ignore[attr-defined]


def _instant(at: datetime) -> str:
    # Stored as naive UTC with microseconds on both databases; hash the same form.
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    *,
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    detail: dict[str, Any] | None,
) -> str:
    """The SHA-256 (hex) of one entry's canonical JSON form."""
    canonical = json.dumps(
        [prev_hash, _instant(at), actor, action, entity, entity_id, detail],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def record(
    target: Connection | Session,
    *,
    actor: str,
    action: str,
    entity: str = "",
    entity_id: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one event to the audit log inside the caller's transaction.

    On SQLite, a caller whose transaction read before this call and may race other
    writers should have started it with BEGIN IMMEDIATE (`qm.db.session_scope(...,
    immediate=True)`); see `qm.db`.
    """
    values: dict[str, Any] = {
        "at": utcnow(),
        "actor": actor[:100],
        "action": action,
        "entity": entity,
        "entity_id": entity_id[:200],
        # Through JSON and back, so that the hash covers exactly what the column returns
        # (tuples come back as lists, for example).
        "detail": None if detail is None else json.loads(json.dumps(detail)),
    }
    if _dialect(target) == "postgresql":
        target.execute(sa.select(sa.func.pg_advisory_xact_lock(CHAIN_LOCK_KEY)))
    inserted = target.execute(
        sa.insert(_TABLE).values(**values, prev_hash="", hash="").returning(_TABLE.c.id)
    )
    entry_id = inserted.scalar_one()
    # The write lock (SQLite) or the advisory lock (PostgreSQL) is held from here to the
    # caller's commit, so the entry before ours cannot change or gain a sibling.
    prev_hash = target.execute(
        sa.select(_TABLE.c.hash).where(_TABLE.c.id < entry_id).order_by(_TABLE.c.id.desc()).limit(1)
    ).scalar_one_or_none()
    prev_hash = prev_hash or ""
    target.execute(
        sa.update(_TABLE)
        .where(_TABLE.c.id == entry_id)
        .values(prev_hash=prev_hash, hash=entry_hash(prev_hash=prev_hash, **values))
    )


def _dialect(target: Connection | Session) -> str:
    bind = target.get_bind() if isinstance(target, Session) else target
    return bind.dialect.name


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of `verify_chain`.

    `checked` counts chained entries verified; `unchained` the entries written before the
    chain existed (empty hash), which precede `first_chained_id`. `broken_id` is the first
    entry whose link or content is wrong, with `problem` saying what; None when intact.
    """

    checked: int
    unchained: int
    first_chained_id: int | None
    broken_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        """True when no link is broken."""
        return self.broken_id is None


def _entries(session: Session, batch: int) -> Iterator[sa.Row[Any]]:
    last = 0
    while True:
        rows = session.execute(
            sa.select(_TABLE).where(_TABLE.c.id > last).order_by(_TABLE.c.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def verify_chain(session: Session, *, batch: int = 5000) -> ChainReport:
    """Walk the audit log in id order and check every link and every entry's hash.

    Entries with an empty hash at the start of the log were written before this version
    and are counted as unchained; verification starts after them.
    """
    checked = unchained = 0
    first: int | None = None
    prev_id: int | None = None
    prev_hash = ""
    for row in _entries(session, batch):
        if first is None and not row.hash:
            unchained += 1
            prev_id = row.id
            continue
        if first is None:
            first = row.id
        if not row.hash:
            problem = "it has no hash, although entries before it are chained"
            return ChainReport(checked, unchained, first, row.id, problem)
        if row.prev_hash != prev_hash:
            if row.id == first:
                problem = (
                    "it links to an entry that is no longer there: the entry before it was deleted"
                )
            else:
                problem = (
                    f"it does not link to entry {prev_id}, the entry before it: an entry "
                    "between them was deleted, or this entry's prev_hash was changed"
                )
            return ChainReport(checked, unchained, first, row.id, problem)
        expected = entry_hash(
            prev_hash=row.prev_hash,
            at=row.at,
            actor=row.actor,
            action=row.action,
            entity=row.entity,
            entity_id=row.entity_id,
            detail=row.detail,
        )
        if row.hash != expected:
            problem = "its content does not match its hash: it was changed after it was written"
            return ChainReport(checked, unchained, first, row.id, problem)
        checked += 1
        prev_id, prev_hash = row.id, row.hash
    return ChainReport(checked, unchained, first)
