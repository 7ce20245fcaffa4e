"""Watched-folder ingest: call manifests and mystery-shopper results dropped in a folder
(`QM_WATCH_DIR`) are imported by the scheduler every few minutes.

A *file set* is a CSV at the top of the folder with the files it names: a call manifest
(DESIGN.md's columns, `call_id` first among them) brings the `audio` and `transcript`
files of its rows, relative to the folder; mystery-shopper results (`shop_id`, ...) are
the CSV alone. Each set is imported exactly as `qm ingest` and browser uploads import it
(`ingest_manifest` / `ingest_mystery`: all or nothing, every problem named by file, row
and field), then moved out of the way:

- `done/<stamp>-<name>/`: imported; the audio of its calls stays here (the stored calls
  point to it) beside `<name>.imported.txt`, and the manifest's calls go through the
  pipeline as an upload's do. The CSV and the transcripts are deleted once imported, as a
  browser upload's are: they may hold card numbers, which never stay in storage (the
  stored transcripts are the redacted copies);
- `failed/<stamp>-<name>/`: refused, nothing stored, with `<name>.errors.txt` beside the
  CSV saying why (in the site's default language).

Telephony exports lie in sub-folders named after their system, one export each:

- `asterisk/<export>/`: Master.csv (or cdr-csv/Master.csv), queue_log and the recordings
  at any depth (`ingest_asterisk`);
- `freeswitch/<export>/`: JSON CDRs and/or Master.csv and the recordings
  (`ingest_freeswitch`);
- `cdr/<name>.csv` with `cdr/<name>.mapping.yaml` beside it, and the recordings in
  `cdr/<name>/` if it has any (the mapping's recording template is relative to the CSV,
  so it names them `<name>/...`) (`ingest_cdr`).

An export is imported whole in the site's zone (`QM_TIMEZONE`), all or nothing, and moves
to `done/<stamp>-<kind>-<name>/` (its recordings stay there, as a manifest's do, beside a
receipt with the import's summary; its CDRs are deleted) or `failed/` with the errors file;
it waits while any of its files changed within `SETTLE`, and a CSV in `cdr/` waits for its
mapping for `MISSING_GRACE`.

A set is moved to `done/` before it is imported, so that the audio paths stored with its
calls are those it keeps; a refused set then moves on to `failed/`, and a set that could
not be imported for another reason (the database away) goes back where it was, for the
next pass. A set whose CSV or files changed in the last `SETTLE` is still being written and
is left for the next pass, as is a manifest naming files not there yet (for `MISSING_GRACE`:
an export may write the manifest before its recordings).
"""

import contextlib
import csv
import logging
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col

from qm.domain.imports.ingest import ingest_manifest
from qm.domain.imports.mystery import ingest_mystery
from qm.domain.imports.telephony import TelephonyReport
from qm.errors import ValidationFailed
from qm.i18n import gettext, use_locale
from qm.models import Call, ImportKind, utcnow
from qm.settings import Settings

log = logging.getLogger(__name__)

DONE = "done"
FAILED = "failed"
ACTOR = "watched-folder"
# A file modified more recently than this is taken to be still being written.
SETTLE = timedelta(seconds=10)
# How long a manifest waits for files it names that are not there yet.
MISSING_GRACE = timedelta(minutes=30)
# The columns a manifest names its files in.
FILE_COLUMNS = ("audio", "transcript")
# The sub-folders telephony exports are dropped in, and a CDR CSV's mapping file.
EXPORT_FOLDERS = {"asterisk": ImportKind.ASTERISK, "freeswitch": ImportKind.FREESWITCH}
CDR_FOLDER = "cdr"
MAPPING_SUFFIX = ".mapping.yaml"
# Where joined -in/-out recording pairs are written, inside the export's done/ folder.
JOINED = "joined-recordings"


@dataclass(frozen=True, slots=True)
class FileSet:
    """A CSV found in the watched folder and the files it names (relative to the folder)."""

    csv: Path
    kind: ImportKind | None  # None: neither a manifest nor mystery-shopper results
    files: tuple[Path, ...] = ()
    missing: tuple[str, ...] = ()  # named files (inside the folder) that are not there
    audio: tuple[Path, ...] = ()  # those of `files` named as recordings

    @property
    def name(self) -> str:
        """The CSV's file name."""
        return self.csv.name


@dataclass
class WatchReport:
    """What one pass over the watched folder did, by CSV name."""

    imported: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)  # left for the next pass after an error
    calls: list[str] = field(default_factory=list)  # ids of the calls imported


def _kind(header: list[str]) -> ImportKind | None:
    names = {name.strip() for name in header}
    if "call_id" in names:
        return ImportKind.MANIFEST
    if "shop_id" in names:
        return ImportKind.MYSTERY
    return None


def _inside(folder: Path, name: str) -> Path | None:
    """The file `name` (a manifest's relative path) inside `folder`, or None when it leads
    out of the folder or into `done/` and `failed/` (ingest then refuses the row itself)."""
    if not name or Path(name).is_absolute():
        return None
    path = (folder / name).resolve()
    if not path.is_relative_to(folder) or path == folder:
        return None
    if path.relative_to(folder).parts[0] in (DONE, FAILED):
        return None
    return path


def read_set(folder: Path, csv_path: Path) -> FileSet:
    """The file set of `csv_path`: its kind (by the header) and, for a manifest, the files
    its rows name that lie in `folder`. A file that cannot be read as CSV is a set of its
    own, of no kind: importing it fails with the reader's message."""
    folder = folder.resolve()
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            kind = _kind(list(reader.fieldnames or []))
            if kind is not ImportKind.MANIFEST:
                return FileSet(csv_path, kind)
            files: dict[Path, None] = {}
            missing: dict[str, None] = {}
            audio: dict[Path, None] = {}
            for row in reader:
                for column in FILE_COLUMNS:
                    name = (row.get(column) or "").strip()
                    path = _inside(folder, name)
                    if path is None:
                        continue
                    if path.is_file():
                        files[path] = None
                        if column == "audio":
                            audio[path] = None
                    else:
                        missing[name] = None
    except (OSError, UnicodeDecodeError, csv.Error):
        return FileSet(csv_path, ImportKind.MANIFEST)
    return FileSet(csv_path, kind, tuple(files), tuple(missing), tuple(audio))


def _changed(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def ready(file_set: FileSet, now: datetime) -> bool:
    """Whether the set is complete and has not changed for `SETTLE` (else: next pass)."""
    try:
        written = _changed(file_set.csv)
        latest = max([written, *(_changed(f) for f in file_set.files)])
    except FileNotFoundError:  # moved or deleted while we looked
        return False
    if now - latest < SETTLE:
        return False
    return not (file_set.missing and now - written < MISSING_GRACE)


def _destination(parent: Path, stem: str, now: datetime) -> Path:
    base = f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{stem}"
    target = parent / base
    number = 1
    while target.exists():
        number += 1
        target = parent / f"{base}-{number}"
    return target


def _move_set(folder: Path, file_set: FileSet, target: Path) -> list[tuple[Path, Path]]:
    """Move the set's CSV and files into `target`, keeping their paths relative to
    `folder`; returns (from, to) of each move."""
    moves = [(file_set.csv, target / file_set.csv.name)]
    moves += [(f, target / f.relative_to(folder)) for f in file_set.files]
    for source, dest in moves:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, dest)
    # Sub-folders the set emptied go too (the folder itself stays).
    for source, _dest in moves[1:]:
        for parent in source.parents:
            if parent == folder or not parent.is_relative_to(folder):
                break
            try:
                parent.rmdir()
            except OSError:  # not empty: other files still need it
                break
    return moves


def _put_back(moves: list[tuple[Path, Path]], target: Path) -> None:
    for source, dest in moves:
        source.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(dest, source)
    shutil.rmtree(target, ignore_errors=True)


def _error_text(exc: ValidationFailed, target: Path) -> str:
    """The refusal as the errors file says it: paths relative to the set's folder."""
    message = exc.message
    for prefix in {str(target.resolve()), str(target)}:
        message = message.replace(prefix + "/", "").replace(prefix, ".")
    try:
        shown = str(Path(exc.file).resolve().relative_to(target.resolve()))
    except ValueError:
        shown = Path(exc.file).name
    parts = [shown]
    if exc.row is not None:
        parts.append(gettext("row %(row)s", row=exc.row))
    if exc.field is not None:
        parts.append(gettext("field %(field)s", field=exc.field))
    return f"{', '.join(parts)}: {message}\n" + gettext("Nothing of this file was stored.") + "\n"


def _fail(folder: Path, target: Path, stem: str, text: str, now: datetime) -> Path:
    failed = _destination(folder / FAILED, stem, now)
    failed.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(target, failed)
    (failed / f"{stem}.errors.txt").write_text(text, encoding="utf-8")
    _remove_if_empty(target.parent)
    return failed


def _keep_audio_only(folder: Path, target: Path, file_set: FileSet, calls: int) -> None:
    """After the import: delete the set's CSV and transcripts from `target`, keep the
    recordings (the stored calls point to them), and leave a receipt."""
    keep = {target / a.relative_to(folder) for a in file_set.audio}
    for path in sorted(target.rglob("*"), reverse=True):  # files before their folders
        if path.is_file() and path not in keep:
            path.unlink()
        elif path.is_dir():
            _remove_if_empty(path)
    receipt = gettext(
        "%(name)s: %(calls)s call(s) imported. The CSV and its transcripts were deleted "
        "after the import (the stored transcripts are redacted copies); the recordings "
        "stay here, the stored calls point to them.",
        name=file_set.name,
        calls=calls,
    )
    (target / f"{file_set.csv.stem}.imported.txt").write_text(receipt + "\n", encoding="utf-8")


def _remove_if_empty(folder: Path) -> None:
    """`done/` made for a set that then failed: not left behind empty."""
    with contextlib.suppress(OSError):  # not empty (or already gone)
        folder.rmdir()


def _manifest_calls(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return [
            (row.get("call_id") or "").strip()
            for row in csv.DictReader(handle)
            if (row.get("call_id") or "").strip()
        ]


def _import(engine: Engine, file_set: FileSet, target: Path) -> list[str]:
    """Import the set now in `target`; the ids of the calls it stored."""
    path = target / file_set.csv.name
    if file_set.kind is ImportKind.MYSTERY:
        ingest_mystery(engine, path, actor=ACTOR)
        return []
    if file_set.kind is None:
        raise ValidationFailed(
            str(path),
            1,
            None,
            gettext(
                "neither a call manifest (a call_id column) nor mystery-shopper results "
                "(a shop_id column)"
            ),
        )
    # The set's own folder is the import root: a manifest imports only files it came with.
    ingest_manifest(engine, path, actor=ACTOR, import_root=target)
    return _manifest_calls(path)


def _process(engine: Engine, settings: Settings, call_ids: list[str]) -> None:
    """The pipeline over the imported calls, as after a browser upload; what it cannot do
    stays pending for `qm process`."""
    from qm.domain.pipeline import process_pending  # the scoring and ASR libraries

    try:
        report = process_pending(engine, settings, call_ids=call_ids)
    except Exception:  # the calls are stored; `qm process` can finish them
        log.exception("watched folder: processing %s call(s) failed", len(call_ids))
        return
    for call, stage, error in report.failed:
        log.warning("watched folder: call %s, stage %s: %s", call, stage, error)


def watch_pass(
    engine: Engine,
    settings: Settings,
    folder: Path,
    *,
    now: datetime,
    process: bool = True,
) -> WatchReport:
    """Import every file set in `folder` that is ready at `now`, oldest CSV first, and move
    each to `done/` or `failed/` (see the module docstring).

    Args:
        engine: the database.
        settings: the pipeline's settings and the language of the errors files.
        folder: the watched folder (`QM_WATCH_DIR`).
        now: the current instant (the scheduler's clock).
        process: run the pipeline over the imported calls.
    """
    report = WatchReport()
    if not folder.is_dir():
        log.warning("watched folder: %s is not a folder", folder)
        return report
    folder = folder.resolve()
    candidates = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv"),
        key=lambda p: (p.stat().st_mtime, p.name),
    )
    for csv_path in candidates:
        file_set = read_set(folder, csv_path)
        if not ready(file_set, now):
            report.waiting.append(file_set.name)
            continue
        target = _destination(folder / DONE, csv_path.stem, now)
        moves = _move_set(folder, file_set, target)
        try:
            calls = _import(engine, file_set, target)
        except ValidationFailed as exc:
            with use_locale(settings.default_language):
                text = _error_text(exc, target)
            failed = _fail(folder, target, file_set.csv.stem, text, now)
            log.warning("watched folder: %s refused (%s)", file_set.name, failed)
            report.failed.append(file_set.name)
            continue
        except Exception:  # not the file's fault: it goes back for the next pass
            log.exception("watched folder: importing %s failed; trying again later", csv_path)
            _put_back(moves, target)
            _remove_if_empty(target.parent)
            report.retried.append(file_set.name)
            continue
        with use_locale(settings.default_language):
            _keep_audio_only(folder, target, file_set, len(calls))
        log.info("watched folder: imported %s (%s call(s))", file_set.name, len(calls))
        report.imported.append(file_set.name)
        report.calls += calls
        if process and calls:
            _process(engine, settings, calls)
    for export in find_exports(folder):
        _export_pass(engine, settings, folder, export, report, now=now, process=process)
    return report


@dataclass(frozen=True, slots=True)
class Export:
    """A telephony export found in the watched folder's `asterisk/`, `freeswitch/` or
    `cdr/` sub-folder."""

    kind: ImportKind
    name: str  # as reports and logs name it: "asterisk/<export>", "cdr/<name>.csv"
    stem: str  # the export's or CSV's name, for done/ and failed/ folders and receipts
    paths: tuple[Path, ...]  # what moves with it: its folder; or the CSV, mapping, folder
    csv: Path | None = None  # a CDR CSV
    mapping: Path | None = None  # its mapping file (None: not there yet)


def find_exports(folder: Path) -> list[Export]:
    """The telephony exports in `folder`'s `asterisk/`, `freeswitch/` and `cdr/`
    sub-folders, oldest first (by their newest file)."""
    found: list[Export] = []
    for sub, kind in EXPORT_FOLDERS.items():
        parent = folder / sub
        if parent.is_dir():
            found += [
                Export(kind, f"{sub}/{p.name}", p.name, (p,))
                for p in sorted(parent.iterdir())
                if p.is_dir()
            ]
    cdr = folder / CDR_FOLDER
    if cdr.is_dir():
        for csv_path in sorted(cdr.iterdir()):
            if not (csv_path.is_file() and csv_path.suffix.lower() == ".csv"):
                continue
            mapping = cdr / f"{csv_path.stem}{MAPPING_SUFFIX}"
            recordings = cdr / csv_path.stem
            paths = [csv_path]
            paths += [mapping] if mapping.is_file() else []
            paths += [recordings] if recordings.is_dir() else []
            found.append(
                Export(
                    ImportKind.CDR,
                    f"{CDR_FOLDER}/{csv_path.name}",
                    csv_path.stem,
                    tuple(paths),
                    csv=csv_path,
                    mapping=mapping if mapping.is_file() else None,
                )
            )
    return sorted(found, key=lambda e: (_newest(e) or datetime.max.replace(tzinfo=UTC), e.name))


def _newest(export: Export) -> datetime | None:
    """When any file or folder of the export last changed; None when it vanished."""
    try:
        stamps = []
        for path in export.paths:
            stamps.append(_changed(path))
            if path.is_dir():
                stamps += [_changed(p) for p in path.rglob("*")]
    except FileNotFoundError:  # moved or deleted while we looked
        return None
    return max(stamps)


def export_ready(export: Export, now: datetime) -> bool:
    """Whether nothing of the export changed within `SETTLE` and a CDR CSV's mapping is
    there (or the CSV waited `MISSING_GRACE` for it: then it is refused)."""
    newest = _newest(export)
    if newest is None or now - newest < SETTLE:
        return False
    if export.kind is ImportKind.CDR and export.mapping is None:
        assert export.csv is not None
        return now - _changed(export.csv) >= MISSING_GRACE
    return True


def _move_export(export: Export, target: Path) -> list[tuple[Path, Path]]:
    """Move the export into `target` (its folder becomes `target`; a CDR's files go in
    it); returns (from, to) of each move."""
    if export.kind is not ImportKind.CDR:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(export.paths[0], target)
        return [(export.paths[0], target)]
    target.mkdir(parents=True)
    moves = [(p, target / p.name) for p in export.paths]
    for source, dest in moves:
        shutil.move(source, dest)
    return moves


def _import_export(
    engine: Engine, settings: Settings, export: Export, target: Path
) -> TelephonyReport:
    """Import the export now in `target`, its recordings inside it."""
    # Imported here: only telephony exports need the readers.
    from qm.domain.imports.asterisk import ingest_asterisk
    from qm.domain.imports.cdr_mapping import ingest_cdr
    from qm.domain.imports.freeswitch import ingest_freeswitch

    if export.kind is ImportKind.CDR:
        assert export.csv is not None
        csv_path = target / export.csv.name
        if export.mapping is None:
            raise ValidationFailed(
                str(csv_path),
                None,
                "mapping",
                gettext(
                    "no mapping file %(name)s beside it",
                    name=f"{export.stem}{MAPPING_SUFFIX}",
                ),
            )
        return ingest_cdr(
            engine, csv_path, target / export.mapping.name, actor=ACTOR, import_root=target
        )
    ingest = ingest_asterisk if export.kind is ImportKind.ASTERISK else ingest_freeswitch
    return ingest(
        engine,
        target,
        timezone=settings.timezone,
        actor=ACTOR,
        import_root=target,
        merge_dir=target / JOINED,
    )


def _stored_calls(engine: Engine, source: str, since: datetime) -> list[tuple[str, str | None]]:
    """(id, audio path) of the calls an import stored under `source` from `since` on."""
    query = sa.select(col(Call.id), col(Call.audio_path)).where(
        col(Call.source) == source, col(Call.imported_at) >= since
    )
    with Session(engine) as session:
        return [(row[0], row[1]) for row in session.execute(query).all()]


def _source(export: Export) -> str:
    """The `source` label the export's importer gives its calls."""
    if export.kind is ImportKind.ASTERISK:
        return "asterisk:Master.csv"
    if export.kind is ImportKind.FREESWITCH:
        return "freeswitch"
    assert export.csv is not None
    return f"cdr:{export.csv.name}"


def _keep_recordings_only(target: Path, keep: set[Path], stem: str, lines: list[str]) -> None:
    """After the import: delete the export's CDRs and the recordings no stored call points
    to, and leave a receipt with the import's summary."""
    for path in sorted(target.rglob("*"), reverse=True):  # files before their folders
        if path.is_file() and path.resolve() not in keep:
            path.unlink()
        elif path.is_dir():
            _remove_if_empty(path)
    target.mkdir(exist_ok=True)  # every file may have gone (no recordings)
    receipt = gettext(
        "%(name)s: imported. The export's CDRs were deleted after the import; the "
        "recordings stay here, the stored calls point to them.",
        name=stem,
    )
    text = "\n".join([receipt, *lines]) + "\n"
    (target / f"{stem}.imported.txt").write_text(text, encoding="utf-8")


def _export_pass(
    engine: Engine,
    settings: Settings,
    folder: Path,
    export: Export,
    report: WatchReport,
    *,
    now: datetime,
    process: bool,
) -> None:
    """Import one telephony export if it is ready, and move it to done/ or failed/."""
    if not export_ready(export, now):
        report.waiting.append(export.name)
        return
    stem = f"{export.kind.value}-{export.stem}"
    target = _destination(folder / DONE, stem, now)
    moves = _move_export(export, target)
    since = utcnow()
    try:
        imported = _import_export(engine, settings, export, target)
    except ValidationFailed as exc:
        with use_locale(settings.default_language):
            text = _error_text(exc, target)
        failed = _fail(folder, target, export.stem, text, now)
        log.warning("watched folder: %s refused (%s)", export.name, failed)
        report.failed.append(export.name)
        return
    except Exception:  # not the export's fault: it goes back for the next pass
        log.exception("watched folder: importing %s failed; trying again later", export.name)
        _put_back(moves, target)
        _remove_if_empty(target.parent)
        report.retried.append(export.name)
        return
    calls = _stored_calls(engine, _source(export), since)
    keep = {Path(audio).resolve() for _, audio in calls if audio}
    with use_locale(settings.default_language):
        lines = imported.summary_lines()
        _keep_recordings_only(target, keep, export.stem, lines)
    log.info("watched folder: imported %s (%s call(s))", export.name, len(calls))
    report.imported.append(export.name)
    ids = [call for call, _ in calls]
    report.calls += ids
    if process and ids:
        _process(engine, settings, ids)
