"""Signing in and out."""

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from sqlmodel import Session

from qm.auth import sign_in, sign_out
from qm.domain import users

HOME = "/calls"


@dataclass
class LoginForm:
    """The login form's fields."""

    username: str = ""
    password: str = ""
    next: str = ""


def safe_next(target: str) -> str:
    """`target` when it is a path on this site, else the home page.

    Refusing absolute and protocol-relative URLs keeps the login page from being used to
    send people to another site after they signed in.
    """
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


class LoginController(Controller):
    """The login and logout pages."""

    include_in_schema = False

    @get("/login", sync_to_thread=False)
    def login_page(self, next_url: Annotated[str, QueryParameter(name="next")] = "") -> Template:
        """The login form; `next` is where to go after signing in."""
        return Template(
            template_name="auth/login.html",
            context={"next": safe_next(next_url), "username": "", "error": None},
        )

    @post("/login", sync_to_thread=True)
    def login(
        self,
        request: Request[Any, Any, State],
        db: NamedDependency[Session],
        data: URLEncodedBody[LoginForm],
    ) -> Redirect | Template:
        """Check the username and password; on success start a session and go on."""
        user = users.authenticate(db, data.username, data.password)
        if user is None:
            return Template(
                template_name="auth/login.html",
                context={
                    "next": safe_next(data.next),
                    "username": data.username,
                    "error": "Wrong username or password.",
                },
                status_code=401,
            )
        sign_in(request, user)
        return Redirect(safe_next(data.next), status_code=303)

    @post("/logout", sync_to_thread=False)
    def logout(self, request: Request[Any, Any, State]) -> Redirect:
        """End the session and show the login page."""
        sign_out(request)
        return Redirect("/login", status_code=303)
