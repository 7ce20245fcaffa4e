"""The transcribe stage: speech recognition on a call's audio, and storing its transcript
(with the recording's redacted copy)."""

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from qm.domain import redaction
from qm.domain.pipeline.stage_details import (
    NO_AUDIO,
    TRANSCRIBED,
    TRANSCRIBED_BEEPED,
    TRANSCRIPT_PRESENT,
    TRANSCRIPT_PRESENT_BEEPED,
    detail,
)
from qm.domain.pipeline.work import (
    CallWork,
    PipelineContext,
    StageSkipped,
    purged,
    read_inputs,
)
from qm.domain.stored_transcripts import current_transcript_info, replace_transcript
from qm.models import Call
from transcripts import Transcript as TranscriptDoc
from transcripts.redact import redact_transcript


@dataclass(frozen=True, slots=True)
class Transcribed:
    """What speech recognition produced for a call, before it is stored."""

    doc: TranscriptDoc
    engine_name: str
    # The recording with the redacted spans beeped, adopted when the transcript is stored.
    recording: redaction.AudioRedaction | None = None


def transcribe_audio(engine: Engine, work: CallWork, ctx: PipelineContext) -> Transcribed:
    """Run speech recognition on the call's audio (slow: no transaction is held meanwhile).

    Raises:
        StageSkipped: the call has a transcript already, or no audio.
    """
    call = work.call
    if (skipped := purged(call)) is not None:
        raise skipped
    keep = ctx.settings.keep_original_audio
    if work.inputs is None:
        with Session(engine) as session:
            read_inputs(session, work, ctx)
    assert work.inputs is not None
    existing = work.inputs.transcript
    if existing is not None:
        if call.audio_path and not redaction.is_redacted_copy(call.audio_path):
            # An imported transcript in which a card number was redacted: the recording
            # says it too, so it is replaced by a copy with that span beeped.
            beeped = redaction.redact_recording(engine, call.id, keep_original=keep)
            if beeped:
                raise StageSkipped(
                    detail(TRANSCRIPT_PRESENT_BEEPED, source=existing.source, spans=beeped.spans)
                )
        raise StageSkipped(detail(TRANSCRIPT_PRESENT, source=existing.source))
    if not call.audio_path:
        raise StageSkipped(detail(NO_AUDIO))
    asr = ctx.asr.engine()
    channel = call.agent_channel or ctx.settings.agent_channel
    doc = asr.transcribe_file(Path(call.audio_path), call_id=call.id, agent_channel=channel)
    doc = redact_transcript(doc)  # the engines redact too; storage must not depend on it
    recording = redaction.write_redacted_copy(call.id, call.audio_path, doc, keep_original=keep)
    return Transcribed(doc, getattr(asr, "name", ctx.settings.asr_engine), recording)


def run_transcribe(
    session: Session, work: CallWork, ctx: PipelineContext, prepared: Transcribed
) -> str:
    """Store the transcript that `transcribe_audio` produced."""
    call_id = work.call.id
    if (skipped := purged(work.call)) is not None:  # erased while the engine was running
        raise skipped
    existing = current_transcript_info(session, call_id)
    if existing is not None:  # imported or corrected while the engine was running
        if prepared.recording is not None:
            prepared.recording.undo()
        raise StageSkipped(detail(TRANSCRIPT_PRESENT, source=existing.source))
    doc = prepared.doc
    replace_transcript(session.connection(), call_id, doc, source=f"asr:{prepared.engine_name}")
    work.inputs = None  # the next stage reads the new transcript
    said = detail(TRANSCRIBED, segments=len(doc.segments), engine=prepared.engine_name)
    if prepared.recording is not None:
        call = session.get(Call, call_id)  # the stored row, to point at the copy
        assert call is not None  # the claim was confirmed under this transaction's lock
        redaction.adopt_redacted_copy(session, call, prepared.recording)
        work.call.audio_path = call.audio_path
        said = detail(
            TRANSCRIBED_BEEPED,
            segments=len(doc.segments),
            engine=prepared.engine_name,
            spans=prepared.recording.spans,
        )
    if ctx.asr.warning:
        # The engine's own words (a fallback was used, say): shown as they are.
        said += f"; WARNING: {ctx.asr.warning}"
    return said
