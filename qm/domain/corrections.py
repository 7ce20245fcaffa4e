"""Reviewer-corrected transcripts, the ASR accuracy they reveal, and transcript export.

A reviewer who fixes a machine transcript produces a reference for that call: the
engine's word error rate on it is measured once, when the correction is stored, and kept
per call and engine/model so that `asr_accuracy_summary` can report how each engine and
model does on this site's real calls (not on a public test set).
"""

import json
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from qm.domain.audit import record
from qm.domain.stored_transcripts import replace_transcript, transcript_doc, transcript_segments
from qm.errors import NotFound, ValidationFailed
from qm.i18n import gettext
from qm.models import AsrAccuracy, Call, CallStage, Stage, Transcript, TranscriptKind, utcnow
from transcripts.format import Transcript as TranscriptDoc
from transcripts.format import transcript_to_dict
from transcripts.redact import redact_transcript
from transcripts.wer import wer_report

ASR_SOURCE_PREFIX = "asr:"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class CorrectionResult:
    """What storing a corrected transcript did.

    Attributes:
        call_id: the call.
        accuracy: the engine's measured accuracy, or None when the original transcript
            was not produced by an engine (an imported human transcript has no WER to
            keep).
    """

    call_id: str
    accuracy: AsrAccuracy | None


@dataclass(frozen=True, slots=True)
class EngineAccuracy:
    """Accuracy of one engine/model over the calls reviewers corrected.

    Attributes:
        engine, model, language: what was measured.
        calls: number of corrected calls.
        pooled_wer: all errors over all reference units, so long calls weigh more.
        mean_wer, median_wer: of the per-call rates.
        reference_units: words (characters for Chinese) in all references together.
    """

    engine: str
    model: str
    language: str
    calls: int
    pooled_wer: float
    mean_wer: float
    median_wer: float
    reference_units: int


def engine_and_model(source: str) -> tuple[str, str] | None:
    """Split a transcript source like ``asr:faster-whisper/small`` into engine and model.

    Returns None for sources that are not an ASR engine (imports, reviewer corrections).
    """
    if not source.startswith(ASR_SOURCE_PREFIX):
        return None
    engine, _, model = source.removeprefix(ASR_SOURCE_PREFIX).partition("/")
    return engine, model


def store_correction(
    session: Session, call_id: str, doc: TranscriptDoc, *, reviewer: str, source: str
) -> CorrectionResult:
    """Store a reviewer's corrected transcript and measure the engine against it.

    Everything happens in the caller's transaction: the corrected transcript replaces an
    earlier correction, the accuracy row for (call, engine, model) is replaced, the
    call's key-point and metrics stages are reset so that `qm process` checks the
    corrected text, and the audit log records who corrected what.

    Args:
        session: an open session; the caller commits.
        call_id: the call the correction belongs to.
        doc: the corrected transcript (its `call_id`, when set, must match).
        reviewer: who corrected it (a user name).
        source: where the text came from, e.g. the file name.

    Raises:
        NotFound: the call does not exist.
        ValidationFailed: the document names another call, or has no text.
    """
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(gettext("call %(call_id)s not found", call_id=repr(call_id)))
    if doc.call_id and doc.call_id != call_id:
        raise ValidationFailed(
            source,
            None,
            "call_id",
            gettext(
                "the transcript is for call %(call_id)s, not %(call_id2)s",
                call_id=repr(doc.call_id),
                call_id2=repr(call_id),
            ),
        )
    # Redact first, so the engine's (already redacted) text is compared with redacted text:
    # a card number read out is not a recognition error.
    doc = redact_transcript(doc)
    corrected_text = " ".join(seg.text for seg in doc.segments)
    if not corrected_text.strip():
        raise ValidationFailed(
            source, None, "segments", gettext("a corrected transcript needs text")
        )

    original = session.exec(
        select(Transcript).where(
            Transcript.call_id == call_id, Transcript.kind == TranscriptKind.ORIGINAL
        )
    ).first()
    measured = engine_and_model(original.source) if original is not None else None
    report = None
    if original is not None and measured is not None:
        report = wer_report(
            corrected_text,
            " ".join(seg.text for seg in transcript_segments(session, original.id)),
            language=doc.language,
        )
        if report.wer.reference_length == 0:
            raise ValidationFailed(
                source, None, "segments", gettext("a corrected transcript needs words")
            )

    conn = session.connection()
    replace_transcript(
        conn, call_id, doc, kind=TranscriptKind.CORRECTED, source=f"reviewer:{reviewer}"
    )
    accuracy: AsrAccuracy | None = None
    if report is not None and measured is not None:
        engine, model = measured
        table = AsrAccuracy.__table__  # type: ignore[attr-defined]
        conn.execute(
            sa.delete(table).where(
                table.c.call_id == call_id, table.c.engine == engine, table.c.model == model
            )
        )
        counts = report.wer
        accuracy = AsrAccuracy(
            call_id=call_id,
            engine=engine,
            model=model,
            language=report.language,
            wer=counts.rate,
            cer=report.cer.rate,
            substitutions=counts.substitutions,
            deletions=counts.deletions,
            insertions=counts.insertions,
            reference_units=counts.reference_length,
            corrected_by=reviewer[:100],
            measured_at=utcnow(),
        )
        session.add(accuracy)

    # The key points and metrics were computed on the machine text: compute them again.
    stages = CallStage.__table__  # type: ignore[attr-defined]
    conn.execute(
        sa.delete(stages).where(
            stages.c.call_id == call_id, stages.c.stage.in_([Stage.KEYPOINTS, Stage.METRICS])
        )
    )
    record(
        session,
        actor=reviewer,
        action="transcript.corrected",
        entity="call",
        entity_id=call_id,
        detail={
            "source": source,
            "segments": len(doc.segments),
            "wer": None if accuracy is None else round(accuracy.wer, 4),
        },
    )
    session.flush()
    return CorrectionResult(call_id, accuracy)


def asr_accuracy_summary(session: Session) -> list[EngineAccuracy]:
    """Accuracy per engine, model and language over every corrected call, best first."""
    rows = session.exec(select(AsrAccuracy)).all()
    groups: dict[tuple[str, str, str], list[AsrAccuracy]] = {}
    for row in rows:
        groups.setdefault((row.engine, row.model, row.language), []).append(row)
    summary = []
    for (engine, model, language), items in groups.items():
        units = sum(r.reference_units for r in items)
        errors = sum(r.substitutions + r.deletions + r.insertions for r in items)
        rates = [r.wer for r in items]
        summary.append(
            EngineAccuracy(
                engine=engine,
                model=model,
                language=language,
                calls=len(items),
                pooled_wer=errors / units if units else 0.0,
                mean_wer=statistics.fmean(rates),
                median_wer=statistics.median(rates),
                reference_units=units,
            )
        )
    return sorted(summary, key=lambda s: (s.language, s.pooled_wer, s.engine, s.model))


def export_transcripts(
    session: Session, out_dir: Path, call_ids: Sequence[str] = (), *, kind: str = "current"
) -> list[Path]:
    """Write calls' transcripts as DESIGN.md transcript JSON files, one per call.

    Args:
        session: an open session.
        out_dir: created when missing; files are named ``<call id>.json`` (characters
            unsafe in a file name replaced by ``_``).
        call_ids: the calls to export; all calls with a transcript when empty.
        kind: ``current`` (the correction when there is one), ``original`` or ``corrected``.

    Raises:
        NotFound: a named call has no transcript of that kind.
    """
    query = select(Transcript).order_by(col(Transcript.call_id))
    if call_ids:
        query = query.where(col(Transcript.call_id).in_(list(call_ids)))
    chosen: dict[str, Transcript] = {}
    for row in session.exec(query).all():
        if kind == "current":
            if row.kind == TranscriptKind.CORRECTED or row.call_id not in chosen:
                chosen[row.call_id] = row
        elif row.kind == kind:
            chosen[row.call_id] = row
    missing = [c for c in call_ids if c not in chosen]
    if missing:
        raise NotFound(
            gettext(
                "no %(kind)s transcript for call(s): %(value)s", kind=kind, value=", ".join(missing)
            )
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for call_id, row in chosen.items():
        path = out_dir / f"{_UNSAFE.sub('_', call_id)}.json"
        document = transcript_to_dict(transcript_doc(session, row))
        path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
        written.append(path)
    return written
