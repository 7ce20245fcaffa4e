"""Call scripts: stored in DESIGN.md's format, one row per version, assigned to queues."""

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from qm.domain.audit import record
from qm.domain.call_checks import check_transcript, read_call_transcript
from qm.domain.exemplars import script_exemplars
from qm.domain.stored_transcripts import current_transcript_info
from qm.errors import NotFound, ValidationFailed
from qm.i18n import gettext as _
from qm.i18n import library_message
from qm.models import Call, Queue, Script
from scoring.keypoints import CheckResult
from scoring.script import Script as ParsedScript
from scoring.script import ScriptError, load_script, parse_script


def save_script(session: Session, parsed: ParsedScript, *, actor: str) -> Script:
    """Store `parsed` as a new version of its script unless the latest version is identical."""
    body = parsed.to_dict()
    latest = _latest(session, parsed.id)
    if latest is not None and latest.body == body:
        return latest
    row = Script(
        key=parsed.id,
        version=1 if latest is None else latest.version + 1,
        name=parsed.name,
        language=parsed.language,
        body=body,
    )
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor,
        action="script.save",
        entity="script",
        entity_id=f"{row.key}@{row.version}",
    )
    return row


def load_script_file(session: Session, path: Path, *, actor: str) -> Script:
    """Validate a YAML/JSON script file and store it as a new version.

    Raises:
        ValidationFailed: naming the file and the offending field.
    """
    try:
        parsed = load_script(path)
    except ScriptError as exc:
        raise ValidationFailed(str(path), None, exc.field, library_message(exc)) from exc
    return save_script(session, parsed, actor=actor)


def assign_to_queue(session: Session, key: str, queue: str, *, actor: str) -> None:
    """Make `key` the script checked on calls of `queue` (created when new)."""
    if _latest(session, key) is None:
        raise NotFound(_("no script %(key)s", key=repr(key)))
    row = session.get(Queue, queue) or Queue(id=queue)
    row.script_key = key
    session.add(row)
    record(
        session,
        actor=actor,
        action="script.assign",
        entity="queue",
        entity_id=queue,
        detail={"script": key},
    )


def preview_check(session: Session, parsed: ParsedScript, call_id: str) -> CheckResult:
    """Check one stored call against `parsed`, which need not be stored: what the script
    would find on that call (key points hit or missed, with evidence), nothing written.

    The phrase and order checks run, with what reviewers taught the checker about the
    script (`qm.domain.exemplars`); the semantic stage does not (it needs the model that
    `qm process` loads), so a preview may miss a paraphrase the pipeline would find.

    Raises:
        NotFound: no such call.
        ValidationFailed: the call has no transcript (field `call_id`).
    """
    if session.get(Call, call_id) is None:
        raise NotFound(_("no call with id %(call_id)s", call_id=repr(call_id)))
    info = current_transcript_info(session, call_id)
    if info is None:
        raise ValidationFailed("preview", None, "call_id", _("this call has no transcript"))
    transcript = read_call_transcript(session, info)
    return check_transcript(parsed, transcript, exemplars=script_exemplars(session, parsed.id))


def _latest(session: Session, key: str) -> Script | None:
    return session.exec(
        select(Script).where(Script.key == key).order_by(col(Script.version).desc())
    ).first()


def exists(session: Session, key: str) -> bool:
    """True when some version of script `key` is stored."""
    return _latest(session, key) is not None


def latest_parsed(session: Session, key: str) -> tuple[Script, ParsedScript]:
    """The newest stored version of `key`, with its parsed form for the scoring library.

    Raises:
        NotFound: when no version of `key` is stored.
    """
    row = _latest(session, key)
    if row is None:
        raise not_stored(key)
    return row, _parse_cached(row.body, f"script {row.key} v{row.version}")


def not_stored(key: str) -> NotFound:
    """The error for a script that a queue or the settings name but that has no version."""
    return NotFound(
        _("script %(key)s is assigned but not stored; load it with `qm script load`", key=repr(key))
    )


@dataclass(frozen=True, slots=True)
class ParsedVersion:
    """One stored version of a script, with its parsed form for the scoring library."""

    id: int
    key: str
    version: int
    script: ParsedScript


_SCRIPTS = Script.__table__  # type: ignore[attr-defined]
_LATEST_ID = (
    sa.select(_SCRIPTS.c.id)
    .where(_SCRIPTS.c.key == sa.bindparam("key"))
    .order_by(_SCRIPTS.c.version.desc())
    .limit(1)
)


class ScriptCache:
    """Parsed script versions for one batch run (`qm process`).

    A stored version never changes, so each is read and parsed once per run; only the id
    of a script's newest version is looked up on every use (one indexed query), so a
    version stored during the run is picked up by the next call.
    """

    def __init__(self) -> None:
        self._versions: dict[int, ParsedVersion] = {}

    def latest_id(self, session: Session, key: str) -> int | None:
        """The id of the newest stored version of `key`; None when no version is stored."""
        found: int | None = session.connection().execute(_LATEST_ID, {"key": key}).scalar()
        return found

    def version(self, session: Session, script_id: int) -> ParsedVersion:
        """The stored version `script_id`, parsed.

        Raises:
            NotFound: no such version.
        """
        cached = self._versions.get(script_id)
        if cached is None:
            row = session.get(Script, script_id)
            if row is None or row.id is None:
                raise NotFound(_("no script version %(script_id)s", script_id=script_id))
            parsed = _parse_cached(row.body, f"script {row.key} v{row.version}")
            cached = ParsedVersion(row.id, row.key, row.version, parsed)
            self._versions[script_id] = cached
        return cached


@lru_cache(maxsize=64)
def _parse_canonical(canonical: str, source: str) -> ParsedScript:
    return parse_script(json.loads(canonical), source=source)


def _parse_cached(body: dict[str, Any], source: str) -> ParsedScript:
    # Parsing is keyed on the content itself, so apps on different databases never
    # share a parse of a different script that happens to have the same row id.
    return _parse_canonical(json.dumps(body, sort_keys=True), source)
