"""Importing the Harper Valley bank-call dataset's transcript + metadata JSON pairs.

Layout: `DIR/metadata/<sid>.json` and `DIR/transcript/<sid>.json`. The human
transcript becomes the call's transcript; the dataset has no hold, wrap, transfer or
resolution fields, so those stay unknown here (the demo fills them in, and says so).
"""

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from qm.domain.bounds import (
    MAX_AGENT_ID,
    MAX_CALL_ID,
    MAX_PART_SECONDS,
    latest_instant,
    normalize,
    text_problem,
)
from qm.domain.imports.ingest import CallRecord, ImportReport, Progress, import_records
from qm.errors import ValidationFailed
from qm.models import utcnow
from transcripts import Segment, Transcript

# Annotation tags of the human transcripts: [noise], [baby], <unk>, ...
_TAG = re.compile(r"\[[^\]]*\]|<[^>]*>")
ROLES = {"agent": "agent", "caller": "customer"}
# A conversation, and every utterance in it, lasts at most this long (bounds.py's 24 h).
MAX_SPAN_MS = int(MAX_PART_SECONDS * 1000)
MAX_UTTERANCE = 10_000  # characters of one utterance
MAX_NAME = 120  # characters of an agent's or caller's name (ids are made from them)


def sids(directory: Path) -> list[str]:
    """The conversation ids of a dataset folder, checking that both halves exist."""
    meta_dir, text_dir = directory / "metadata", directory / "transcript"
    for sub in (meta_dir, text_dir):
        if not sub.is_dir():
            raise ValidationFailed(
                str(sub), None, None, "folder not found (expected metadata/ and transcript/)"
            )
    found = sorted(p.stem for p in meta_dir.glob("*.json"))
    if not found:
        raise ValidationFailed(str(meta_dir), None, None, "no <sid>.json files")
    for sid in found:
        # The sid becomes the call id "hv-<sid>".
        problem = text_problem(sid, MAX_CALL_ID - 3)
        if problem is None and normalize(sid) != sid:
            problem = "has surrounding spaces or is not in Unicode NFC form"
        if problem is not None:
            raise ValidationFailed(str(meta_dir / f"{sid}.json"), None, "(file name)", problem)
        if not (text_dir / f"{sid}.json").is_file():
            raise ValidationFailed(
                str(text_dir / f"{sid}.json"), None, None, "transcript file missing"
            )
    return found


def customer_id(name: str) -> str:
    """A stable customer id from the caller's name ("Mary Smith" -> "mary-smith")."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown"


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(str(path), None, None, f"cannot read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ValidationFailed(str(path), exc.lineno, None, f"not valid JSON: {exc.msg}") from exc
    except RecursionError as exc:  # nesting deeper than any dataset file has
        raise ValidationFailed(str(path), None, None, "not valid JSON: nested too deeply") from exc


def _get(data: Any, path: Path, *keys: str) -> Any:
    value = data
    for depth, key in enumerate(keys):
        if not isinstance(value, Mapping) or key not in value:
            raise ValidationFailed(str(path), None, ".".join(keys[: depth + 1]), "missing")
        value = value[key]
    return value


def _milliseconds(data: Any, path: Path, *keys: str, high: float = MAX_SPAN_MS) -> int:
    """A whole number of milliseconds in [0, high]; NaN, infinities and huge values are refused."""
    value = _get(data, path, *keys)
    field = ".".join(keys)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValidationFailed(str(path), None, field, f"expected milliseconds, got {value!r}")
    if value > high:
        raise ValidationFailed(str(path), None, field, f"{value!r} must be {high:.0f} or less")
    return int(value)


def _text(value: Any, path: Path, field: str, max_length: int) -> str:
    """A one-line text value: a string (a number is accepted as its digits), normalised."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValidationFailed(str(path), None, field, f"expected a string, got {value!r}")
    text = normalize(value)
    problem = text_problem(text, max_length)
    if problem is not None:
        raise ValidationFailed(str(path), None, field, problem)
    return text


def _optional_text(data: Any, path: Path, field: str, key: str, max_length: int) -> str:
    """`data[key]` as text when `data` is an object holding it, else ""."""
    if not isinstance(data, Mapping) or data.get(key) is None:
        return ""
    return _text(data[key], path, f"{field}.{key}", max_length)


def _segments(raw: Any, path: Path) -> list[Segment]:
    if not isinstance(raw, list):
        raise ValidationFailed(str(path), None, None, "expected a list of segments")
    segments = []
    for i, seg in enumerate(raw):
        field = f"[{i}]"
        if not isinstance(seg, Mapping):
            raise ValidationFailed(str(path), None, field, "expected an object")
        role = seg.get("speaker_role")
        if role not in ROLES:
            raise ValidationFailed(
                str(path), None, f"{field}.speaker_role", f"unknown role {role!r}"
            )
        start = _milliseconds(seg, path, "start_ms") / 1000
        end = start + _milliseconds(seg, path, "duration_ms") / 1000
        text = seg.get("human_transcript")
        if not isinstance(text, str):
            raise ValidationFailed(
                str(path), None, f"{field}.human_transcript", "expected a string"
            )
        if len(text) > MAX_UTTERANCE:
            raise ValidationFailed(
                str(path),
                None,
                f"{field}.human_transcript",
                f"is longer than {MAX_UTTERANCE} characters",
            )
        # split() drops line breaks and tabs; any other control character is refused.
        cleaned = " ".join(_TAG.sub(" ", text).split())
        problem = text_problem(cleaned, MAX_UTTERANCE)
        if problem is not None:
            raise ValidationFailed(str(path), None, f"{field}.human_transcript", problem)
        if cleaned:
            segments.append(Segment(ROLES[role], round(start, 3), round(end, 3), cleaned))
    segments.sort(key=lambda s: (s.start, s.end))
    return segments


def read_conversation(directory: Path, sid: str, *, queue: str | None) -> CallRecord:
    """One conversation as a call record with its transcript."""
    meta_path = directory / "metadata" / f"{sid}.json"
    text_path = directory / "transcript" / f"{sid}.json"
    meta = _load(meta_path)
    latest_ms = latest_instant().timestamp() * 1000
    start_ms = _milliseconds(meta, meta_path, "start_time_ms", high=latest_ms)
    end_ms = _milliseconds(meta, meta_path, "end_time_ms", high=latest_ms + MAX_SPAN_MS)
    if end_ms < start_ms:
        raise ValidationFailed(str(meta_path), None, "end_time_ms", "is before start_time_ms")
    if end_ms - start_ms > MAX_SPAN_MS:
        raise ValidationFailed(
            str(meta_path), None, "end_time_ms", "the conversation would last over 24 hours"
        )
    speaker = _text(
        _get(meta, meta_path, "agent", "speaker_id"),
        meta_path,
        "agent.speaker_id",
        MAX_AGENT_ID - len("hv-agent-"),
    )
    agent_name = _optional_text(
        _get(meta, meta_path, "agent", "metadata"),
        meta_path,
        "agent.metadata",
        "agent_name",
        MAX_NAME,
    )
    caller = _optional_text(
        _get(meta, meta_path, "caller", "metadata"),
        meta_path,
        "caller.metadata",
        "first and last name",
        MAX_NAME,
    )
    tasks = _get(meta, meta_path, "tasks")
    reason = None
    if isinstance(tasks, list) and tasks:
        reason = _optional_text(tasks[0], meta_path, "tasks[0]", "task_type", 200) or None
    segments = _segments(_load(text_path), text_path)
    duration = (end_ms - start_ms) / 1000
    if segments:
        duration = max(duration, segments[-1].end)
    call_id = f"hv-{sid}"
    agent_id = f"hv-agent-{speaker}"
    values = {
        "id": call_id,
        "agent_id": agent_id,
        "customer_id": customer_id(caller) if caller else None,
        "queue": queue,
        "reason": reason,
        # 0 <= start_ms <= tomorrow, so this lies in bounds.py's range and never overflows.
        "started_at": datetime.fromtimestamp(start_ms / 1000, UTC),
        "talk_seconds": round((end_ms - start_ms) / 1000, 3),
        "hold_seconds": None,
        "wrap_seconds": None,
        "transfers": None,
        "resolved": None,
        "audio_path": None,
        "agent_channel": None,
        "source": "harper-valley",
        "imported_at": utcnow(),
    }
    transcript = Transcript(call_id, "en", round(duration, 3), tuple(segments))
    return CallRecord(
        values,
        customer_name=caller or None,
        agent_name=f"{agent_name} ({speaker})" if agent_name else None,
        transcript=transcript,
        transcript_source="harper-valley:human_transcript",
    )


def ingest_harper_valley(
    engine: Engine,
    directory: Path,
    *,
    queue: str | None = "hvnb-retail",
    actor: str = "cli",
    progress: Progress | None = None,
) -> ImportReport:
    """Import every conversation of a Harper Valley folder in one transaction.

    Raises:
        ValidationFailed: naming the file and field; nothing of the folder is stored.
    """
    found = sids(directory)

    def records() -> Iterator[CallRecord]:
        for sid in found:
            yield read_conversation(directory, sid, queue=queue)

    return import_records(
        engine,
        records(),
        file=str(directory),
        actor=actor,
        action="ingest.harper_valley",
        progress=progress,
    )
