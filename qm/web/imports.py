"""Uploads in the browser and over the API (admins only), imported in the background.

    GET  /admin/imports          recent uploads and the upload form
    POST /admin/imports          upload (multipart): a call manifest with its audio and
                                 transcript files, or one zip; or a mystery-shopper CSV;
                                 or a telephony export (Asterisk, FreeSWITCH, a CDR CSV
                                 with its YAML mapping)
    GET  /admin/imports/{id}     one upload's progress (refreshed by imports.js) and outcome
    POST /api/imports            the same upload from a script: answers the job (201)
    GET  /api/imports/{id}       the job: state, counts, progress, the refused row if any

The request only unpacks and checks file names and sizes (`qm.domain.imports.jobs`); the
import itself, with the command line's all-or-nothing validation, and the pipeline over
the imported calls run on one background thread per app (`ImportWorker`), so neither a
big upload nor a slow import holds up the web process. The thread sees a job once the
request that queued it has committed (the job is handed over as the response's
background task). Jobs queued when the app stopped are run when it starts again.
"""

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State, UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, Parameter
from litestar.response import Redirect, Response, Template
from sqlalchemy import Engine
from sqlmodel import Session

from qm.auth import requires_role
from qm.db import session_scope
from qm.domain.bounds import MAX_ROW_ID
from qm.domain.imports import jobs
from qm.domain.imports.telephony import time_zone
from qm.errors import QMError, ValidationFailed, http_status
from qm.i18n import gettext as _
from qm.models import ImportJob, ImportKind, ImportState, Role, User
from qm.settings import Settings

log = logging.getLogger(__name__)

# The largest request accepted: the multipart body is read whole before it is parsed, so
# this bounds the memory one upload takes. Larger imports go through `qm ingest`.
MAX_REQUEST_BYTES = 512 * 1024 * 1024
STOP_SECONDS = 30.0

JobId = Annotated[int, Parameter(ge=1, le=MAX_ROW_ID)]


class ImportWorker:
    """One background thread that runs queued import jobs one at a time, and what the
    job it is running has done so far (rows stored, calls processed)."""

    def __init__(self, engine: Engine, settings: Settings, *, process: bool = True) -> None:
        self.engine = engine
        self.settings = settings
        self.process = process
        self._pending: list[int] = []
        self._busy = False
        self._stopping = False
        self._live: dict[int, dict[str, int]] = {}
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once): jobs a stopped app left running are marked failed,
        jobs it left queued are run."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="qm-imports", daemon=True)
        self._thread.start()

    def submit(self, job_id: int) -> None:
        """Run job `job_id` after the ones before it; returns at once."""
        with self._changed:
            if job_id not in self._pending:
                self._pending.append(job_id)
            self._changed.notify_all()

    def live(self, job_id: int) -> dict[str, int]:
        """What the running job has done so far: {"rows": n, "calls": n} (empty if it is
        not running in this process)."""
        with self._changed:
            return dict(self._live.get(job_id, {}))

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or running; False when `timeout` ran out first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._pending and not self._busy, timeout)

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Stop the thread once the job in progress (one transaction) has ended."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _progress(self, job_id: int) -> Callable[[str, int], None]:
        def told(what: str, n: int) -> None:
            with self._changed:
                counts = self._live.setdefault(job_id, {})
                counts[what] = counts.get(what, 0) + n

        return told

    def _resume(self) -> None:
        """Pick up what a stopped app left: running jobs fail, queued ones run."""
        try:
            # Read first: a write at every start-up would race whoever else starts writing.
            with Session(self.engine) as session:
                left = jobs.unfinished_job_ids(session)
            if left:
                with session_scope(self.engine, immediate=True) as session:
                    jobs.fail_interrupted(session)
                    waiting = jobs.queued_job_ids(session)
            else:
                waiting = []
        except Exception:  # e.g. a database not yet migrated: uploads will say so
            log.exception("could not look for import jobs left by a stopped app")
            return
        with self._changed:
            self._pending[:0] = [j for j in waiting if j not in self._pending]
            self._changed.notify_all()

    def _loop(self) -> None:
        self._resume()
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending or self._stopping)
                if self._stopping:
                    return
                job_id = self._pending.pop(0)
                self._busy = True
                self._live[job_id] = {}
            try:
                jobs.run_job(
                    self.engine,
                    self.settings,
                    job_id,
                    progress=self._progress(job_id),
                    process=self.process,
                )
            except Exception:  # a broken job must not end the thread for every later one
                log.exception("import job %s failed", job_id)
            finally:
                with self._changed:
                    self._busy = False
                    self._live.pop(job_id, None)
                    self._changed.notify_all()


def import_worker(state: State) -> ImportWorker:
    """The app's import worker."""
    worker: ImportWorker = state.imports
    return worker


def start_imports(app: Any) -> None:
    """App start-up: create and start the import worker on the app's state."""
    worker = ImportWorker(app.state.engine, app.state.settings)
    app.state.imports = worker
    worker.start()


def stop_imports(app: Any) -> None:
    """App shut-down: stop the worker before the engine is disposed."""
    worker: ImportWorker | None = app.state.get("imports")
    if worker is not None:
        worker.stop()


def _uploads(value: Any) -> list[UploadFile]:
    if isinstance(value, UploadFile):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, UploadFile) and v.filename]
    return []


def accept_upload(
    db: Session, settings: Settings, data: dict[str, Any], *, actor: str
) -> ImportJob:
    """Unpack an upload's files into a folder of its own and queue its import.

    `data` is the multipart form: `kind` (manifest, mystery, asterisk, freeswitch or cdr),
    `files` (one zip, or the CSV with the files it names, or a telephony export's files
    with their folders), for `cdr` the `mapping` YAML file (or one among `files`), and for
    a telephony export an optional `timezone` (IANA name; default the site's QM_TIMEZONE).
    A refused upload leaves nothing behind.

    Raises:
        ValidationFailed: a missing or unknown kind, no files, a refused file name, not
            exactly one CSV (or Master.csv, or mapping), an unknown time zone; naming the
            field.
        UploadTooLarge: the files unpack to more than the site accepts.
    """
    raw_kind = data.get("kind") or ImportKind.MANIFEST.value
    try:
        kind = ImportKind(raw_kind if isinstance(raw_kind, str) else "")
    except ValueError:
        names = ", ".join(k.value for k in ImportKind)
        raise ValidationFailed("upload", None, "kind", f"must be one of {names}") from None
    files = _uploads(data.get("files"))
    if not files:
        raise ValidationFailed("upload", None, "files", _("Choose the files to upload."))
    telephony = kind in jobs.TELEPHONY_KINDS
    raw_zone = data.get("timezone")
    zone = raw_zone.strip() if telephony and isinstance(raw_zone, str) else ""
    if zone:
        time_zone(zone, file="upload", field="timezone")  # refused before anything is written
    folder = jobs.UploadFolder(settings.upload_folder())
    try:
        for upload in files:
            name = upload.filename or ""
            if name.lower().endswith(".zip"):
                folder.add_zip(name, upload.file)
            else:
                folder.add(name, upload.file)
        if kind == ImportKind.CDR:
            for upload in _uploads(data.get("mapping")):
                folder.add(upload.filename or "", upload.file, field="mapping")
        file = folder.find_export(kind) if telephony else folder.find_csv()
        return jobs.create_job(
            db, kind=kind, folder=folder.path, file=file, actor=actor, timezone=zone or None
        )
    except BaseException:
        folder.discard()
        raise


class ErrorOut(msgspec.Struct):
    """Why an import was refused: the file, row and field, and the reason."""

    file: str | None
    row: int | None
    field: str | None
    message: str


class ImportJobOut(msgspec.Struct):
    """An upload's import: where it stands and what it did."""

    id: int
    kind: str
    state: str
    file: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    total_rows: int | None
    rows: int
    created: int
    updated: int
    transcripts: int
    processed: int
    process_failed: int
    process_note: str | None
    # A telephony export's zone (None: the site's) and the importer's summary lines.
    timezone: str | None
    summary: list[str]
    error: ErrorOut | None
    url: str


def job_out(job: ImportJob, live: dict[str, int]) -> ImportJobOut:
    """The job as the API answers it; a running job's counts are the live ones."""
    assert job.id is not None
    error = None
    if job.state == ImportState.FAILED:
        error = ErrorOut(job.error_file, job.error_row, job.error_field, job.error_message or "")
    return ImportJobOut(
        id=job.id,
        kind=str(job.kind),
        state=str(job.state),
        file=job.file_name,
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        total_rows=job.total_rows,
        rows=max(job.rows, live.get("rows", 0)),
        created=job.created,
        updated=job.updated,
        transcripts=job.transcripts,
        processed=max(job.processed, live.get("calls", 0)),
        process_failed=job.process_failed,
        process_note=job.process_note,
        timezone=job.timezone,
        summary=(job.summary or "").splitlines(),
        error=error,
        url=f"/admin/imports/{job.id}",
    )


def _list_page(
    db: Session,
    settings: Settings,
    *,
    error: QMError | None = None,
    status: int = 200,
) -> Template:
    problem = None
    if isinstance(error, ValidationFailed):
        problem = {"field": error.field, "message": error.message}
    elif error is not None:
        problem = {"field": None, "message": str(error)}
    context = {
        "jobs": jobs.recent_jobs(db),
        "error": problem,
        "max_bytes": MAX_REQUEST_BYTES,
        "site_timezone": settings.timezone,
    }
    return Template(template_name="imports/list.html", context=context, status_code=status)


MultipartForm = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]


class ImportsController(Controller):
    """Admins upload calls and mystery-shopper results and watch them being imported."""

    path = "/admin/imports"
    guards = [requires_role(Role.ADMIN)]  # noqa: RUF012  (Litestar reads a plain list)
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def list_imports(
        self, db: NamedDependency[Session], settings: NamedDependency[Settings]
    ) -> Template:
        """Recent uploads with their state, and the upload form."""
        return _list_page(db, settings)

    @post("/", sync_to_thread=True, request_max_body_size=MAX_REQUEST_BYTES)
    def upload(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
        data: MultipartForm,
    ) -> Redirect | Template:
        """Unpack the upload and queue its import; a refused upload re-shows the form
        with the reason (nothing is kept)."""
        try:
            job = accept_upload(db, settings, data, actor=request.user.username)
        except (ValidationFailed, jobs.UploadTooLarge) as exc:
            return _list_page(db, settings, error=exc, status=http_status(exc)[0])
        worker = import_worker(request.app.state)
        assert job.id is not None
        return Redirect(
            f"/admin/imports/{job.id}",
            status_code=303,
            background=BackgroundTask(worker.submit, job.id),
        )

    @get("/{job_id:int}", sync_to_thread=True)
    def show(
        self,
        job_id: FromPath[JobId],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> Template:
        """One upload: its progress while it runs, then what it stored or why it failed."""
        job = jobs.get_job(db, job_id)
        out = job_out(job, import_worker(request.app.state).live(job_id))
        return Template(template_name="imports/detail.html", context={"job": out})


class ImportsApiController(Controller):
    """Uploads over the API: the same checks and background import as the page."""

    path = "/api/imports"
    tags = ["imports"]  # noqa: RUF012  (Litestar reads a plain list)
    guards = [requires_role(Role.ADMIN)]  # noqa: RUF012

    @post("/", sync_to_thread=True, request_max_body_size=MAX_REQUEST_BYTES, status_code=201)
    def upload(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
        data: MultipartForm,
    ) -> Response[ImportJobOut]:
        """Upload a manifest with its files (or a zip), a mystery-shopper CSV, or a
        telephony export (multipart: `kind` = manifest, mystery, asterisk, freeswitch or
        cdr; `files`, their relative paths kept; `mapping`, the YAML file of a `cdr`;
        `timezone`, the export's zone, default the site's); answers the queued job.
        Poll `GET /api/imports/{id}` until its state is done or failed."""
        job = accept_upload(db, settings, data, actor=request.user.username)
        worker = import_worker(request.app.state)
        assert job.id is not None
        return Response(
            job_out(job, {}),
            status_code=201,
            headers={"Location": f"/api/imports/{job.id}"},
            background=BackgroundTask(worker.submit, job.id),
        )

    @get("/{job_id:int}", sync_to_thread=True)
    def job(
        self,
        job_id: FromPath[JobId],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> ImportJobOut:
        """The job: state (queued, running, done, failed), counts, the refused file, row
        and field when it failed, and what the pipeline could not do."""
        job = jobs.get_job(db, job_id)
        return job_out(job, import_worker(request.app.state).live(job_id))
