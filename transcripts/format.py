"""DESIGN.md's transcript JSON: typed values, strict parsing and serialisation."""

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transcripts.errors import TranscriptFormatError

SPEAKERS = ("agent", "customer", "unknown")
LANGUAGES = ("en", "zh")
# Limits that keep every value storable and every sum finite: one recording lasts at most
# a day, an utterance holds at most MAX_TEXT characters, a word MAX_WORD, an id MAX_ID.
MAX_SECONDS = 24 * 60 * 60.0
MAX_TEXT = 10_000
MAX_WORD = 200
MAX_ID = 128
# Line breaks and tabs are whitespace in an utterance; other control characters (NUL, escape,
# C1 controls) and lone surrogates are damage, and PostgreSQL refuses NUL outright.
_DAMAGE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Word:
    """One word with its times in seconds from the start of the recording."""

    text: str
    start: float
    end: float
    probability: float | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """One utterance of one speaker."""

    speaker: str
    start: float
    end: float
    text: str
    words: tuple[Word, ...] | None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    """A speaker-labelled transcript of one call."""

    call_id: str
    language: str
    duration: float | None
    segments: tuple[Segment, ...]


def _number(
    value: object,
    source: str,
    field: str,
    *,
    allow_none: bool = False,
    high: float = MAX_SECONDS,
) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TranscriptFormatError(source, field, f"expected a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        number = math.inf
    if not math.isfinite(number) or number < 0:
        raise TranscriptFormatError(source, field, f"must be a finite number >= 0, got {value!r}")
    if number > high:
        raise TranscriptFormatError(source, field, f"must be {high:g} or less, got {value!r}")
    return number


def _text(value: object, source: str, field: str, *, max_length: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise TranscriptFormatError(source, field, f"expected a string, got {value!r}")
    if len(value) > max_length:
        raise TranscriptFormatError(source, field, f"is longer than {max_length} characters")
    bad = _DAMAGE.search(value)
    if bad is not None:
        raise TranscriptFormatError(
            source, field, f"contains a control character (U+{ord(bad.group()):04X})"
        )
    return value


def _parse_word(raw: object, source: str, field: str) -> Word:
    if not isinstance(raw, Mapping):
        raise TranscriptFormatError(source, field, "expected an object")
    start = _number(raw.get("start"), source, f"{field}.start")
    end = _number(raw.get("end"), source, f"{field}.end")
    assert start is not None and end is not None
    if end < start:
        raise TranscriptFormatError(
            source, f"{field}.end", f"ends ({end}) before it starts ({start})"
        )
    probability = _number(
        raw.get("probability"), source, f"{field}.probability", allow_none=True, high=1.0
    )
    text = _text(raw.get("text"), source, f"{field}.text", max_length=MAX_WORD)
    return Word(text, start, end, probability)


def _parse_segment(raw: object, source: str, field: str) -> Segment:
    if not isinstance(raw, Mapping):
        raise TranscriptFormatError(source, field, "expected an object")
    speaker = raw.get("speaker", "unknown")
    if speaker not in SPEAKERS:
        raise TranscriptFormatError(
            source, f"{field}.speaker", f"must be one of {', '.join(SPEAKERS)}, got {speaker!r}"
        )
    start = _number(raw.get("start"), source, f"{field}.start")
    end = _number(raw.get("end"), source, f"{field}.end")
    assert start is not None and end is not None
    if end < start:
        raise TranscriptFormatError(
            source, f"{field}.end", f"ends ({end}) before it starts ({start})"
        )
    words_raw = raw.get("words")
    words: tuple[Word, ...] | None = None
    if words_raw is not None:
        if not isinstance(words_raw, list):
            raise TranscriptFormatError(source, f"{field}.words", "expected a list")
        words = tuple(
            _parse_word(w, source, f"{field}.words[{i}]") for i, w in enumerate(words_raw)
        )
    return Segment(speaker, start, end, _text(raw.get("text"), source, f"{field}.text"), words)


def parse_transcript(data: object, *, source: str = "<transcript>") -> Transcript:
    """Validate a decoded transcript document and return it typed.

    Args:
        data: the decoded JSON value.
        source: a name for error messages, usually the file path.

    Raises:
        TranscriptFormatError: naming `source` and the offending field, e.g. `segments[3].start`.
    """
    if not isinstance(data, Mapping):
        raise TranscriptFormatError(source, "(document)", "expected a JSON object")
    call_id = _text(data.get("call_id", ""), source, "call_id", max_length=MAX_ID)
    language = data.get("language")
    if language not in LANGUAGES:
        raise TranscriptFormatError(
            source, "language", f"must be one of {', '.join(LANGUAGES)}, got {language!r}"
        )
    duration = _number(data.get("duration"), source, "duration", allow_none=True)
    segments_raw = data.get("segments")
    if not isinstance(segments_raw, list):
        raise TranscriptFormatError(source, "segments", "expected a list")
    segments = tuple(
        _parse_segment(raw, source, f"segments[{i}]") for i, raw in enumerate(segments_raw)
    )
    return Transcript(call_id, str(language), duration, segments)


def load_transcript(path: Path) -> Transcript:
    """Read and validate a transcript JSON file.

    Raises:
        TranscriptFormatError: when the file is unreadable, not JSON, or not in the format.
    """
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TranscriptFormatError(str(path), "(file)", f"cannot read: {exc}") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TranscriptFormatError(
            str(path),
            "(file)",
            f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
        ) from exc
    except RecursionError as exc:  # nesting deeper than any transcript has
        raise TranscriptFormatError(str(path), "(file)", "nested too deeply") from exc
    return parse_transcript(data, source=str(path))


def transcript_to_dict(transcript: Transcript) -> dict[str, Any]:
    """The transcript as DESIGN.md's JSON object (words only where known)."""
    segments: list[dict[str, Any]] = []
    for seg in transcript.segments:
        item: dict[str, Any] = {
            "speaker": seg.speaker,
            "start": seg.start,
            "end": seg.end,
            "text": seg.text,
        }
        if seg.words is not None:
            item["words"] = [
                {"text": w.text, "start": w.start, "end": w.end}
                | ({} if w.probability is None else {"probability": w.probability})
                for w in seg.words
            ]
        segments.append(item)
    return {
        "call_id": transcript.call_id,
        "language": transcript.language,
        "duration": transcript.duration,
        "segments": segments,
    }
