"""The per-call pipeline: transcription, key-point checking, metrics.

Each stage records its outcome per call (`call_stage`). A stage runs in its own
transaction; when it raises, the error is recorded on that call and the remaining
calls go on. Re-running picks up whatever is not yet done or skipped, so an
interrupted run resumes where it stopped and failed stages are retried.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.domain import scripts as script_store
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

log = logging.getLogger(__name__)
STAGES = (Stage.TRANSCRIBE, Stage.KEYPOINTS, Stage.METRICS)
FINISHED = (StageStatus.DONE.value, StageStatus.SKIPPED.value)


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


StageFn = Callable[[Session, Call, "PipelineContext"], str]


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


def run_transcribe(session: Session, call: Call, ctx: PipelineContext) -> str:
    """Transcribe the call's audio when it has audio and no transcript yet."""
    existing = current_transcript(session, call.id)
    if existing is not None:
        raise StageSkipped(f"transcript already present ({existing.source})")
    if not call.audio_path:
        raise StageSkipped("no audio and no transcript")
    from pathlib import Path

    engine = ctx.asr.engine()
    channel = call.agent_channel or ctx.settings.agent_channel
    doc = engine.transcribe_file(Path(call.audio_path), call_id=call.id, agent_channel=channel)
    name = getattr(engine, "name", ctx.settings.asr_engine)
    replace_transcript(session.connection(), call.id, doc, source=f"asr:{name}")
    detail = f"{len(doc.segments)} segment(s) by {name}"
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


def run_keypoints(session: Session, call: Call, ctx: PipelineContext) -> str:
    """Check the transcript against the script assigned to the call's queue."""
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


def run_metrics(session: Session, call: Call, ctx: PipelineContext) -> str:
    """Per-call operational figures and courtesy sub-measures."""
    metrics = session.get(CallMetrics, call.id) or CallMetrics(call_id=call.id)
    metrics.handle_seconds = handle_seconds(call.talk_seconds, call.hold_seconds, call.wrap_seconds)
    metrics.transferred = None if call.transfers is None else call.transfers >= 1
    transcript = current_transcript(session, call.id)
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


RUNNERS: dict[Stage, StageFn] = {
    Stage.TRANSCRIBE: run_transcribe,
    Stage.KEYPOINTS: run_keypoints,
    Stage.METRICS: run_metrics,
}


def unfinished_call_ids(engine: Engine, call_ids: Iterable[str] | None = None) -> list[str]:
    """Calls with at least one stage neither done nor skipped, oldest first."""
    finished = (
        sa.select(sa.func.count())
        .select_from(CallStage)
        .where(col(CallStage.call_id) == col(Call.id), col(CallStage.status).in_(FINISHED))
        .scalar_subquery()
    )
    query = (
        sa.select(col(Call.id))
        .where(finished < len(STAGES))
        .order_by(col(Call.started_at), col(Call.id))
    )
    wanted = set(call_ids) if call_ids is not None else None
    with Session(engine) as session:
        ids = list(session.execute(query).scalars())
    return [i for i in ids if wanted is None or i in wanted]


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


def process_call(engine: Engine, call_id: str, ctx: PipelineContext, report: ProcessReport) -> None:
    """Run the call's unfinished stages in order; stop at the first failure."""
    with Session(engine, expire_on_commit=False) as session:
        statuses = _statuses(session, call_id)
    for stage in STAGES:
        if statuses.get(stage) in FINISHED:
            continue
        try:
            with Session(engine, expire_on_commit=False) as session:
                call = session.get(Call, call_id)
                if call is None:
                    return  # deleted meanwhile
                try:
                    detail = RUNNERS[stage](session, call, ctx)
                    status = StageStatus.DONE
                except StageSkipped as skip:
                    # Stages raise this before writing anything but their own clean-up.
                    detail, status = str(skip), StageStatus.SKIPPED
                _set_stage(session, call_id, stage, status, detail)
                session.commit()
            bucket = report.done if status == StageStatus.DONE else report.skipped
            bucket[stage] = bucket.get(stage, 0) + 1
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            log.warning("call %s, stage %s failed: %s", call_id, stage, message)
            with Session(engine) as session:
                _set_stage(session, call_id, stage, StageStatus.FAILED, message)
                session.commit()
            report.failed.append((call_id, stage.value, message))
            return


def process_pending(
    engine: Engine,
    settings: Settings,
    *,
    call_ids: Iterable[str] | None = None,
    asr_fallback: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ProcessReport:
    """Run every unfinished stage of every imported call (or of `call_ids`).

    Args:
        engine: the database.
        settings: ASR and script settings.
        call_ids: restrict the run to these calls.
        asr_fallback: use pocketsphinx when the Whisper model cannot be loaded (the demo).
        progress: called with 1 after each call.
    """
    ctx = PipelineContext(settings, AsrProvider(settings, fallback=asr_fallback))
    report = ProcessReport()
    for call_id in unfinished_call_ids(engine, call_ids):
        process_call(engine, call_id, ctx, report)
        report.calls += 1
        if progress is not None:
            progress(1)
    if ctx.asr.warning:
        report.warnings.append(ctx.asr.warning)
    return report
