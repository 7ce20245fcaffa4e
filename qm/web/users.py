"""User administration (admins only): the list of users and a form to add one."""

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template
from sqlmodel import Session, col, select

from qm.auth import requires_role
from qm.domain import users
from qm.domain.bounds import MAX_AGENT_ID, text_problem
from qm.errors import Conflict, ValidationFailed, http_status
from qm.models import Agent, Role, User


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
            problem = f"is longer than {limit} characters" if len(value) > limit else None
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
            return _page(db, data, f"Unknown role {data.role!r}.", 422)
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
