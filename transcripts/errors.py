"""Errors raised by the transcripts library.

TranscriptError
├── TranscriptFormatError   a transcript JSON document breaks DESIGN.md's format
├── AudioError              a recording cannot be accepted or decoded
└── EngineError             an ASR engine cannot be loaded or fails
"""


class TranscriptError(Exception):
    """Base class of every error this package raises."""


class TranscriptFormatError(TranscriptError):
    """A transcript document is malformed; the message names the file and the field."""

    def __init__(self, source: str, field: str, message: str) -> None:
        self.source = source
        self.field = field
        self.message = message
        super().__init__(f"{source}: {field}: {message}")


class AudioError(TranscriptError):
    """A recording was rejected or could not be decoded."""


class EngineError(TranscriptError):
    """An ASR engine could not be loaded or failed while transcribing."""
