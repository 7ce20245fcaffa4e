"""Browser sessions kept in the `web_session` table.

The caller hands in the key under which a session is stored (the web layer uses the
SHA-256 of the cookie's random id, so a copy of the database holds no usable cookie).
A session that has passed `expires_at` counts as gone even before `sweep_expired` deletes it.
"""

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from qm.models import WebSession, utcnow

# Renewing a session on use rewrites its row; doing that at most once a minute keeps a
# busy reviewer's clicks from turning every page view into a database write.
RENEW_GRANULARITY = timedelta(minutes=1)

_table: sa.Table = WebSession.__table__  # type: ignore[attr-defined]


def read(session: Session, key: str, *, now: datetime) -> tuple[bytes, datetime] | None:
    """The data and expiry of a live session, or None."""
    row = session.execute(
        sa.select(_table.c.data, _table.c.expires_at).where(
            _table.c.id == key, _table.c.expires_at > now
        )
    ).first()
    return None if row is None else (bytes(row.data), row.expires_at)


def renewal_due(expires: datetime, *, renew_for: timedelta, now: datetime) -> bool:
    """True when a session used now should have its expiry moved (at most once per
    `RENEW_GRANULARITY`)."""
    return expires < now + renew_for - RENEW_GRANULARITY


def extend(session: Session, key: str, *, until: datetime, now: datetime) -> bool:
    """Move a live session's expiry to `until`; False when it has expired or is gone.

    Writes before it reads, so that on SQLite it runs in a transaction of its own that
    takes the write lock first (`session_scope(engine, immediate=True)`) rather than
    reading and then failing to write because another writer got in between.
    """
    session.execute(
        sa.update(_table)
        .where(_table.c.id == key, _table.c.expires_at > now, _table.c.expires_at < until)
        .values(expires_at=until)
    )
    return expires_at(session, key) is not None


def save(
    session: Session, key: str, data: bytes, *, lifetime: timedelta, now: datetime | None = None
) -> None:
    """Store (or replace) a session that lives for `lifetime` from now."""
    expires_at = (now or utcnow()) + lifetime
    updated = session.execute(
        sa.update(_table).where(_table.c.id == key).values(data=data, expires_at=expires_at)
    )
    if not updated.rowcount:  # type: ignore[attr-defined]
        session.execute(sa.insert(_table).values(id=key, data=data, expires_at=expires_at))


def expires_at(session: Session, key: str) -> datetime | None:
    """When a live session expires, or None when there is none."""
    value = session.execute(
        sa.select(_table.c.expires_at).where(_table.c.id == key, _table.c.expires_at > utcnow())
    ).scalar()
    return value if isinstance(value, datetime) else None


def delete(session: Session, key: str) -> None:
    """End one session (nothing happens when it does not exist)."""
    session.execute(sa.delete(_table).where(_table.c.id == key))


def delete_all(session: Session) -> int:
    """End every session (e.g. after a suspected leak); returns how many."""
    return int(session.execute(sa.delete(_table)).rowcount or 0)  # type: ignore[attr-defined]


def sweep_expired(session: Session, *, now: datetime | None = None) -> int:
    """Delete expired sessions; returns how many. Cheap (an index range), run it often."""
    result = session.execute(sa.delete(_table).where(_table.c.expires_at <= (now or utcnow())))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
