"""The scoring library's view of a transcript: who said what, when."""

from dataclasses import dataclass


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
