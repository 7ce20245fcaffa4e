"""Signing in and out.

The login form is checked by `qm.web.sign_in.SignInGuard`: throttled per username and per
client address, the password hashed with no database connection held. A blocked client
gets the form back with HTTP 429 and Retry-After.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template

from qm.auth import sign_in, sign_out
from qm.i18n import gettext as _
from qm.settings import Settings
from qm.web.proxy import client_address
from qm.web.sign_in import SignInGuard, wait_text

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

    @post("/login")
    async def login(
        self,
        request: Request[Any, Any, State],
        settings: NamedDependency[Settings],
        data: URLEncodedBody[LoginForm],
    ) -> Redirect | Template:
        """Check the username and password; on success start a session and go on."""
        guard: SignInGuard = request.app.state.sign_in
        address = client_address(request.scope, settings)
        result = await guard.sign_in(data.username, data.password, address)
        if result.user is None:
            blocked = result.retry_after > 0
            error = (
                _(
                    "Too many failed sign-ins. Please wait %(wait)s and try again.",
                    wait=wait_text(result.retry_after),
                )
                if blocked
                else _("Wrong username or password.")
            )
            return Template(
                template_name="auth/login.html",
                context={"next": safe_next(data.next), "username": data.username, "error": error},
                status_code=429 if blocked else 401,
                headers={"Retry-After": str(result.retry_after)} if blocked else None,
            )
        sign_in(request, result.user)
        return Redirect(safe_next(data.next), status_code=303)

    @post("/logout", sync_to_thread=False)
    def logout(self, request: Request[Any, Any, State]) -> Redirect:
        """End the session and show the login page."""
        sign_out(request)
        return Redirect("/login", status_code=303)
