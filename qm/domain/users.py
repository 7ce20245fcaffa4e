"""Users who sign in: creation, password hashing (argon2) and authentication."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from qm.domain import audit
from qm.errors import Conflict, NotFound, ValidationFailed
from qm.i18n import gettext as _
from qm.models import Agent, ApiToken, Role, Team, User, UserTeam

MIN_PASSWORD_LENGTH = 8  # characters
# The languages pages, e-mail and PDFs come in (a user without one follows the browser).
LANGUAGES = ("zh-CN", "en")
# One "@", no blanks, a dot in the domain: enough to catch typos; delivery proves the rest.
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


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
            "user",
            None,
            "password",
            _(
                "must be at least %(min_password_length)s characters",
                min_password_length=MIN_PASSWORD_LENGTH,
            ),
        )


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    agent_id: str | None = None,
    display_name: str = "",
    email: str | None = None,
    language: str | None = None,
    team_ids: Sequence[str] = (),
    actor: str = "system",
) -> User:
    """Create a user with a hashed password and record it in the audit log.

    A manager manages every team in `team_ids`; an agent user may name the one team its
    agent works in. A team not yet known is created, its id doubling as its name.

    Raises:
        Conflict: the username is taken.
        ValidationFailed: empty username, short password, an agent role without an agent,
            an agent id that does not exist, a malformed e-mail address, an unknown
            language, or teams for a role that has none; `field` names the input.
    """
    username = username.strip()
    if not username:
        raise ValidationFailed("user", None, "username", _("must not be empty"))
    _check_password(password)
    role = Role(role)
    if role == Role.AGENT and not agent_id:
        raise ValidationFailed("user", None, "agent_id", _("an agent user must name its agent"))
    if agent_id and session.get(Agent, agent_id) is None:
        raise ValidationFailed(
            "user", None, "agent_id", _("no agent with id %(agent_id)s", agent_id=repr(agent_id))
        )
    email = _checked_email(email)
    _check_language(language)
    teams = _checked_teams(role, team_ids)
    if session.exec(select(User).where(col(User.username) == username)).first() is not None:
        raise Conflict(_("a user named %(username)s already exists", username=repr(username)))
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        agent_id=agent_id or None,
        email=email,
        language=language,
    )
    session.add(user)
    session.flush()
    _place_in_teams(session, user, teams)
    audit.record(
        session,
        actor=actor,
        action="user.create",
        entity="user",
        entity_id=username,
        detail={
            "role": role.value,
            "agent_id": user.agent_id,
            "teams": teams,
            "email": email,
            "language": language,
        },
    )
    return user


def _check_language(language: str | None) -> None:
    """Refuse a language that is not one of LANGUAGES (None: follow the browser)."""
    if language is not None and language not in LANGUAGES:
        raise ValidationFailed(
            "user",
            None,
            "language",
            _(
                "must be one of %(value)s, not %(language)s",
                value=", ".join(LANGUAGES),
                language=repr(language),
            ),
        )


def _checked_email(email: str | None) -> str | None:
    if email is None:
        return None
    email = email.strip()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise ValidationFailed(
            "user", None, "email", _("%(email)s is not an e-mail address", email=repr(email))
        )
    return email


def _checked_teams(role: Role, team_ids: Sequence[str]) -> list[str]:
    teams = list(dict.fromkeys(t.strip() for t in team_ids))
    for team in teams:
        if not team or len(team) > 64:
            raise ValidationFailed(
                "user",
                None,
                "team",
                _("a team id must be 1 to 64 characters, not %(team)s", team=repr(team)),
            )
    if teams and role not in (Role.MANAGER, Role.AGENT):
        raise ValidationFailed("user", None, "team", _("only managers and agents belong to teams"))
    if role == Role.AGENT and len(teams) > 1:
        raise ValidationFailed("user", None, "team", _("an agent works in one team"))
    return teams


def _place_in_teams(session: Session, user: User, teams: list[str]) -> None:
    for team_id in teams:
        if session.get(Team, team_id) is None:
            session.add(Team(id=team_id, name=team_id))
    session.flush()
    assert user.id is not None
    if user.role == Role.MANAGER:
        for team_id in teams:
            session.add(UserTeam(user_id=user.id, team_id=team_id))
    elif teams:
        user.team_id = teams[0]
        agent = session.get(Agent, user.agent_id)
        if agent is not None:
            # Team dashboards group agents by the agent's own team.
            agent.team_id = teams[0]
            session.add(agent)
        session.add(user)
    session.flush()


@dataclass(frozen=True, slots=True)
class StoredCredentials:
    """What checking a password needs, read in a short transaction that is then closed.

    `user_id` is None for an unknown or disabled username; its `password_hash` is then a
    dummy one, so that checking takes as long as for a real user and response times do not
    reveal which usernames exist.
    """

    user_id: int | None
    password_hash: str


def stored_credentials(session: Session, username: str) -> StoredCredentials:
    """The stored password hash of an active user (or a dummy one, see `StoredCredentials`)."""
    user = session.exec(select(User).where(col(User.username) == username.strip())).first()
    if user is None or not user.active or user.id is None:
        return StoredCredentials(user_id=None, password_hash=_dummy_hash())
    return StoredCredentials(user_id=user.id, password_hash=user.password_hash)


def password_matches(credentials: StoredCredentials, password: str) -> bool:
    """True when `password` is the user's. Argon2 costs tens of milliseconds of CPU and
    memory on purpose: call this with no database session open."""
    try:
        _hasher().verify(credentials.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    return credentials.user_id is not None


def upgraded_hash(credentials: StoredCredentials, password: str) -> str | None:
    """A new hash of a verified password when the stored one used weaker cost parameters
    than today's (also slow: call it outside any session), else None."""
    hasher = _hasher()
    if credentials.user_id is None or not hasher.check_needs_rehash(credentials.password_hash):
        return None
    return hasher.hash(password)


def signed_in_user(
    session: Session, credentials: StoredCredentials, new_hash: str | None = None
) -> User | None:
    """The user whose password was verified, read again: None when the account was disabled
    or its password changed meanwhile. Stores `new_hash` (see `upgraded_hash`) when given."""
    if credentials.user_id is None:
        return None
    user = session.get(User, credentials.user_id)
    if user is None or not user.active or user.password_hash != credentials.password_hash:
        return None
    if new_hash is not None:
        user.password_hash = new_hash
        session.add(user)
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, or None.

    This holds `session` while the password is hashed, which is fine for the CLI; the web
    sign-in calls the steps itself (`stored_credentials`, then `password_matches` and
    `upgraded_hash` with no session open, then `signed_in_user`) so that a burst of
    sign-ins cannot tie up the database connections.
    """
    credentials = stored_credentials(session, username)
    if not password_matches(credentials, password):
        return None
    return signed_in_user(session, credentials, upgraded_hash(credentials, password))


def set_password(session: Session, username: str, password: str, *, actor: str = "system") -> User:
    """Replace a user's password and record the change (not the password) in the audit log.

    Raises:
        NotFound: no such user.
        ValidationFailed: the password is too short.
    """
    user = session.exec(select(User).where(col(User.username) == username)).first()
    if user is None:
        raise NotFound(_("no user named %(username)s", username=repr(username)))
    _check_password(password)
    user.password_hash = hash_password(password)
    session.add(user)
    audit.record(
        session, actor=actor, action="user.set_password", entity="user", entity_id=username
    )
    return user


def set_language(session: Session, username: str, language: str | None, *, actor: str) -> User:
    """Set the language a user's pages, e-mail and PDFs come in (None: follow the browser).

    Raises:
        NotFound: no such user.
        ValidationFailed: not one of LANGUAGES.
    """
    _check_language(language)
    user = get_user(session, username)
    if user.language != language:
        audit.record(
            session,
            actor=actor,
            action="user.set_language",
            entity="user",
            entity_id=username,
            detail={"old": user.language, "new": language},
        )
        user.language = language
        session.add(user)
    return user


def list_users(session: Session) -> list[User]:
    """Every user, by username."""
    return list(session.exec(select(User).order_by(col(User.username))).all())


def get_user(session: Session, username: str) -> User:
    """The user named `username`.

    Raises:
        NotFound: no such user.
    """
    user = session.exec(select(User).where(col(User.username) == username.strip())).first()
    if user is None:
        raise NotFound(_("no user named %(username)s", username=repr(username)))
    return user


def disable_user(session: Session, username: str, *, actor: str) -> int:
    """Stop a user from signing in and revoke their API tokens; returns how many were revoked.

    Browser sessions end too: every request reloads the user and refuses an inactive one.
    The user's row stays, so that the audit log and evaluations keep naming them.

    Raises:
        NotFound: no such user.
    """
    from qm.domain.tokens import revoke_tokens

    user = get_user(session, username)
    was_active = user.active
    user.active = False
    session.add(user)
    session.flush()
    revoked = revoke_tokens(session, user.username, actor=actor)
    audit.record(
        session,
        actor=actor,
        action="user.disable",
        entity="user",
        entity_id=user.username,
        detail={"was_active": was_active, "tokens_revoked": revoked},
    )
    return revoked


@dataclass(frozen=True, slots=True)
class UserSummary:
    """One row of `qm users list`."""

    username: str
    role: str
    agent_id: str | None
    teams: tuple[str, ...]
    email: str | None
    language: str | None
    active: bool
    live_tokens: int


def user_summaries(session: Session) -> list[UserSummary]:
    """Every user with their teams (managed, or an agent's own) and live token count."""
    managed: dict[int, list[str]] = {}
    for link in session.exec(select(UserTeam).order_by(col(UserTeam.team_id))).all():
        managed.setdefault(link.user_id, []).append(link.team_id)
    tokens: dict[int, int] = {}
    for token in session.exec(select(ApiToken).where(col(ApiToken.revoked_at).is_(None))).all():
        tokens[token.user_id] = tokens.get(token.user_id, 0) + 1
    summaries = []
    for user in list_users(session):
        assert user.id is not None
        teams = managed.get(user.id) or ([user.team_id] if user.team_id else [])
        summaries.append(
            UserSummary(
                username=user.username,
                role=str(user.role),
                agent_id=user.agent_id,
                teams=tuple(teams),
                email=user.email,
                language=user.language,
                active=user.active,
                live_tokens=tokens.get(user.id, 0),
            )
        )
    return summaries


def active_admins(session: Session) -> int:
    """How many active admins there are."""
    query = select(User).where(col(User.role) == Role.ADMIN, col(User.active).is_(True))
    return len(session.exec(query).all())


def _keep_an_admin(session: Session, user: User, field: str) -> None:
    """Refuse to take away the last active admin: nobody could administer the site then."""
    if user.role == Role.ADMIN and user.active and active_admins(session) <= 1:
        raise ValidationFailed(
            "user", None, field, _("this is the last active admin; make another admin first")
        )


def managed_team_ids(session: Session, user: User) -> list[str]:
    """The teams a manager manages, or an agent user's own team, by id."""
    if user.role == Role.MANAGER:
        query = select(UserTeam.team_id).where(col(UserTeam.user_id) == user.id)
        return sorted(session.exec(query).all())
    return [user.team_id] if user.team_id else []


def update_user(
    session: Session,
    username: str,
    *,
    display_name: str,
    email: str | None,
    role: Role | str,
    agent_id: str | None,
    team_ids: Sequence[str],
    language: str | None,
    actor: str,
) -> User:
    """Change a user's profile: name, e-mail, role, linked agent, teams and language.

    Every changed field is recorded in one audit event (old and new values). Teams are as
    for `create_user`: the teams a manager manages, or the one team of an agent user; other
    roles have none, so a role change clears them.

    Raises:
        NotFound: no such user.
        ValidationFailed: an unknown role, an agent role without an agent, an unknown agent,
            a malformed e-mail, an unknown language, teams for a role that has none, or
            demoting the last active admin; `field` names the input.
    """
    user = get_user(session, username)
    try:
        new_role = Role(role)
    except ValueError:
        raise ValidationFailed(
            "user", None, "role", _("unknown role %(role)s", role=repr(role))
        ) from None
    display_name = display_name.strip()
    if len(display_name) > 200:
        raise ValidationFailed("user", None, "display_name", _("is longer than 200 characters"))
    agent_id = (agent_id or "").strip() or None
    if new_role == Role.AGENT and not agent_id:
        raise ValidationFailed("user", None, "agent_id", _("an agent user must name its agent"))
    if agent_id and session.get(Agent, agent_id) is None:
        raise ValidationFailed(
            "user", None, "agent_id", _("no agent with id %(agent_id)s", agent_id=repr(agent_id))
        )
    email = _checked_email((email or "").strip() or None)
    _check_language(language)
    teams = _checked_teams(new_role, team_ids)
    if new_role != Role.ADMIN:
        _keep_an_admin(session, user, "role")
    before = {
        "display_name": user.display_name,
        "email": user.email,
        "role": user.role.value if isinstance(user.role, Role) else str(user.role),
        "agent_id": user.agent_id,
        "teams": managed_team_ids(session, user),
        "language": user.language,
    }
    user.display_name = display_name or user.username
    user.email = email
    user.role = new_role
    user.agent_id = agent_id
    user.language = language
    # Teams are placed afresh: the old links go, the new ones are made for the new role.
    assert user.id is not None
    for link in session.exec(select(UserTeam).where(col(UserTeam.user_id) == user.id)).all():
        session.delete(link)
    user.team_id = None
    session.add(user)
    session.flush()
    _place_in_teams(session, user, teams)
    after = {
        "display_name": user.display_name,
        "email": email,
        "role": new_role.value,
        "agent_id": agent_id,
        "teams": managed_team_ids(session, user),
        "language": language,
    }
    changed = {k: {"old": before[k], "new": after[k]} for k in after if before[k] != after[k]}
    if changed:
        audit.record(
            session,
            actor=actor,
            action="user.update",
            entity="user",
            entity_id=user.username,
            detail=changed,
        )
    return user


def set_active(session: Session, username: str, active: bool, *, actor: str) -> User:
    """Enable or disable a user; disabling also revokes their API tokens (`disable_user`).

    Raises:
        NotFound: no such user.
        ValidationFailed: disabling the last active admin (field `active`).
    """
    user = get_user(session, username)
    if active == user.active:
        return user
    if not active:
        _keep_an_admin(session, user, "active")
        disable_user(session, username, actor=actor)
        return user
    user.active = True
    session.add(user)
    audit.record(session, actor=actor, action="user.enable", entity="user", entity_id=username)
    return user
