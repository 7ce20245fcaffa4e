"""The scoring library's view of a transcript: who said what, when."""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SPEAKERS = ("agent", "customer", "unknown")


class TranscriptError(ValueError):
    """A transcript document is malformed; the message names the source and field."""


@dataclass(frozen=True, slots=True)
class Utterance:
    """One segment: speaker, start and end in seconds from the start of the recording, text."""

    speaker: str
    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class CallTranscript:
    """A speaker-labelled call transcript."""

    call_id: str
    language: str
    duration: float | None
    utterances: tuple[Utterance, ...]

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, source: str = "<transcript>"
    ) -> "CallTranscript":
        """Read DESIGN.md's transcript JSON (word timings are ignored).

        Raises:
            TranscriptError: naming `source` and the field, e.g. `segments[2].start`.
        """
        if not isinstance(data, Mapping):
            raise TranscriptError(f"{source}: expected a JSON object")
        language = data.get("language")
        if language not in ("en", "zh"):
            raise TranscriptError(f"{source}: language: must be en or zh, got {language!r}")
        segments = data.get("segments")
        if not isinstance(segments, list):
            raise TranscriptError(f"{source}: segments: expected a list")
        utterances = []
        for i, seg in enumerate(segments):
            where = f"{source}: segments[{i}]"
            if not isinstance(seg, Mapping):
                raise TranscriptError(f"{where}: expected an object")
            speaker = seg.get("speaker", "unknown")
            if speaker not in SPEAKERS:
                raise TranscriptError(f"{where}.speaker: must be one of {', '.join(SPEAKERS)}")
            times = []
            for key in ("start", "end"):
                value = seg.get(key)
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int | float)
                    or not math.isfinite(value)
                ):
                    raise TranscriptError(f"{where}.{key}: expected a number, got {value!r}")
                times.append(float(value))
            if times[1] < times[0]:
                raise TranscriptError(f"{where}.end: {times[1]} is before start {times[0]}")
            text = seg.get("text")
            if not isinstance(text, str):
                raise TranscriptError(f"{where}.text: expected a string")
            utterances.append(Utterance(speaker, times[0], times[1], text))
        duration = data.get("duration")
        if duration is not None and (
            isinstance(duration, bool)
            or not isinstance(duration, int | float)
            or not math.isfinite(duration)
            or duration < 0
        ):
            raise TranscriptError(f"{source}: duration: expected seconds >= 0, got {duration!r}")
        call_id = data.get("call_id")
        if call_id is not None and not isinstance(call_id, str | int):
            raise TranscriptError(f"{source}: call_id: expected a string, got {call_id!r}")
        return cls(
            call_id=str(call_id or ""),
            language=str(language),
            duration=None if duration is None else float(duration),
            utterances=tuple(sorted(utterances, key=lambda u: (u.start, u.end))),
        )
