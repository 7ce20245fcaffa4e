"""API tokens: integrations send `Authorization: Bearer <token>` and act as that user.

A token is 32 random bytes shown once when issued; only its SHA-256 is stored, so the
database (or a backup of it) cannot be used to call the API. A fast hash is enough here:
unlike a password, a token has 256 bits of entropy and cannot be guessed from a list.
"""

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from qm.domain import audit
from qm.errors import NotFound
from qm.i18n import gettext as _
from qm.models import ApiToken, User, utcnow

TOKEN_PREFIX = "qm_"
LAST_USED_RESOLUTION = timedelta(minutes=10)


def token_hash(token: str) -> str:
    """The stored form of `token`."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _user(session: Session, username: str) -> User:
    user = session.exec(select(User).where(col(User.username) == username)).first()
    if user is None:
        raise NotFound(_("no user named %(username)s", username=repr(username)))
    return user


def issue_token(session: Session, username: str, *, actor: str) -> str:
    """A new API token for `username`, returned once in clear; the caller commits.

    Raises:
        NotFound: no such user.
    """
    user = _user(session, username)
    assert user.id is not None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_hash(token)))
    session.flush()
    audit.record(session, actor=actor, action="token.issue", entity="user", entity_id=username)
    return token


def revoke_tokens(session: Session, username: str, *, actor: str) -> int:
    """Revoke every live token of `username`; returns how many. The caller commits.

    Raises:
        NotFound: no such user.
    """
    user = _user(session, username)
    table = ApiToken.__table__  # type: ignore[attr-defined]
    result = session.execute(
        sa.update(table)
        .where(table.c.user_id == user.id, table.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    audit.record(
        session,
        actor=actor,
        action="token.revoke",
        entity="user",
        entity_id=username,
        detail={"revoked": count},
    )
    return count


def user_for_token(session: Session, token: str) -> User | None:
    """The active user a live token belongs to, or None for an unknown or revoked token.

    The token's `last_used_at` is brought up to date (at most every
    `LAST_USED_RESOLUTION`, so that API calls do not each cost a write); the caller commits.
    """
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.exec(
        select(ApiToken).where(
            col(ApiToken.token_hash) == token_hash(token), col(ApiToken.revoked_at).is_(None)
        )
    ).first()
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.add(row)
    return user
