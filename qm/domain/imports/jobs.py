"""Uploads imported in the background: unpacking what the browser sent, the job row that
tracks an import, and running it.

An upload is unpacked into a folder of its own under the site's upload folder
(`Settings.upload_folder`): files keep the relative paths they were sent with, a zip is
unpacked member by member. Names are checked before anything is written (no absolute
paths, no `..`, no control characters) and sizes are bounded (`UploadTooLarge`), so an
upload can neither write outside its folder nor fill the disk.

The import itself is exactly the command line's: `ingest_manifest` (with the upload's
folder as the import root, so a manifest can only name files it was uploaded with) or
`ingest_mystery`, all or nothing per file, transcripts redacted on the way in; a telephony
export (`ImportKind.ASTERISK`, `FREESWITCH`, `CDR`) goes through `ingest_asterisk`,
`ingest_freeswitch` or `ingest_cdr` on the upload's folder, in the job's time zone (the
site's unless the upload named one), and its summary lines are stored on the job.
Afterwards only the audio of stored calls is kept: the manifest, the transcripts (which may
hold card numbers before redaction), the CDRs and everything of a refused upload are
deleted.
"""

import logging
import os
import secrets
import shutil
import socket
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import IO

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.db import session_scope
from qm.domain import audit
from qm.domain.bounds import control_character
from qm.domain.imports.ingest import count_data_rows, ingest_manifest
from qm.domain.imports.mystery import ingest_mystery
from qm.errors import NotFound, QMError, ValidationFailed
from qm.i18n import gettext, use_locale
from qm.models import Call, ImportJob, ImportKind, ImportState, utcnow
from qm.settings import Settings

log = logging.getLogger(__name__)

# Bounds on what one upload may unpack to: the web form reads at most
# `qm.web.imports.MAX_REQUEST_BYTES`, but a zip can expand far beyond its own size.
MAX_UNPACKED_BYTES = 8 * 1024**3
MAX_FILES = 50_000
MAX_NAME_LENGTH = 255  # characters of one path part
MAX_PATH_LENGTH = 800  # characters of a relative path (the call's audio_path holds 1000)
CHUNK = 1024 * 1024

# The kinds that are a telephony system's export rather than our own CSV formats.
TELEPHONY_KINDS = frozenset({ImportKind.ASTERISK, ImportKind.FREESWITCH, ImportKind.CDR})
MAPPING_SUFFIXES = (".yaml", ".yml")
# Where joined -in/-out recording pairs are written, inside the upload's folder so that
# they are kept with the calls that point to them (and go with a refused upload).
JOINED = "joined-recordings"

# Called with ("rows", n) after each stored batch of rows and ("calls", 1) after each
# processed call.
JobProgress = Callable[[str, int], None]


class UploadTooLarge(QMError):
    """An upload (or what its zip unpacks to) is larger than the site accepts."""

    status_code = 413
    title = "Content Too Large"


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed("upload", None, field, message)


def safe_relative_path(name: str, *, field: str = "files") -> PurePosixPath:
    """The relative path an uploaded file or zip member is stored at.

    Raises:
        ValidationFailed: an absolute path, a drive letter, a `..` part, an empty or too
            long name, or control characters; naming the upload's `field` and the name.
    """
    text = name.replace("\\", "/")
    bad = control_character(text)
    if bad is not None:
        raise _refuse(field, f"{name!r}: file names must not hold {bad}")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise _refuse(field, f"{name!r}: absolute paths are refused")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if not parts:
        raise _refuse(field, f"{name!r}: no file name")
    if ".." in parts:
        raise _refuse(field, f"{name!r}: a path leading out of the upload ('..') is refused")
    if len(text) > MAX_PATH_LENGTH or any(len(p) > MAX_NAME_LENGTH for p in parts):
        raise _refuse(field, f"{name[:80]!r}...: the path is too long")
    return PurePosixPath(*parts)


class UploadFolder:
    """A new folder for one upload, filled file by file within the size bounds."""

    def __init__(self, root: Path) -> None:
        self.path = root / secrets.token_hex(8)
        self.path.mkdir(parents=True)
        self.bytes = 0
        self.files = 0

    def _target(self, relative: PurePosixPath, field: str) -> Path:
        target = self.path.joinpath(*relative.parts)
        if target.exists():
            raise _refuse(field, f"{relative}: two files have this name")
        self.files += 1
        if self.files > MAX_FILES:
            raise UploadTooLarge(f"the upload holds more than {MAX_FILES:,} files")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _copy(self, source: IO[bytes], target: Path) -> None:
        with target.open("wb") as out:
            for chunk in iter(lambda: source.read(CHUNK), b""):
                self.bytes += len(chunk)
                if self.bytes > MAX_UNPACKED_BYTES:
                    raise UploadTooLarge(
                        f"the upload unpacks to more than {MAX_UNPACKED_BYTES:,} bytes"
                    )
                out.write(chunk)

    def add(self, name: str, source: IO[bytes], *, field: str = "files") -> Path:
        """Store one uploaded file at its (checked) relative path; returns where."""
        target = self._target(safe_relative_path(name, field=field), field)
        self._copy(source, target)
        return target

    def add_zip(self, name: str, source: IO[bytes], *, field: str = "files") -> None:
        """Unpack a zip: every member's name is checked before anything is written, and
        the sizes it declares before a byte is unpacked (the real sizes as it is)."""
        try:
            archive = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError) as exc:
            raise _refuse(field, f"{name}: not a readable zip file ({exc})") from None
        with archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            declared = 0
            paths = []
            for member in members:
                if stat.S_ISLNK(member.external_attr >> 16):
                    raise _refuse(field, f"{name}: {member.filename!r} is a link; refused")
                paths.append(safe_relative_path(member.filename, field=field))
                declared += member.file_size
            if declared + self.bytes > MAX_UNPACKED_BYTES:
                raise UploadTooLarge(f"{name} unpacks to more than {MAX_UNPACKED_BYTES:,} bytes")
            for member, relative in zip(members, paths, strict=True):
                target = self._target(relative, field)
                try:
                    with archive.open(member) as stream:
                        self._copy(stream, target)
                except (
                    zipfile.BadZipFile,
                    OSError,
                    EOFError,
                    RuntimeError,
                    NotImplementedError,
                ) as exc:
                    raise _refuse(
                        field, f"{name}: {member.filename!r} is damaged ({exc})"
                    ) from None

    def find_csv(self, field: str = "files") -> Path:
        """The one CSV file of the upload (the manifest, or the mystery-shopper results).

        Raises:
            ValidationFailed: none or several CSV files.
        """
        found = sorted(
            p for p in self.path.rglob("*") if p.is_file() and p.suffix.lower() == ".csv"
        )
        if len(found) != 1:
            names = ", ".join(str(p.relative_to(self.path)) for p in found[:5])
            raise _refuse(
                field,
                f"expected exactly one CSV file, found {len(found)}"
                + (f" ({names})" if names else ""),
            )
        return found[0]

    def find_export(self, kind: ImportKind, field: str = "files") -> Path:
        """The file a telephony job names: Asterisk's Master.csv, the CDR CSV (beside its
        one mapping file), or FreeSWITCH's first CDR (JSON or CSV; its importer reads the
        whole folder).

        Raises:
            ValidationFailed: not the files the kind needs, naming `field` (or "mapping").
        """
        files = sorted(p for p in self.path.rglob("*") if p.is_file())
        if kind == ImportKind.ASTERISK:
            found = [p for p in files if p.name == "Master.csv"]
            if len(found) != 1:
                raise _refuse(
                    field,
                    gettext(
                        "an Asterisk export holds exactly one Master.csv (found %(n)s)",
                        n=len(found),
                    ),
                )
            return found[0]
        if kind == ImportKind.CDR:
            mapping_file(self.path)
            return self.find_csv(field)
        found = [p for p in files if p.suffix.lower() in (".json", ".csv")]
        if not found:
            raise _refuse(
                field, gettext("a FreeSWITCH export holds JSON CDRs or a Master.csv; none found")
            )
        return found[0]

    def discard(self) -> None:
        """Delete the folder and everything in it (a refused upload)."""
        shutil.rmtree(self.path, ignore_errors=True)


def mapping_file(folder: Path) -> Path:
    """The one YAML mapping file of a CDR upload.

    Raises:
        ValidationFailed: none or several, naming the field "mapping".
    """
    found = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in MAPPING_SUFFIXES
    )
    if len(found) != 1:
        raise _refuse(
            "mapping",
            gettext("a CDR CSV needs exactly one mapping file (.yaml), found %(n)s", n=len(found)),
        )
    return found[0]


def export_folder(kind: ImportKind, file: Path, folder: Path) -> Path:
    """The folder a telephony importer reads: Master.csv's (cdr-csv/'s parent, as Asterisk
    keeps it), or the whole upload for FreeSWITCH."""
    if kind == ImportKind.ASTERISK:
        parent = file.parent
        return parent.parent if parent.name == "cdr-csv" and parent != folder else parent
    return folder


def create_job(
    session: Session,
    *,
    kind: ImportKind,
    folder: Path,
    file: Path,
    actor: str,
    timezone: str | None = None,
) -> ImportJob:
    """Queue the import of `file` (unpacked in `folder`) and record the upload in the audit
    log; `timezone` is a telephony export's zone (None: the site's)."""
    job = ImportJob(
        kind=kind,
        state=ImportState.QUEUED,
        file_name=str(file.relative_to(folder))[:255],
        folder=str(folder),
        created_by=actor,
        timezone=timezone,
    )
    session.add(job)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="import.upload",
        entity="import_job",
        entity_id=str(job.id),
        detail={"kind": kind.value, "file": job.file_name},
    )
    return job


def get_job(session: Session, job_id: int) -> ImportJob:
    """The import job `job_id`.

    Raises:
        NotFound: no such job.
    """
    job = session.get(ImportJob, job_id)
    if job is None:
        raise NotFound(gettext("no import %(job_id)s", job_id=job_id))
    return job


def recent_jobs(session: Session, limit: int = 50) -> list[ImportJob]:
    """The latest jobs, newest first."""
    query = select(ImportJob).order_by(col(ImportJob.id).desc()).limit(limit)
    return list(session.exec(query).all())


def queued_job_ids(session: Session) -> list[int]:
    """Jobs waiting to run, oldest first."""
    query = select(ImportJob.id).where(col(ImportJob.state) == ImportState.QUEUED)
    return [i for i in session.exec(query.order_by(col(ImportJob.id))).all() if i is not None]


def unfinished_job_ids(session: Session) -> list[int]:
    """Jobs queued or running."""
    unfinished = (ImportState.QUEUED, ImportState.RUNNING)
    query = select(ImportJob.id).where(col(ImportJob.state).in_(unfinished))
    return [i for i in session.exec(query).all() if i is not None]


def worker_id() -> str:
    """This process, as a job's `worker` names it: "host:pid"."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}"


def _gone(worker: str | None) -> bool:
    """True when `worker` was a process of this host that no longer runs (a job of
    another host cannot be judged from here and is left alone)."""
    if worker is None:
        return True  # claimed by nobody: nothing can still be running it
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname()[:80] or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def fail_interrupted(session: Session) -> int:
    """Mark jobs left running by a stopped process of this host as failed; returns how many.

    An import is one transaction, so such a job either stored its file or nothing; the
    message tells the admin to check and upload again. Jobs that another running process
    (`qm serve --workers N`) is importing are left alone.
    """
    running = select(ImportJob).where(col(ImportJob.state) == ImportState.RUNNING)
    jobs = [job for job in session.exec(running).all() if _gone(job.worker)]
    for job in jobs:
        job.state = ImportState.FAILED
        job.finished_at = utcnow()
        job.error_message = (
            "the server stopped while this upload was being imported; check the calls "
            "and upload it again if they are missing"
        )
        session.add(job)
    return len(jobs)


def _shown_file(file: str, folder: Path) -> str:
    """A file named in an error, relative to the upload (server paths are not shown)."""
    try:
        return str(Path(file).relative_to(folder))
    except ValueError:
        return Path(file).name or file


def _without_folder(message: str, folder: Path) -> str:
    """`message` with the upload's folder taken out of the paths it names (the page shows
    paths as they were uploaded, not where the server keeps them)."""
    for prefix in {str(folder.resolve()), str(folder)}:
        message = message.replace(prefix + os.sep, "").replace(prefix, ".")
    return message


def _source(job: ImportJob) -> str:
    """The `source` label the job's importer gives the calls it stores."""
    name = Path(job.file_name).name
    if job.kind == ImportKind.ASTERISK:
        return f"asterisk:{name}"
    if job.kind == ImportKind.FREESWITCH:
        return "freeswitch"
    if job.kind == ImportKind.CDR:
        return f"cdr:{name}"[:200]
    return f"manifest:{name}"[:200]


def _imported_calls(engine: Engine, job: ImportJob) -> list[tuple[str, str | None]]:
    """(id, audio path) of the calls this job stored: they came from its file (by the
    importer's source label) since it started."""
    assert job.started_at is not None
    source = _source(job)
    query = sa.select(col(Call.id), col(Call.audio_path)).where(
        col(Call.source) == source, col(Call.imported_at) >= job.started_at
    )
    with Session(engine) as session:
        return [(row[0], row[1]) for row in session.execute(query).all()]


def _keep_only(folder: Path, keep: set[Path]) -> None:
    """Delete every file in `folder` but `keep` (the audio of stored calls), then any
    folder left empty."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file() and path.resolve() not in keep:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _update(engine: Engine, job_id: int, **values: object) -> ImportJob:
    with session_scope(engine, immediate=True) as session:
        job = get_job(session, job_id)
        for name, value in values.items():
            setattr(job, name, value)
        session.add(job)
        return job


def run_job(
    engine: Engine,
    settings: Settings,
    job_id: int,
    *,
    progress: JobProgress | None = None,
    process: bool = True,
) -> ImportJob:
    """Import a queued job's file, then run the pipeline over the calls it stored.

    A refused file fails the job with the file, row and field, and stores nothing. The
    pipeline needs no success for the job to be done: the calls are stored either way,
    and what it could not do is in `process_note` (`qm process` picks it up later).

    Args:
        engine: the database.
        settings: pipeline settings.
        job_id: a queued job (any other state is left alone).
        progress: told of stored rows and processed calls as they happen.
        process: run the pipeline over the imported calls.
    """
    # Claimed with one conditional UPDATE: of several processes offered the same queued
    # job (each resumes queued jobs when it starts), exactly one runs it.
    table = ImportJob.__table__  # type: ignore[attr-defined]
    with session_scope(engine, immediate=True) as session:
        claimed = session.execute(
            sa.update(table)
            .where(table.c.id == job_id, table.c.state == ImportState.QUEUED.value)
            .values(state=ImportState.RUNNING.value, started_at=utcnow(), worker=worker_id())
        )
        job = get_job(session, job_id)
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return job
    folder = Path(job.folder)
    path = folder / job.file_name
    # Master.csv rows are legs, not contacts, and a FreeSWITCH export is many files: no
    # estimate for those.
    counted = job.kind not in (ImportKind.ASTERISK, ImportKind.FREESWITCH)
    total = count_data_rows(path) if counted and path.is_file() else None
    _update(engine, job_id, total_rows=total)

    def rows_stored(n: int) -> None:
        if progress is not None:
            progress("rows", n)

    try:
        if job.kind == ImportKind.MANIFEST:
            report = ingest_manifest(
                engine, path, actor=job.created_by, progress=rows_stored, import_root=folder
            )
            counts: dict[str, object] = {
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "transcripts": report.transcripts,
            }
        elif job.kind in TELEPHONY_KINDS:
            counts = _import_telephony(engine, settings, job, path, rows_stored)
        else:
            shops = ingest_mystery(engine, path, actor=job.created_by)
            counts = {"rows": shops.rows, "created": shops.created, "updated": shops.updated}
    except ValidationFailed as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return _update(
            engine,
            job_id,
            state=ImportState.FAILED,
            finished_at=utcnow(),
            error_file=_shown_file(exc.file, folder)[:255],
            error_row=exc.row,
            error_field=None if exc.field is None else exc.field[:100],
            error_message=_without_folder(exc.message, folder),
        )
    except Exception as exc:  # the job must end failed, not stay "running" forever
        error_id = secrets.token_hex(3)
        log.error("import job %s failed (error id %s)", job_id, error_id, exc_info=exc)
        shutil.rmtree(folder, ignore_errors=True)
        return _update(
            engine,
            job_id,
            state=ImportState.FAILED,
            finished_at=utcnow(),
            error_message=f"unexpected error (logged under error id {error_id})",
        )
    _update(engine, job_id, **counts)
    calls = _imported_calls(engine, job) if job.kind != ImportKind.MYSTERY else []
    _keep_only(folder, {Path(audio).resolve() for _, audio in calls if audio})
    done: dict[str, object] = {}
    if process and calls:
        done = _process(engine, settings, job_id, [c for c, _ in calls], progress)
    return _update(engine, job_id, state=ImportState.DONE, finished_at=utcnow(), **done)


def _import_telephony(
    engine: Engine,
    settings: Settings,
    job: ImportJob,
    path: Path,
    progress: Callable[[int], None],
) -> dict[str, object]:
    """Run the job's telephony importer on its folder; the job's counts and summary."""
    # Imported here: only telephony jobs need the readers.
    from qm.domain.imports.asterisk import ingest_asterisk
    from qm.domain.imports.cdr_mapping import ingest_cdr
    from qm.domain.imports.freeswitch import ingest_freeswitch

    folder = Path(job.folder)
    zone = job.timezone or settings.timezone
    if job.kind == ImportKind.CDR:
        report = ingest_cdr(
            engine,
            path,
            mapping_file(folder),
            actor=job.created_by,
            import_root=folder,
            progress=progress,
        )
    else:
        ingest = ingest_asterisk if job.kind == ImportKind.ASTERISK else ingest_freeswitch
        report = ingest(
            engine,
            export_folder(job.kind, path, folder),
            timezone=zone,
            actor=job.created_by,
            import_root=folder,
            merge_dir=folder / JOINED,
            progress=progress,
        )
    # Stored for every reader of the page: in the site's language, server paths left out.
    with use_locale(settings.default_language):
        lines = report.summary_lines()
    summary = _without_folder("\n".join(lines), folder)
    return {
        "rows": report.stored.rows,
        "created": report.stored.created,
        "updated": report.stored.updated,
        "summary": summary[:10_000],
    }


def _process(
    engine: Engine,
    settings: Settings,
    job_id: int,
    call_ids: list[str],
    progress: JobProgress | None,
) -> dict[str, object]:
    """Run the pipeline over the imported calls; what it did, as the job's fields."""
    # Imported here: the pipeline pulls in the scoring and ASR libraries.
    from qm.domain.pipeline import process_pending

    def call_done(n: int) -> None:
        if progress is not None:
            progress("calls", n)

    try:
        report = process_pending(engine, settings, call_ids=call_ids, progress=call_done)
    except Exception as exc:  # the calls are stored; `qm process` can finish them
        error_id = secrets.token_hex(3)
        log.error("processing import %s failed (error id %s)", job_id, error_id, exc_info=exc)
        return {
            "process_note": f"the pipeline could not run (error id {error_id}); "
            "run `qm process` to finish these calls"
        }
    notes = list(report.warnings)
    notes += [f"{call} [{stage}] {error}" for call, stage, error in report.failed[:20]]
    return {
        "processed": report.calls,
        "process_failed": len(report.failed),
        "process_note": "\n".join(notes)[:10_000] or None,
    }
