"""Rendering errors: an HTML page for pages, problem+json (RFC 9457) for `/api/*`.

Which status an error gets is decided in `qm.errors`; this module only chooses the form.
A request that needs a signed-in user (401) is redirected to the login page, except on the
API, where a redirect would only confuse a script.
"""

import logging
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect, Template

from qm.errors import QMError, ValidationFailed, http_status
from qm.i18n import N_, set_locale
from qm.i18n import gettext as _
from qm.web.locale import scope_locale

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
UNEXPECTED = N_("Something went wrong on our side. The error has been logged.")
# The titles an error page may carry, for the catalogs (`qm.errors` and HTTP's phrases).
TITLES = (
    N_("Bad Request"),
    N_("Unauthorized"),
    N_("Forbidden"),
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Conflict"),
    N_("Request Entity Too Large"),
    N_("Content Too Large"),
    N_("Unsupported Media Type"),
    N_("Invalid input"),
    N_("Unprocessable Entity"),
    N_("Unprocessable Content"),
    N_("Too Many Requests"),
    N_("Internal Server Error"),
    N_("Service Unavailable"),
)


def validation_detail(exc: ValidationFailed) -> str:
    """`file, row 3, field name: message` in the current language (file and field are data)."""
    parts = [exc.file]
    if exc.row is not None:
        parts.append(_("row %(row)s", row=exc.row))
    if exc.field is not None:
        parts.append(_("field %(field)s", field=exc.field))
    return _("%(where)s: %(message)s", where=", ".join(parts), message=exc.message)


def _describe(exc: Exception) -> tuple[int, str, str, dict[str, Any]]:
    """Status, title, detail and extra problem members for `exc`."""
    if isinstance(exc, QMError):
        status, title = http_status(exc)
        extra: dict[str, Any] = {}
        if isinstance(exc, ValidationFailed):
            extra = {"file": exc.file, "row": exc.row, "field": exc.field}
            return status, title, validation_detail(exc), extra
        return status, title, str(exc), extra
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        extra = {}
        if isinstance(exc, ValidationException) and exc.extra:
            extra = {"errors": exc.extra}
        # The framework's details are mostly the status phrase ("Not Found"): translated
        # when the catalog has them, else shown as they are.
        return exc.status_code, HTTPStatus(exc.status_code).phrase, _(str(exc.detail)), extra
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return status, HTTPStatus(status).phrase, _(UNEXPECTED), {}


def is_api(request: Request[Any, Any, Any]) -> bool:
    """True for the JSON API, whose errors are problem+json rather than HTML."""
    path = request.scope["path"]
    return path == "/api" or path.startswith("/api/")


def login_redirect(request: Request[Any, Any, Any]) -> Redirect:
    """A redirect to the login page that comes back to this page afterwards."""
    target = request.scope["path"]
    if request.scope.get("query_string"):
        target += "?" + request.scope["query_string"].decode("latin-1")
    # 303 so that a form POST is followed by a GET of the login page.
    return Redirect(f"/login?{urlencode({'next': target})}", status_code=303)


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The app's only exception handler: maps any exception to a page or a problem."""
    # A request that matched no route never passed the locale middleware.
    set_locale(scope_locale(request.scope, request.app.state.settings))
    status, title, detail, extra = _describe(exc)
    if status >= 500:
        log.error("%s %s failed", request.method, request.scope["path"], exc_info=exc)
    headers = getattr(exc, "headers", None) or {}
    if is_api(request):
        problem = {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": request.scope["path"],
            **extra,
        }
        return Response(problem, status_code=status, media_type=PROBLEM_JSON, headers=headers)
    if status == 401:
        return login_redirect(request)
    return Template(
        template_name="errors/error.html",
        context={"status": status, "title": _(title), "detail": detail},
        status_code=status,
        headers=headers,
    )
