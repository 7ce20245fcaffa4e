"""`GET /health`: is the app up and can it reach its database (for load balancers)."""

from typing import Any

import sqlalchemy as sa
from litestar import Controller, Response, get
from litestar.datastructures import State
from sqlalchemy.exc import SQLAlchemyError


class HealthController(Controller):
    """Liveness and database check; needs no sign-in."""

    path = "/health"

    @get("/", sync_to_thread=True)
    def health(self, state: State) -> Response[dict[str, Any]]:
        """200 with `{"status": "ok"}` when the database answers, else 503."""
        try:
            with state.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except SQLAlchemyError as exc:
            body = {"status": "error", "database": type(exc).__name__}
            return Response(body, status_code=503)
        return Response({"status": "ok", "database": "ok"}, status_code=200)
