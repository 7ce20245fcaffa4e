"""User administration (admins only).

    GET  /users                       every user, and the form to add one
    POST /users                       add a user
    GET  /users/{username}/edit       a user's profile, password and sign-in switch
    POST /users/{username}/edit       change name, e-mail, role, agent, teams, language
    POST /users/{username}/password   set a new password
    POST /users/{username}/active     disable (tokens revoked too) or enable sign-in

Every change is audited by `qm.domain.users`; a refused field re-shows the form with the
reason beside that field (422). The last active admin can be neither demoted nor disabled.
"""

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from qm.auth import requires_role
from qm.domain import users
from qm.domain.bounds import MAX_AGENT_ID, text_problem
from qm.errors import Conflict, NotFound, ValidationFailed, http_status
from qm.i18n import gettext as _
from qm.i18n import lazy_gettext
from qm.models import Agent, Role, Team, User


@dataclass
class UserForm:
    """The new-user form's fields."""

    username: str = ""
    password: str = ""
    role: str = Role.REVIEWER.value
    agent_id: str = ""
    display_name: str = ""


# The longest value each field of the form may hold (the stored columns' widths; a
# password is hashed, but hashing megabytes on request would be an easy way to stall us).
FIELD_LIMITS = {
    "username": 100,
    "display_name": 200,
    "agent_id": MAX_AGENT_ID,
    "role": 20,
    "password": 1000,
}


def form_problem(form: UserForm) -> str | None:
    """Why the form cannot be stored as it is (a field too long or holding control
    characters), naming the field; None when every field is within bounds."""
    for field, limit in FIELD_LIMITS.items():
        value: str = getattr(form, field)
        if field == "password":
            # Any character may be part of a password; only its length is bounded.
            too_long = _("is longer than %(max)s characters", max=limit)
            problem = too_long if len(value) > limit else None
        else:
            problem = text_problem(value, limit)
        if problem is not None:
            return f"user, field {field}: {problem}"
    return None


def _page(db: Session, form: UserForm, error: str | None, status: int = 200) -> Template:
    agents = db.exec(select(Agent).order_by(col(Agent.name), col(Agent.id))).all()
    context = {
        "users": users.list_users(db),
        "agents": agents,
        "roles": [r.value for r in Role],
        "form": form,
        "error": error,
    }
    return Template(template_name="users/list.html", context=context, status_code=status)


class UserController(Controller):
    """Admins create sign-ins for reviewers, managers, agents and other admins."""

    path = "/users"
    guards = [requires_role(Role.ADMIN)]  # noqa: RUF012  (Litestar reads a plain list)
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def list_users(self, db: NamedDependency[Session]) -> Template:
        """Every user with role and agent, and the form to add one."""
        return _page(db, UserForm(), None)

    @post("/", sync_to_thread=True)
    def create_user(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: URLEncodedBody[UserForm],
    ) -> Redirect | Template:
        """Create a user; a taken name or bad field re-shows the form with the reason."""
        problem = form_problem(data)
        if problem is not None:
            return _page(db, data, problem, 422)
        try:
            role = Role(data.role)
        except ValueError:
            return _page(db, data, _("Unknown role %(role)s.", role=repr(data.role)), 422)
        try:
            users.create_user(
                db,
                username=data.username,
                password=data.password,
                role=role,
                agent_id=data.agent_id or None,
                display_name=data.display_name.strip(),
                actor=request.user.username,
            )
        except (Conflict, ValidationFailed) as exc:
            # Nothing was written before these are raised, so the session stays clean.
            return _page(db, data, str(exc), http_status(exc)[0])
        return Redirect("/users", status_code=303)


# What a person reads after a change (the redirect carries which one).
SAVED = {
    "profile": lazy_gettext("Saved."),
    "password": lazy_gettext("The new password is set."),
    "disabled": lazy_gettext("Sign-in is disabled and the user's API tokens are revoked."),
    "enabled": lazy_gettext("Sign-in is enabled again."),
}
EDIT_LIMITS = {"display_name": 200, "email": 254, "agent_id": MAX_AGENT_ID, "role": 20}
FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


@dataclass(frozen=True, slots=True)
class FieldError:
    """Why a field of the edit form was refused."""

    field: str
    message: str


def _edit_url(username: str) -> str:
    return f"/users/{quote(username, safe='')}/edit"


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return value if isinstance(value, str) else ""


def _list(data: dict[str, Any], name: str) -> list[str]:
    value = data.get(name, [])
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str) and v]


def _found(db: Session, username: str) -> User:
    """The user the path names (a name no user can have answers 404 like a missing one)."""
    if len(username) > FIELD_LIMITS["username"] or text_problem(username, 100) is not None:
        raise NotFound(f"no user named {username!r}")
    return users.get_user(db, username)


def _edit_page(
    db: Session,
    user: User,
    me: User,
    *,
    values: dict[str, Any] | None = None,
    error: FieldError | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Template:
    if values is None:
        values = {
            "display_name": user.display_name,
            "email": user.email or "",
            "role": str(user.role),
            "agent_id": user.agent_id or "",
            "teams": users.managed_team_ids(db, user),
            "language": user.language or "",
        }
    context = {
        "subject": user,
        "values": values,
        "agents": db.exec(select(Agent).order_by(col(Agent.name), col(Agent.id))).all(),
        "teams": db.exec(select(Team).order_by(col(Team.name), col(Team.id))).all(),
        "roles": [r.value for r in Role],
        "languages": users.LANGUAGES,
        "error": error,
        "notice": notice,
        "is_self": user.id == me.id,
        "min_password": users.MIN_PASSWORD_LENGTH,
    }
    return Template(template_name="users/edit.html", context=context, status_code=status)


class UserEditController(Controller):
    """Admins change a user's profile, password and whether they may sign in."""

    path = "/users/{username:str}"
    guards = [requires_role(Role.ADMIN)]  # noqa: RUF012  (Litestar reads a plain list)
    include_in_schema = False

    @get("/edit", sync_to_thread=True)
    def edit(
        self,
        username: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        saved: Annotated[str | None, QueryParameter(max_length=20)] = None,
    ) -> Template:
        """The edit form, with what was just saved when the redirect says so."""
        user = _found(db, username)
        notice = str(SAVED[saved]) if saved in SAVED else None
        return _edit_page(db, user, request.user, notice=notice)

    @post("/edit", sync_to_thread=True)
    def save(
        self,
        username: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: FormData,
    ) -> Redirect | Template:
        """Save the profile; a refused field re-shows the form with the reason beside it."""
        user = _found(db, username)
        values: dict[str, Any] = {
            "display_name": _text(data, "display_name"),
            "email": _text(data, "email").strip(),
            "role": _text(data, "role"),
            "agent_id": _text(data, "agent_id"),
            "teams": _list(data, "teams"),
            "language": _text(data, "language"),
        }
        for field, limit in EDIT_LIMITS.items():
            problem = text_problem(values[field], limit)
            if problem is not None:
                error = FieldError(field, problem)
                return _edit_page(db, user, request.user, values=values, error=error, status=422)
        try:
            users.update_user(
                db,
                user.username,
                display_name=values["display_name"],
                email=values["email"] or None,
                role=values["role"],
                agent_id=values["agent_id"] or None,
                team_ids=values["teams"],
                language=values["language"] or None,
                actor=request.user.username,
            )
        except ValidationFailed as exc:
            # Raised before anything was written; the request's transaction rolls back
            # whatever else (nothing) when the page is shown.
            db.rollback()
            user = _found(db, username)
            error = FieldError(exc.field or "", exc.message)
            return _edit_page(db, user, request.user, values=values, error=error, status=422)
        if user.id == request.user.id and user.role != Role.ADMIN:
            # An admin who stepped down may no longer open this page.
            return Redirect("/", status_code=303)
        return Redirect(_edit_url(user.username) + "?saved=profile", status_code=303)

    @post("/password", sync_to_thread=True)
    def password(
        self,
        username: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: FormData,
    ) -> Redirect | Template:
        """Set a new password (at least MIN_PASSWORD_LENGTH characters)."""
        user = _found(db, username)
        password = _text(data, "password")
        try:
            if len(password) > FIELD_LIMITS["password"]:
                raise ValidationFailed(
                    "user",
                    None,
                    "password",
                    _("is longer than %(max)s characters", max=FIELD_LIMITS["password"]),
                )
            users.set_password(db, user.username, password, actor=request.user.username)
        except ValidationFailed as exc:
            error = FieldError("password", exc.message)
            return _edit_page(db, user, request.user, error=error, status=422)
        return Redirect(_edit_url(user.username) + "?saved=password", status_code=303)

    @post("/active", sync_to_thread=True)
    def active(
        self,
        username: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: FormData,
    ) -> Redirect | Template:
        """Disable sign-in (revoking API tokens) or enable it again."""
        user = _found(db, username)
        wanted = _text(data, "active")
        if wanted not in ("true", "false"):
            error = FieldError("active", _("must be true or false"))
            return _edit_page(db, user, request.user, error=error, status=422)
        try:
            users.set_active(db, user.username, wanted == "true", actor=request.user.username)
        except ValidationFailed as exc:
            error = FieldError("active", exc.message)
            return _edit_page(db, user, request.user, error=error, status=422)
        done = "enabled" if wanted == "true" else "disabled"
        return Redirect(_edit_url(user.username) + f"?saved={done}", status_code=303)
