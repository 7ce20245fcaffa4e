"""The per-call pipeline: transcription, key-point checking, metrics.

Each stage records its outcome per call (`call_stage`). A stage's slow part (speech
recognition, model loading) runs outside any transaction; its result is written in a
short transaction of its own that starts with the SQLite write lock (see `qm.db`). When a
stage raises, a plain reason is recorded on that call (the full error goes to the log
under a short error id) and the remaining calls go on. Re-running picks up whatever is
not yet done or skipped, so an interrupted run resumes where it stopped and failed
stages are retried.

Several runs (processes, machines) may work on one database at once: each claims a few
calls at a time (`qm.domain.claims`). Why a stage failed is told by `qm.domain.failures`.
"""

import logging
import secrets
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.db import session_scope
from qm.domain import redaction
from qm.domain import scripts as script_store
from qm.domain.claims import (
    CLAIM_SECONDS,
    FINISHED,
    BatchClaims,
    ClaimCursor,
    claim_calls,
    new_worker_id,
    release_claims,
    unfinished,
)
from qm.domain.failures import plain_reason
from qm.domain.scoring_bridge import (
    call_transcript,
    check_result_rows,
    courtesy_for,
    handle_seconds,
)
from qm.domain.store import current_transcript, replace_transcript, transcript_segments
from qm.models import (
    Call,
    CallMetrics,
    CallStage,
    Customer,
    KeyPointResult,
    Queue,
    Stage,
    StageStatus,
    utcnow,
)
from qm.settings import Settings
from transcripts import Transcript as TranscriptDoc
from transcripts.redact import redact_transcript

log = logging.getLogger(__name__)
STAGES = (Stage.TRANSCRIBE, Stage.KEYPOINTS, Stage.METRICS)


class StageSkipped(Exception):
    """Raised by a stage that has nothing to do for this call; the message says why."""


@dataclass
class ProcessReport:
    """What one `qm process` run did."""

    calls: int = 0
    done: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class AsrProvider:
    """Loads the ASR engine on first use and keeps it for the whole run (one per process)."""

    def __init__(self, settings: Settings, *, fallback: bool = False) -> None:
        self.settings = settings
        self.fallback = fallback
        self._engine: Any = None
        self.warning: str | None = None

    def engine(self) -> Any:
        """The loaded engine; with `fallback`, pocketsphinx when Whisper cannot load."""
        if self._engine is None:
            from transcripts.asr import AsrConfig, load_engine
            from transcripts.errors import EngineError

            s = self.settings
            config = s.asr_config()
            try:
                self._engine = load_engine(config)
            except EngineError as exc:
                if not self.fallback or s.asr_engine == "pocketsphinx":
                    raise
                self.warning = (
                    f"{exc} — falling back to pocketsphinx (offline, English only, LOW ACCURACY: "
                    "expect 30-70% word errors; key-point results on these calls are unreliable)"
                )
                self._engine = load_engine(AsrConfig(engine="pocketsphinx", language="en"))
        return self._engine


@dataclass
class PipelineContext:
    """What the stages share during one run."""

    settings: Settings
    asr: AsrProvider
    _matcher: Any = None
    _matcher_error: Exception | None = None

    def matcher(self) -> Any:
        """The semantic matcher when QM_SEMANTIC_MODEL is set, loaded once per run; else None.

        Raises:
            SemanticMatcherError: the model cannot be loaded (raised again for every call,
                without retrying the load, so each call's keypoints stage records why).
        """
        if self.settings.semantic_model is None:
            return None
        if self._matcher is None and self._matcher_error is None:
            from scoring.semantic import SemanticMatcherError, load_sentence_transformer

            try:
                self._matcher = load_sentence_transformer(
                    self.settings.semantic_model,
                    low=self.settings.semantic_low,
                    high=self.settings.semantic_high,
                )
            except SemanticMatcherError as exc:
                self._matcher_error = exc
        if self._matcher_error is not None:
            raise self._matcher_error
        return self._matcher


def _purged(call: Call) -> StageSkipped | None:
    if call.purged_at is None:
        return None
    # The scores computed before the removal are kept; re-running must not clear them.
    return StageSkipped(
        f"recording and transcript removed ({call.purge_reason}) on "
        f"{call.purged_at:%Y-%m-%d}; earlier results are kept"
    )


@dataclass(frozen=True, slots=True)
class Transcribed:
    """What speech recognition produced for a call, before it is stored."""

    doc: TranscriptDoc
    engine_name: str
    # The recording with the redacted spans beeped, adopted when the transcript is stored.
    recording: redaction.AudioRedaction | None = None


def transcribe_audio(engine: Engine, call: Call, ctx: PipelineContext) -> Transcribed:
    """Run speech recognition on the call's audio (slow: no transaction is held meanwhile).

    Raises:
        StageSkipped: the call has a transcript already, or no audio.
    """
    if (skipped := _purged(call)) is not None:
        raise skipped
    keep = ctx.settings.keep_original_audio
    with Session(engine) as session:
        existing = current_transcript(session, call.id)
    if existing is not None:
        # An imported transcript in which a card number was redacted: the recording says
        # it too, so it is replaced by a copy with that span beeped.
        beeped = redaction.redact_recording(engine, call.id, keep_original=keep)
        note = f"; recording redacted ({beeped.spans} span(s) beeped)" if beeped else ""
        raise StageSkipped(f"transcript already present ({existing.source}){note}")
    if not call.audio_path:
        raise StageSkipped("no audio and no transcript")
    asr = ctx.asr.engine()
    channel = call.agent_channel or ctx.settings.agent_channel
    doc = asr.transcribe_file(Path(call.audio_path), call_id=call.id, agent_channel=channel)
    doc = redact_transcript(doc)  # the engines redact too; storage must not depend on it
    recording = redaction.write_redacted_copy(call.id, call.audio_path, doc, keep_original=keep)
    return Transcribed(doc, getattr(asr, "name", ctx.settings.asr_engine), recording)


def run_transcribe(
    session: Session, call: Call, ctx: PipelineContext, prepared: Transcribed
) -> str:
    """Store the transcript that `transcribe_audio` produced."""
    if (skipped := _purged(call)) is not None:  # erased while the engine was running
        raise skipped
    existing = current_transcript(session, call.id)
    if existing is not None:  # imported or corrected while the engine was running
        if prepared.recording is not None:
            prepared.recording.undo()
        raise StageSkipped(f"transcript already present ({existing.source})")
    doc = prepared.doc
    replace_transcript(session.connection(), call.id, doc, source=f"asr:{prepared.engine_name}")
    detail = f"{len(doc.segments)} segment(s) by {prepared.engine_name}"
    if prepared.recording is not None:
        redaction.adopt_redacted_copy(session, call, prepared.recording)
        detail += f"; recording redacted ({prepared.recording.spans} span(s) beeped)"
    if ctx.asr.warning:
        detail += f"; WARNING: {ctx.asr.warning}"
    return detail


def _clear_keypoints(session: Session, call_id: str) -> None:
    table = KeyPointResult.__table__  # type: ignore[attr-defined]
    session.execute(sa.delete(table).where(table.c.call_id == call_id))
    metrics = session.get(CallMetrics, call_id)
    if metrics is not None:
        metrics.compliance = None
        metrics.critical_failed = None
        metrics.uncertain_items = 0


def _script_for(session: Session, call: Call, settings: Settings) -> str | None:
    if call.queue:
        queue = session.get(Queue, call.queue)
        if queue is not None and queue.script_key:
            return queue.script_key
    return settings.default_script


def load_matcher(engine: Engine, call: Call, ctx: PipelineContext) -> None:  # noqa: ARG001
    """Load the semantic matcher (once per run) before the keypoints stage takes the write lock.

    A load error is kept by `ctx` and raised by the stage itself, after its own checks
    (no transcript, no script) have had their say.
    """
    from scoring.semantic import SemanticMatcherError

    with suppress(SemanticMatcherError):
        ctx.matcher()


def run_keypoints(session: Session, call: Call, ctx: PipelineContext, prepared: None) -> str:  # noqa: ARG001
    """Check the transcript against the script assigned to the call's queue."""
    if (skipped := _purged(call)) is not None:
        raise skipped
    _clear_keypoints(session, call.id)
    transcript = current_transcript(session, call.id)
    if transcript is None:
        raise StageSkipped("no transcript")
    key = _script_for(session, call, ctx.settings)
    if key is None:
        raise StageSkipped(
            f"no script for queue {call.queue or '(none)'}: assign one with "
            "`qm script load FILE --queue Q` or set QM_DEFAULT_SCRIPT"
        )
    stored, script = script_store.latest_parsed(session, key)
    doc = call_transcript(call.id, transcript, transcript_segments(session, transcript.id))
    result, rows = check_result_rows(script, doc, matcher=ctx.matcher())
    assert stored.id is not None
    for row in rows:
        session.add(KeyPointResult(call_id=call.id, script_id=stored.id, **row))
    metrics = session.get(CallMetrics, call.id) or CallMetrics(call_id=call.id)
    metrics.compliance = result.compliance
    metrics.critical_failed = result.critical_failed
    metrics.uncertain_items = sum(1 for r in rows if r["uncertain"])
    metrics.computed_at = utcnow()
    session.add(metrics)
    hits = sum(1 for item in result.key_points if item.hit)
    return f"{hits}/{len(result.key_points)} key points hit with {stored.key} v{stored.version}"


def run_metrics(session: Session, call: Call, ctx: PipelineContext, prepared: None) -> str:  # noqa: ARG001
    """Per-call operational figures and courtesy sub-measures."""
    metrics = session.get(CallMetrics, call.id) or CallMetrics(call_id=call.id)
    metrics.handle_seconds = handle_seconds(call.talk_seconds, call.hold_seconds, call.wrap_seconds)
    metrics.transferred = None if call.transfers is None else call.transfers >= 1
    transcript = current_transcript(session, call.id)
    if call.purged_at is None:
        # A removed transcript leaves the courtesy figures measured before the removal.
        metrics.courtesy = None
    if transcript is not None:
        customer = session.get(Customer, call.customer_id) if call.customer_id else None
        name = customer.name if customer is not None and customer.name != customer.id else None
        extra: dict[str, tuple[str, ...]] | None = None
        key = _script_for(session, call, ctx.settings)
        if key is not None and script_store.exists(session, key):
            extra = dict(script_store.latest_parsed(session, key)[1].courtesy)
        doc = call_transcript(call.id, transcript, transcript_segments(session, transcript.id))
        metrics.courtesy = courtesy_for(doc, customer_name=name, extra=extra)
    metrics.computed_at = utcnow()
    session.add(metrics)
    return "computed"


@dataclass(frozen=True, slots=True)
class StageRunner:
    """One stage: `prepare` does the slow part with no transaction open and may raise
    StageSkipped; `write` stores the outcome inside the write transaction and returns the
    stage detail."""

    write: Callable[[Session, Call, PipelineContext, Any], str]
    prepare: Callable[[Engine, Call, PipelineContext], Any] | None = None


RUNNERS: dict[Stage, StageRunner] = {
    Stage.TRANSCRIBE: StageRunner(run_transcribe, prepare=transcribe_audio),
    Stage.KEYPOINTS: StageRunner(run_keypoints, prepare=load_matcher),
    Stage.METRICS: StageRunner(run_metrics),
}


def unfinished_call_ids(engine: Engine, call_ids: Iterable[str] | None = None) -> list[str]:
    """Calls with at least one stage neither done nor skipped, oldest first."""
    query = sa.select(col(Call.id)).where(unfinished()).order_by(col(Call.started_at), col(Call.id))
    wanted = set(call_ids) if call_ids is not None else None
    with Session(engine) as session:
        ids = list(session.execute(query).scalars())
    return [i for i in ids if wanted is None or i in wanted]


# --- Running stages -------------------------------------------------------------------------


def _set_stage(
    session: Session, call_id: str, stage: Stage, status: StageStatus, detail: str
) -> None:
    row = session.exec(
        select(CallStage).where(CallStage.call_id == call_id, CallStage.stage == stage)
    ).first()
    if row is None:
        row = CallStage(
            call_id=call_id, stage=stage, status=status, detail=detail[:4000], attempts=1
        )
    else:
        row.status = status
        row.detail = detail[:4000]
        row.attempts += 1
        row.updated_at = utcnow()
    session.add(row)


def _statuses(session: Session, call_id: str) -> dict[str, str]:
    rows = session.exec(select(CallStage).where(CallStage.call_id == call_id)).all()
    return {r.stage: r.status for r in rows}


def _run_stage(
    engine: Engine, call_id: str, stage: Stage, ctx: PipelineContext, worker: str | None
) -> StageStatus | None:
    """Run one stage of one call; None when the call is gone or no longer this run's."""
    runner = RUNNERS[stage]
    with Session(engine, expire_on_commit=False) as session:
        call = session.get(Call, call_id)
    if call is None:
        return None  # deleted meanwhile
    prepared: Any = None
    skipped: StageSkipped | None = None
    if runner.prepare is not None:
        try:
            prepared = runner.prepare(engine, call, ctx)
        except StageSkipped as skip:
            skipped = skip
    with session_scope(engine, immediate=True) as session:
        call = session.get(Call, call_id, with_for_update=True)
        if call is None:
            return None
        if worker is not None and call.claimed_by != worker:
            log.info("call %s: claim lost to %s; leaving it to that run", call_id, call.claimed_by)
            return None
        if skipped is None:
            try:
                detail, status = runner.write(session, call, ctx, prepared), StageStatus.DONE
            except StageSkipped as skip:
                skipped = skip
        if skipped is not None:
            # Stages raise this before writing anything but their own clean-up.
            detail, status = str(skipped), StageStatus.SKIPPED
        _set_stage(session, call_id, stage, status, detail)
    return status


def process_call(
    engine: Engine,
    call_id: str,
    ctx: PipelineContext,
    report: ProcessReport,
    *,
    claims: BatchClaims | None = None,
) -> None:
    """Run the call's unfinished stages in order; stop at the first failure.

    With `claims`, a stage runs only while this run holds the call's claim, and is not
    stored when the claim was lost meanwhile.
    """
    with Session(engine, expire_on_commit=False) as session:
        statuses = _statuses(session, call_id)
    for stage in STAGES:
        if statuses.get(stage) in FINISHED:
            continue
        if claims is not None and not claims.holds(call_id):
            return  # the claim ran out and another run took the call over
        worker = claims.worker if claims is not None else None
        try:
            status = _run_stage(engine, call_id, stage, ctx, worker)
        except Exception as exc:
            error_id = secrets.token_hex(3)
            log.error(
                "call %s, stage %s failed (error id %s)", call_id, stage, error_id, exc_info=exc
            )
            message = plain_reason(exc, error_id)
            with session_scope(engine, immediate=True) as session:
                _set_stage(session, call_id, stage, StageStatus.FAILED, message)
            report.failed.append((call_id, stage.value, message))
            return
        if status is None:
            return
        bucket = report.done if status == StageStatus.DONE else report.skipped
        bucket[stage] = bucket.get(stage, 0) + 1


def process_pending(
    engine: Engine,
    settings: Settings,
    *,
    call_ids: Iterable[str] | None = None,
    asr_fallback: bool = False,
    progress: Callable[[int], None] | None = None,
    claim_seconds: int = CLAIM_SECONDS,
) -> ProcessReport:
    """Run every unfinished stage of every imported call (or of `call_ids`).

    Other runs may work on the same database at the same time: each call is claimed
    before it is worked on (see the module docstring), so no two runs process one call.

    Args:
        engine: the database.
        settings: ASR and script settings.
        call_ids: restrict the run to these calls.
        asr_fallback: use pocketsphinx when the Whisper model cannot be loaded (the demo).
        progress: called with 1 after each call.
        claim_seconds: how long a claim holds without renewal.
    """
    ctx = PipelineContext(settings, AsrProvider(settings, fallback=asr_fallback))
    report = ProcessReport()
    worker = new_worker_id()
    wanted = list(call_ids) if call_ids is not None else None
    # Stages that failed since this instant are not retried by this run (see claim_calls);
    # stage rows are stamped by the clock of the process that ran them.
    started = utcnow()
    cursor = ClaimCursor()
    try:
        while True:
            batch = claim_calls(
                engine,
                worker,
                run_started=started,
                call_ids=wanted,
                claim_seconds=claim_seconds,
                cursor=cursor,
            )
            if not batch:
                if cursor.started_at is None:
                    break  # a walk from the start found nothing left to claim
                # Once more from the start: calls another run released unfinished, or
                # whose claim ran out, may wait behind the cursor.
                cursor = ClaimCursor()
                continue
            claims = BatchClaims(engine, worker, batch, claim_seconds)
            for call_id in batch:
                if not claims.holds(call_id):
                    continue  # the claim ran out and another run took the call over
                process_call(engine, call_id, ctx, report, claims=claims)
                claims.finished(call_id)
                report.calls += 1
                if progress is not None:
                    progress(1)
            release_claims(engine, worker, batch)
    finally:
        release_claims(engine, worker)
    if ctx.asr.warning:
        report.warnings.append(ctx.asr.warning)
    return report
