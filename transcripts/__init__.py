"""Audio to speaker-labelled transcript: formats, decoding, ASR engines, redaction, WER.

A pure library: no database, no web.
"""

from transcripts.errors import AudioError, EngineError, TranscriptError, TranscriptFormatError
from transcripts.format import (
    Segment,
    Transcript,
    Word,
    load_transcript,
    parse_transcript,
    transcript_to_dict,
)

__all__ = (
    "AudioError",
    "EngineError",
    "Segment",
    "Transcript",
    "TranscriptError",
    "TranscriptFormatError",
    "Word",
    "load_transcript",
    "parse_transcript",
    "transcript_to_dict",
)
