"""The web application factory.

`create_app(settings)` builds everything the app holds (engine, session store, templates)
and keeps it on that app, so several apps can run side by side in one process.
"""

from collections.abc import Iterator
from typing import Any

from litestar import Litestar, Request, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.response import Redirect
from sqlmodel import Session

from qm.auth import SESSION_STORE, SiteCSRFMiddleware, make_session_auth
from qm.db import make_engine, session_scope
from qm.scheduler import start_scheduler, stop_scheduler
from qm.settings import Settings, load_settings
from qm.web.admin.hub import AdminHubController
from qm.web.admin.scripts import ScriptsAdminController
from qm.web.admin.targets import TargetsAdminController
from qm.web.admin.teams import TeamsAdminController
from qm.web.admin.training import TrainingAdminController
from qm.web.agents_api import AgentApiController
from qm.web.agreement import AgreementApiController, AgreementController
from qm.web.api import CallApiController
from qm.web.api_docs import render_plugins, swagger_static_router
from qm.web.auth import HOME, LoginController
from qm.web.calibrations import CalibrationController
from qm.web.calibrations_api import CalibrationApiController
from qm.web.calls import CallController
from qm.web.corrections import CorrectionController
from qm.web.dashboard import DashboardApiController, DashboardPagesController
from qm.web.definitions_api import FormApiController, ScriptApiController
from qm.web.disputes import DisputePagesController
from qm.web.errors import handle_exception
from qm.web.evaluations_api import (
    CallEvaluationsApiController,
    DisputeApiController,
    EvaluationApiController,
)
from qm.web.evaluations_pages import EvaluationPagesController
from qm.web.forms_admin import FormsAdminController
from qm.web.health import HealthController
from qm.web.imports import ImportsApiController, ImportsController, start_imports, stop_imports
from qm.web.locale import LocaleMiddleware, choose_language
from qm.web.me_api import MeApiController
from qm.web.me_pages import MePagesController
from qm.web.overrides_api import OverrideApiController
from qm.web.rechecks import start_rechecks, stop_rechecks
from qm.web.reports import ReportsApiController, ReportsController
from qm.web.review_queue import ReviewQueueApiController, ReviewQueueController
from qm.web.security_headers import security_headers
from qm.web.session_store import make_session_store
from qm.web.sign_in import SignInGuard
from qm.web.static_files import static_files_router
from qm.web.templating import STATIC, template_config
from qm.web.transcripts_api import TranscriptApiController
from qm.web.users import UserController, UserEditController

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def provide_db_session(state: State, request: Request[Any, Any, Any]) -> Iterator[Session]:
    """A database session per request: committed after the handler, rolled back on error.

    A request that may write takes SQLite's write lock at the start: a handler reads
    (the evaluation's version, a pick's state) and then writes, and a plain transaction
    whose read snapshot another request's commit has made stale cannot be upgraded to a
    write ("database is locked"). Holding the lock from the start makes concurrent saves
    wait their turn (busy timeout) instead of failing. Reads never take it.
    """
    immediate = request.method not in SAFE_METHODS
    with session_scope(state.engine, immediate=immediate) as session:
        yield session


def provide_settings(state: State) -> Settings:
    """This app's settings."""
    settings: Settings = state.settings
    return settings


@get("/", include_in_schema=False, sync_to_thread=False)
def index() -> Redirect:
    """The home page is the call list."""
    return Redirect(HOME)


async def _close(app: Litestar) -> None:
    """Close the pooled database connections (and Redis clients) when the app stops."""
    app.state.engine.dispose()
    app.state.sign_in.close()
    await app.stores.get(SESSION_STORE).__aexit__(None, None, None)


def _openapi_config() -> OpenAPIConfig:
    """The schema at /schema/openapi.json and Swagger UI at /schema, both served offline."""
    return OpenAPIConfig(
        title="QM",
        version="0.1.0",
        path="/schema",
        render_plugins=render_plugins(),
        components=Components(
            security_schemes={
                "apiToken": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="An API token from `qm users token NAME`.",
                ),
                "session": SecurityScheme(
                    type="apiKey",
                    name="session",
                    security_scheme_in="cookie",
                    description="The browser session cookie set by signing in at /login.",
                ),
            }
        ),
        security=[{"apiToken": []}, {"session": []}],
    )


def app_from_environment() -> Litestar:
    """The app built from `QM_*` variables and the settings file: what each worker process
    of `qm serve --workers N` runs."""
    return create_app(load_settings())


def create_app(settings: Settings) -> Litestar:
    """Build the web app (reviewer UI and JSON API) for `settings`."""
    settings.check_production()
    engine = make_engine(settings.database_url)
    session_auth = make_session_auth(settings)
    csrf = CSRFConfig(secret=settings.secret_key, cookie_samesite="lax")
    return Litestar(
        route_handlers=[
            index,
            choose_language,
            LoginController,
            CallController,
            ReviewQueueController,
            ReviewQueueApiController,
            EvaluationPagesController,
            OverrideApiController,
            CorrectionController,
            CallApiController,
            TranscriptApiController,
            CallEvaluationsApiController,
            EvaluationApiController,
            DisputeApiController,
            DisputePagesController,
            MePagesController,
            ScriptApiController,
            FormApiController,
            MeApiController,
            AgentApiController,
            UserController,
            UserEditController,
            FormsAdminController,
            ImportsController,
            ImportsApiController,
            AdminHubController,
            ScriptsAdminController,
            TrainingAdminController,
            TeamsAdminController,
            TargetsAdminController,
            CalibrationController,
            CalibrationApiController,
            AgreementController,
            AgreementApiController,
            DashboardPagesController,
            DashboardApiController,
            ReportsController,
            ReportsApiController,
            HealthController,
            static_files_router("/static", STATIC, "static"),
            swagger_static_router(),
        ],
        state=State(
            {
                "engine": engine,
                "settings": settings,
                "sign_in": SignInGuard.for_settings(settings, engine),
            }
        ),
        dependencies={
            "db": Provide(provide_db_session),
            "settings": Provide(provide_settings, sync_to_thread=False),
        },
        # Order matters: sessions and sign-in first, so the CSRF check knows whether an API
        # token (which needs no CSRF token) authenticated the request.
        middleware=[
            session_auth.middleware,
            DefineMiddleware(SiteCSRFMiddleware, config=csrf, settings=settings),
            # Inside sign-in, so that the user's own language counts.
            LocaleMiddleware,
        ],
        # Sessions live in the database, or in Redis when configured: they survive a
        # restart and are shared by every web process.
        stores={SESSION_STORE: make_session_store(settings, engine)},
        before_send=[security_headers(settings)],
        template_config=template_config(settings),
        exception_handlers={Exception: handle_exception},
        # The re-check worker stops before the engine it uses is disposed.
        on_startup=[start_rechecks, start_imports, start_scheduler],
        on_shutdown=[stop_rechecks, stop_imports, stop_scheduler, _close],
        openapi_config=_openapi_config(),
        debug=False,
    )
