"""Users who sign in: creation, password hashing (argon2) and authentication."""

from contextlib import suppress
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from qm.domain import audit
from qm.errors import Conflict, NotFound, ValidationFailed
from qm.models import Agent, Role, User

MIN_PASSWORD_LENGTH = 8  # characters


def _hasher() -> PasswordHasher:
    # A PasswordHasher holds only its cost parameters, so one per call costs nothing.
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    # Verified against when the username is unknown, so that a wrong username costs as much
    # time as a wrong password and response times do not reveal which usernames exist.
    return _hasher().hash("not-a-real-password")


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher().hash(password)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            "user", None, "password", f"must be at least {MIN_PASSWORD_LENGTH} characters"
        )


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    agent_id: str | None = None,
    display_name: str = "",
    actor: str = "system",
) -> User:
    """Create a user with a hashed password and record it in the audit log.

    Raises:
        Conflict: the username is taken.
        ValidationFailed: empty username, short password, an agent role without an agent,
            or an agent id that does not exist.
    """
    username = username.strip()
    if not username:
        raise ValidationFailed("user", None, "username", "must not be empty")
    _check_password(password)
    role = Role(role)
    if role == Role.AGENT and not agent_id:
        raise ValidationFailed("user", None, "agent_id", "an agent user must name its agent")
    if agent_id and session.get(Agent, agent_id) is None:
        raise ValidationFailed("user", None, "agent_id", f"no agent with id {agent_id!r}")
    if session.exec(select(User).where(col(User.username) == username)).first() is not None:
        raise Conflict(f"a user named {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        agent_id=agent_id or None,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        entity="user",
        entity_id=username,
        detail={"role": role.value, "agent_id": user.agent_id},
    )
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, or None."""
    user = session.exec(select(User).where(col(User.username) == username.strip())).first()
    hasher = _hasher()
    if user is None or not user.active:
        with suppress(VerificationError):
            hasher.verify(_dummy_hash(), password)
        return None
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if hasher.check_needs_rehash(user.password_hash):
        # Cost parameters were raised since this hash was made; upgrade it while we hold
        # the clear-text password.
        user.password_hash = hasher.hash(password)
        session.add(user)
    return user


def set_password(session: Session, username: str, password: str, *, actor: str = "system") -> User:
    """Replace a user's password and record the change (not the password) in the audit log.

    Raises:
        NotFound: no such user.
        ValidationFailed: the password is too short.
    """
    user = session.exec(select(User).where(col(User.username) == username)).first()
    if user is None:
        raise NotFound(f"no user named {username!r}")
    _check_password(password)
    user.password_hash = hash_password(password)
    session.add(user)
    audit.record(
        session, actor=actor, action="user.set_password", entity="user", entity_id=username
    )
    return user


def list_users(session: Session) -> list[User]:
    """Every user, by username."""
    return list(session.exec(select(User).order_by(col(User.username))).all())
