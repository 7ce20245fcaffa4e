"""The web app's re-check worker: re-checks run in the background, after the response.

Design: one daemon thread per app, started and stopped with the app, waiting on an
event. A handler that marked calls for re-checking (`qm.domain.rechecks`) returns its
response with `recheck_after_response(...)` as the background task; Litestar runs it
after the response has been sent, which is after the request's transaction committed,
so the worker sees the marks. The task only hands the scope (a queue, or call ids) to
the thread and returns: the pipeline run (`run_pending_rechecks`) happens on the
thread, never on the event loop, and never delays the reviewer.

Why a thread and not the background task itself: a task runs once per request with
no bound on how many run at once; the thread works through one run at a time, merges
scopes that arrive while it runs, and stops cleanly with the app. Why not a job queue:
nothing is lost without one. The marks live in the database, so work that a stopped
app did not finish is picked up by `qm process` (it runs every pending stage), and the
pipeline's claims keep the thread and a `qm process` from checking one call twice.

The thread only ever looks at the calls it was asked about: an app that starts never
goes looking for pending work of its own (that is `qm process`'s job).
"""

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from litestar import Litestar
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from sqlalchemy import Engine

from qm.domain.pipeline import ProcessReport
from qm.domain.rechecks import run_pending_rechecks
from qm.settings import Settings

log = logging.getLogger(__name__)

# How long stopping the app waits for a run to reach a chunk boundary.
STOP_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class RecheckScope:
    """What one request asked to re-check: a queue's calls, or some calls."""

    queue: str | None = None
    call_ids: tuple[str, ...] | None = None


Runner = Callable[[Engine, Settings, RecheckScope, Callable[[], bool]], ProcessReport]


def _run_scope(
    engine: Engine, settings: Settings, scope: RecheckScope, stop: Callable[[], bool]
) -> ProcessReport:
    return run_pending_rechecks(
        engine, settings, queue=scope.queue, call_ids=scope.call_ids, stop=stop
    )


class RecheckWorker:
    """One background thread that re-checks the scopes submitted to it, one at a time."""

    def __init__(self, engine: Engine, settings: Settings, run: Runner = _run_scope) -> None:
        self.engine = engine
        self.settings = settings
        self._run = run
        self._pending: list[RecheckScope] = []
        self._busy = False
        self._stopping = False
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="qm-rechecks", daemon=True)
            self._thread.start()

    def submit(self, scope: RecheckScope) -> None:
        """Ask for `scope` to be re-checked; returns at once."""
        with self._changed:
            if scope not in self._pending:
                self._pending.append(scope)
            self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is submitted or running; False when `timeout` ran out first.

        For tests and for a clean stop; requests never wait for re-checks.
        """
        with self._changed:
            return self._changed.wait_for(lambda: not self._pending and not self._busy, timeout)

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop the thread: a run in progress ends at its next chunk of calls."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _stop_requested(self) -> bool:
        return self._stopping

    def _loop(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending or self._stopping)
                if self._stopping:
                    return
                scope = self._pending.pop(0)
                self._busy = True
            try:
                report = self._run(self.engine, self.settings, scope, self._stop_requested)
                log.info(
                    "re-checked %d call(s) (%s); %d failed",
                    report.calls,
                    scope,
                    len(report.failed),
                )
            except Exception:  # a broken run must not end the thread for every later one
                log.exception("re-check of %s failed", scope)
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()


def recheck_worker(state: State) -> RecheckWorker:
    """The app's worker."""
    worker: RecheckWorker = state.rechecks
    return worker


def recheck_after_response(
    state: State, *, queue: str | None = None, call_ids: Sequence[str] | None = None
) -> BackgroundTask:
    """A response's background task that hands `queue` or `call_ids` to the worker.

    Attach it to the response of the request that marked the calls (`background=`):
    it runs once the request's transaction has committed.
    """
    scope = RecheckScope(queue, None if call_ids is None else tuple(call_ids))
    return BackgroundTask(recheck_worker(state).submit, scope)


def start_rechecks(app: Litestar) -> None:
    """App start-up: create and start the worker on the app's state."""
    worker = RecheckWorker(app.state.engine, app.state.settings)
    app.state.rechecks = worker
    worker.start()


def stop_rechecks(app: Litestar) -> None:
    """App shut-down: stop the worker before the engine is disposed."""
    worker: RecheckWorker | None = app.state.get("rechecks")
    if worker is not None:
        worker.stop()
