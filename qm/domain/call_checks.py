"""Conversions between stored rows and the scoring library's plain values."""

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from qm.domain.stored_transcripts import TranscriptInfo
from qm.models import ResultKind, Segment
from scoring.courtesy import measure_courtesy
from scoring.exemplars import Exemplar
from scoring.keypoints import CheckResult, check_call
from scoring.matching import Matcher
from scoring.script import Script as ParsedScript
from scoring.semantic import EmbeddingMatcher
from scoring.transcript import CallTranscript, Utterance
from transcripts import Transcript as TranscriptDoc

_SEGMENTS = Segment.__table__  # type: ignore[attr-defined]
_UTTERANCES = (
    sa.select(_SEGMENTS.c.speaker, _SEGMENTS.c.start, _SEGMENTS.c.end, _SEGMENTS.c.text)
    .where(_SEGMENTS.c.transcript_id == sa.bindparam("transcript_id"))
    .order_by(_SEGMENTS.c.position)
)


def transcript_view(doc: TranscriptDoc, *, call_id: str) -> CallTranscript:
    """A parsed transcript file (`transcripts.format`) as the scoring library's input: its
    utterances in time order (word timings are not used), `call_id` where the file has none."""
    utterances = (Utterance(s.speaker, s.start, s.end, s.text) for s in doc.segments)
    return CallTranscript(
        call_id=doc.call_id or call_id,
        language=doc.language,
        duration=doc.duration,
        utterances=tuple(sorted(utterances, key=lambda u: (u.start, u.end))),
    )


def read_call_transcript(session: Session, transcript: TranscriptInfo) -> CallTranscript:
    """The stored transcript as the scoring library's input (its segments read as plain
    values: no ORM objects are built for them)."""
    rows = session.connection().execute(_UTTERANCES, {"transcript_id": transcript.id})
    return CallTranscript(
        call_id=transcript.call_id,
        language=transcript.language,
        duration=transcript.duration,
        utterances=tuple(Utterance(*row) for row in rows),
    )


def check_transcript(
    script: ParsedScript,
    transcript: CallTranscript,
    *,
    matcher: Matcher | None = None,
    exemplars: Sequence[Exemplar] = (),
) -> CheckResult:
    """Check `transcript` against `script`, with the optional semantic stage and what
    reviewers taught the checker (`exemplars`, see `qm.domain.exemplars`).

    Raises:
        SemanticMatcherError: the semantic matcher's model failed on this call.
    """
    if isinstance(matcher, EmbeddingMatcher):
        # One batched embedding of the call's texts instead of one model call per text.
        matcher.warm_call(script, transcript, exemplars)
    return check_call(script, transcript, matcher=matcher, exemplars=exemplars)


def check_result_rows(
    script: ParsedScript,
    transcript: CallTranscript,
    *,
    matcher: Matcher | None = None,
    exemplars: Sequence[Exemplar] = (),
) -> tuple[CheckResult, list[dict[str, Any]]]:
    """Check `transcript` and return the result with one row of values per item.

    Args:
        matcher: the optional semantic stage (see `scoring.semantic`).
        exemplars: reviewers' exemplars of the script's key points.
    """
    result = check_transcript(script, transcript, matcher=matcher, exemplars=exemplars)
    rows = [
        {
            "kind": ResultKind(item.kind),
            "item_id": item.id,
            "label": item.label,
            "hit": item.hit,
            "uncertain": item.uncertain,
            "start": item.start,
            "end": item.end,
            "speaker": item.speaker,
            "evidence": item.evidence,
            "score": item.score,
            "method": item.method,
            "note": item.note,
            "required": item.required,
            "critical": item.critical,
            "weight": item.weight,
        }
        for item in (*result.key_points, *result.forbidden)
    ]
    return result, rows


def courtesy_for(
    transcript: CallTranscript,
    *,
    customer_name: str | None,
    extra: Mapping[str, Sequence[str]] | None,
) -> dict[str, Any]:
    """Courtesy sub-measures of the agent's speech, as stored on the call's metrics."""
    courtesy = measure_courtesy(
        transcript, language=transcript.language, extra=extra, customer_name=customer_name
    )
    result: dict[str, Any] = courtesy.to_dict()
    return result


def handle_seconds(talk: float | None, hold: float | None, wrap: float | None) -> float | None:
    """Handle time = talk + hold + wrap (DESIGN.md).

    An empty manifest cell means unknown, not zero, so the handle time of a call with any
    part unknown is unknown too (and the call does not count toward AHT).
    """
    if talk is None or hold is None or wrap is None:
        return None
    return talk + hold + wrap
