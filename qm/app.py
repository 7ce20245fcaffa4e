"""The web application factory.

`create_app(settings)` builds everything the app holds (engine, session store, templates)
and keeps it on that app, so several apps can run side by side in one process.
"""

from collections.abc import Iterator

from litestar import Litestar, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.stores.memory import MemoryStore
from sqlmodel import Session

from qm.auth import SESSION_STORE, make_session_auth
from qm.db import make_engine, session_scope
from qm.settings import Settings
from qm.web.api import CallApiController
from qm.web.auth import HOME, LoginController
from qm.web.calls import CallController
from qm.web.errors import handle_exception
from qm.web.health import HealthController
from qm.web.templating import STATIC, template_config
from qm.web.users import UserController


def provide_db_session(state: State) -> Iterator[Session]:
    """A database session per request: committed after the handler, rolled back on error."""
    with session_scope(state.engine) as session:
        yield session


def provide_settings(state: State) -> Settings:
    """This app's settings."""
    settings: Settings = state.settings
    return settings


@get("/", include_in_schema=False, sync_to_thread=False)
def index() -> Redirect:
    """The home page is the call list."""
    return Redirect(HOME)


def _dispose_engine(app: Litestar) -> None:
    """Close the pooled database connections when the app stops."""
    app.state.engine.dispose()


def create_app(settings: Settings) -> Litestar:
    """Build the web app (reviewer UI and JSON API) for `settings`."""
    settings.check_production()
    engine = make_engine(settings.database_url)
    session_auth = make_session_auth(settings)
    production = settings.environment == "production"
    return Litestar(
        route_handlers=[
            index,
            LoginController,
            CallController,
            CallApiController,
            UserController,
            HealthController,
            create_static_files_router(path="/static", directories=[STATIC], name="static"),
        ],
        state=State({"engine": engine, "settings": settings}),
        dependencies={
            "db": Provide(provide_db_session),
            "settings": Provide(provide_settings, sync_to_thread=False),
        },
        on_app_init=[session_auth.on_app_init],
        # The session store lives in this app's memory: sessions end when the server
        # restarts, which the single web process (it also runs the scheduler) makes simple.
        stores={SESSION_STORE: MemoryStore()},
        csrf_config=CSRFConfig(
            secret=settings.secret_key, cookie_secure=production, cookie_samesite="lax"
        ),
        template_config=template_config(settings),
        exception_handlers={Exception: handle_exception},
        on_shutdown=[_dispose_engine],
        openapi_config=OpenAPIConfig(title="QM", version="0.1.0", path="/schema"),
        debug=False,
    )
