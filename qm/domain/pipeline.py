"""The per-call pipeline: transcription, key-point checking, metrics.

Each stage records its outcome per call (`call_stage`). A stage's slow part (speech
recognition, model loading, the key-point check, the courtesy measures) runs outside any
transaction; its result is written in a short transaction of its own that starts with
the SQLite write lock (see `qm.db`) and first confirms that this run still holds the
call. A result computed outside the lock is stored only when what it was computed from
(the current transcript, the script's newest version) is still current under the lock;
otherwise it is computed again there. When a stage raises, a plain reason is recorded on
that call (the full error goes to the log under a short error id) and the remaining
calls go on. Re-running picks up whatever is not yet done or skipped, so an interrupted
run resumes where it stopped and failed stages are retried.

The call is read once per call and its transcript converted once for both scoring
stages; scripts are parsed once per run (`ScriptCache`); the hot reads and writes are
prepared Core statements, since building ORM objects cost more than the scoring itself.

Several runs (processes, machines) may work on one database at once: each claims a few
calls at a time (`qm.domain.claims`); `qm.domain.pipeline_jobs` starts such runs as
worker processes. Why a stage failed is told by `qm.domain.failures`.
"""

import functools
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from qm.db import session_scope
from qm.domain import redaction
from qm.domain.call_checks import (
    check_result_rows,
    courtesy_for,
    handle_seconds,
    read_call_transcript,
)
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
from qm.domain.scripts import ScriptCache, not_stored
from qm.domain.stored_transcripts import TranscriptInfo, current_transcript_info, replace_transcript
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
from scoring.transcript import CallTranscript
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

    def merge(self, other: "ProcessReport") -> None:
        """Add what `other` (another run of the same command) did to this report."""
        self.calls += other.calls
        for mine, theirs in ((self.done, other.done), (self.skipped, other.skipped)):
            for stage, count in theirs.items():
                mine[stage] = mine.get(stage, 0) + count
        self.failed.extend(other.failed)
        self.warnings.extend(w for w in other.warnings if w not in self.warnings)


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
    scripts: ScriptCache = field(default_factory=ScriptCache)
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


@dataclass
class CallWork:
    """One call on its way through this run's stages: the call as read when its turn came
    (its claim and removal fields refreshed under each stage's write lock), and the
    transcript that both scoring stages read, converted once."""

    call: Call
    customer_name: str | None = None
    # What the scoring stages read, as last read (None: read it again before the next stage).
    inputs: "StageInputs | None" = None
    _transcript: tuple[int, CallTranscript] | None = None

    def transcript(self, session: Session, info: TranscriptInfo) -> CallTranscript:
        """Stored transcript `info` as the scoring library's input (read once per call)."""
        if self._transcript is None or self._transcript[0] != info.id:
            self._transcript = (info.id, read_call_transcript(session, info))
        return self._transcript[1]


def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


_CALLS = _table(Call)
_STAGES = _table(CallStage)
_RESULTS = _table(KeyPointResult)
_METRICS = _table(CallMetrics)
_QUEUES = _table(Queue)
_CUSTOMERS = _table(Customer)

# The hot statements, built once: the per-call reads and writes of every stage.
_CLAIM = (
    sa.select(_CALLS.c.claimed_by, _CALLS.c.purged_at, _CALLS.c.purge_reason)
    .where(_CALLS.c.id == sa.bindparam("call_id"))
    .with_for_update()  # PostgreSQL; SQLite's write lock is taken by BEGIN IMMEDIATE
)
_STATUSES = sa.select(_STAGES.c.stage, _STAGES.c.status).where(
    _STAGES.c.call_id == sa.bindparam("call_id")
)
_QUEUE_SCRIPT = sa.select(_QUEUES.c.script_key).where(_QUEUES.c.id == sa.bindparam("queue"))
_CUSTOMER = sa.select(_CUSTOMERS.c.name).where(_CUSTOMERS.c.id == sa.bindparam("customer_id"))
_DELETE_RESULTS = sa.delete(_RESULTS).where(_RESULTS.c.call_id == sa.bindparam("call_id"))
_CLEAR_COMPLIANCE = (
    sa.update(_METRICS)
    .where(_METRICS.c.call_id == sa.bindparam("row_call_id"))
    .values(compliance=None, critical_failed=None, uncertain_items=0)
)
# A new metrics row: what `CallMetrics(call_id=...)` holds before a stage fills it in.
_NEW_METRICS: dict[str, Any] = {
    "handle_seconds": None,
    "transferred": None,
    "compliance": None,
    "critical_failed": None,
    "uncertain_items": 0,
    "courtesy": None,
}


def _purged(call: Call) -> StageSkipped | None:
    if call.purged_at is None:
        return None
    # The scores computed before the removal are kept; re-running must not clear them.
    return StageSkipped(
        f"recording and transcript removed ({call.purge_reason}) on "
        f"{call.purged_at:%Y-%m-%d}; earlier results are kept"
    )


# --- Transcription -----------------------------------------------------------------------


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
    if (skipped := _purged(call)) is not None:
        raise skipped
    keep = ctx.settings.keep_original_audio
    if work.inputs is None:
        with Session(engine) as session:
            _inputs(session, work, ctx)
    assert work.inputs is not None
    existing = work.inputs.transcript
    if existing is not None:
        note = ""
        if call.audio_path and not redaction.is_redacted_copy(call.audio_path):
            # An imported transcript in which a card number was redacted: the recording
            # says it too, so it is replaced by a copy with that span beeped.
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
    session: Session, work: CallWork, ctx: PipelineContext, prepared: Transcribed
) -> str:
    """Store the transcript that `transcribe_audio` produced."""
    call_id = work.call.id
    if (skipped := _purged(work.call)) is not None:  # erased while the engine was running
        raise skipped
    existing = current_transcript_info(session, call_id)
    if existing is not None:  # imported or corrected while the engine was running
        if prepared.recording is not None:
            prepared.recording.undo()
        raise StageSkipped(f"transcript already present ({existing.source})")
    doc = prepared.doc
    replace_transcript(session.connection(), call_id, doc, source=f"asr:{prepared.engine_name}")
    work.inputs = None  # the next stage reads the new transcript
    detail = f"{len(doc.segments)} segment(s) by {prepared.engine_name}"
    if prepared.recording is not None:
        call = session.get(Call, call_id)  # the stored row, to point at the copy
        assert call is not None  # the claim was confirmed under this transaction's lock
        redaction.adopt_redacted_copy(session, call, prepared.recording)
        work.call.audio_path = call.audio_path
        detail += f"; recording redacted ({prepared.recording.spans} span(s) beeped)"
    if ctx.asr.warning:
        detail += f"; WARNING: {ctx.asr.warning}"
    return detail


# --- What the scoring stages read ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageInputs:
    """What a scoring stage reads besides the call: read again under the write lock, where
    a result computed from other inputs is computed afresh."""

    transcript: TranscriptInfo | None
    script_key: str | None
    script_id: int | None


def _inputs(session: Session, work: CallWork, ctx: PipelineContext) -> StageInputs:
    """Read what the scoring stages read now (and keep it on `work` for the next stage)."""
    call = work.call
    key = None
    if call.queue:
        key = session.connection().execute(_QUEUE_SCRIPT, {"queue": call.queue}).scalar()
    key = key or ctx.settings.default_script
    script_id = None if key is None else ctx.scripts.latest_id(session, key)
    work.inputs = StageInputs(current_transcript_info(session, call.id), key, script_id)
    return work.inputs


def _prepare_with(
    compute: Callable[[Session, CallWork, PipelineContext, StageInputs], Any],
) -> Callable[[Engine, CallWork, PipelineContext], Any]:
    """A stage's `prepare`: `compute` from the inputs last read for the call, outside any
    transaction (the write checks them again under the lock)."""

    def prepare(engine: Engine, work: CallWork, ctx: PipelineContext) -> Any:
        # No query is sent (nor transaction begun) when the call's transcript and script
        # were read already.
        with Session(engine) as session:
            inputs = work.inputs if work.inputs is not None else _inputs(session, work, ctx)
            return compute(session, work, ctx, inputs)

    return prepare


# --- Key points ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyPointCheck:
    """A call's key-point check, or why there is none (`skip`)."""

    inputs: StageInputs
    skip: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    compliance: float | None = None
    critical_failed: bool | None = None
    detail: str = ""


def check_keypoints(
    session: Session, work: CallWork, ctx: PipelineContext, inputs: StageInputs
) -> KeyPointCheck:
    """Check the call's transcript against the script assigned to its queue.

    Raises:
        NotFound: the assigned script has no stored version.
        SemanticMatcherError: the semantic model cannot be loaded or failed on this call.
    """
    call = work.call
    if inputs.transcript is None:
        return KeyPointCheck(inputs, skip="no transcript")
    if inputs.script_key is None:
        return KeyPointCheck(
            inputs,
            skip=f"no script for queue {call.queue or '(none)'}: assign one with "
            "`qm script load FILE --queue Q` or set QM_DEFAULT_SCRIPT",
        )
    if inputs.script_id is None:
        raise not_stored(inputs.script_key)
    script = ctx.scripts.version(session, inputs.script_id)
    doc = work.transcript(session, inputs.transcript)
    result, rows = check_result_rows(script.script, doc, matcher=ctx.matcher())
    for row in rows:
        row["call_id"], row["script_id"] = call.id, script.id
    hits = sum(1 for item in result.key_points if item.hit)
    version = f"{script.key} v{script.version}"
    return KeyPointCheck(
        inputs,
        rows=rows,
        compliance=result.compliance,
        critical_failed=result.critical_failed,
        detail=f"{hits}/{len(result.key_points)} key points hit with {version}",
    )


def run_keypoints(
    session: Session, work: CallWork, ctx: PipelineContext, prepared: KeyPointCheck
) -> str:
    """Store the call's key-point results (replacing earlier ones) and its compliance."""
    call = work.call
    if (skipped := _purged(call)) is not None:
        raise skipped
    inputs = _inputs(session, work, ctx)
    if inputs != prepared.inputs:  # a transcript or script stored since it was checked
        prepared = check_keypoints(session, work, ctx, inputs)
    conn = session.connection()
    conn.execute(_DELETE_RESULTS, {"call_id": call.id})
    if prepared.skip is not None:
        conn.execute(_CLEAR_COMPLIANCE, {"row_call_id": call.id})
        raise StageSkipped(prepared.skip)
    if prepared.rows:
        conn.execute(sa.insert(_RESULTS), prepared.rows)
    values = {
        "compliance": prepared.compliance,
        "critical_failed": prepared.critical_failed,
        "uncertain_items": sum(1 for r in prepared.rows if r["uncertain"]),
        "computed_at": utcnow(),
    }
    new = {**_NEW_METRICS, "call_id": call.id, **values}
    conn.execute(_upsert(conn.dialect.name, _METRICS, tuple(values)), new)
    return prepared.detail


# --- Metrics ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CourtesyMeasures:
    """A call's courtesy sub-measures; None when it has no transcript."""

    inputs: StageInputs
    courtesy: dict[str, Any] | None


def measure_courtesy(
    session: Session, work: CallWork, ctx: PipelineContext, inputs: StageInputs
) -> CourtesyMeasures:
    """The courtesy sub-measures of the call's transcript, with the script's extra phrases."""
    if inputs.transcript is None:
        return CourtesyMeasures(inputs, None)
    extra: dict[str, tuple[str, ...]] | None = None
    if inputs.script_id is not None:
        extra = dict(ctx.scripts.version(session, inputs.script_id).script.courtesy)
    doc = work.transcript(session, inputs.transcript)
    courtesy = courtesy_for(doc, customer_name=work.customer_name, extra=extra)
    return CourtesyMeasures(inputs, courtesy)


def run_metrics(
    session: Session, work: CallWork, ctx: PipelineContext, prepared: CourtesyMeasures
) -> str:
    """Per-call operational figures and courtesy sub-measures."""
    call = work.call
    inputs = _inputs(session, work, ctx)
    if inputs != prepared.inputs:
        prepared = measure_courtesy(session, work, ctx, inputs)
    values: dict[str, Any] = {
        "handle_seconds": handle_seconds(call.talk_seconds, call.hold_seconds, call.wrap_seconds),
        "transferred": None if call.transfers is None else call.transfers >= 1,
        "computed_at": utcnow(),
    }
    # A removed transcript leaves the courtesy figures measured before the removal.
    if prepared.courtesy is not None or call.purged_at is None:
        values["courtesy"] = prepared.courtesy
    new = {**_NEW_METRICS, "call_id": call.id, **values}
    conn = session.connection()
    conn.execute(_upsert(conn.dialect.name, _METRICS, tuple(values)), new)
    return "computed"


@dataclass(frozen=True, slots=True)
class StageRunner:
    """One stage: `prepare` does the slow part with no transaction open and may raise
    StageSkipped; `write` stores the outcome inside the write transaction and returns the
    stage detail."""

    write: Callable[[Session, CallWork, PipelineContext, Any], str]
    prepare: Callable[[Engine, CallWork, PipelineContext], Any] | None = None


RUNNERS: dict[Stage, StageRunner] = {
    Stage.TRANSCRIBE: StageRunner(run_transcribe, prepare=transcribe_audio),
    Stage.KEYPOINTS: StageRunner(run_keypoints, prepare=_prepare_with(check_keypoints)),
    Stage.METRICS: StageRunner(run_metrics, prepare=_prepare_with(measure_courtesy)),
}


def unfinished_call_ids(engine: Engine, call_ids: Iterable[str] | None = None) -> list[str]:
    """Calls with at least one stage neither done nor skipped, oldest first."""
    query = sa.select(col(Call.id)).where(unfinished()).order_by(col(Call.started_at), col(Call.id))
    wanted = set(call_ids) if call_ids is not None else None
    with Session(engine) as session:
        ids = list(session.execute(query).scalars())
    return [i for i in ids if wanted is None or i in wanted]


# --- Running stages -------------------------------------------------------------------------


@functools.cache
def _upsert(dialect: str, table: sa.Table, update: tuple[str, ...]) -> sa.Insert:
    """INSERT, or on a key conflict UPDATE the `update` columns (the stage table also
    counts the attempt): built once per table, column set and dialect."""
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    key = [c.name for c in table.primary_key] if table is _METRICS else ["call_id", "stage"]
    changes: dict[str, Any] = {c: insert.excluded[c] for c in update}
    if table is _STAGES:
        changes["attempts"] = table.c.attempts + 1
    upsert: sa.Insert = insert.on_conflict_do_update(index_elements=key, set_=changes)
    return upsert


def _set_stage(
    conn: Connection, call_id: str, stage: Stage, status: StageStatus, detail: str
) -> None:
    row = {
        "call_id": call_id,
        "stage": stage.value,
        "status": status.value,
        "detail": detail[:4000],
        "attempts": 1,
        "updated_at": utcnow(),
    }
    conn.execute(_upsert(conn.dialect.name, _STAGES, ("status", "detail", "updated_at")), row)


def _confirm(conn: Connection, work: CallWork, worker: str | None) -> bool:
    """Under the write lock: the call is still there and (with `worker`) still this run's.

    Refreshes the call's removal fields, which a purge may have set meanwhile.
    """
    row = conn.execute(_CLAIM, {"call_id": work.call.id}).first()
    if row is None:
        return False  # deleted meanwhile
    if worker is not None and row.claimed_by != worker:
        log.info("call %s: claim lost to %s; leaving it to that run", work.call.id, row.claimed_by)
        return False
    work.call.purged_at, work.call.purge_reason = row.purged_at, row.purge_reason
    return True


def _run_stage(
    engine: Engine, work: CallWork, stage: Stage, ctx: PipelineContext, worker: str | None
) -> StageStatus | None:
    """Run one stage of one call; None when the call is gone or no longer this run's."""
    runner = RUNNERS[stage]
    prepared: Any = None
    skipped: StageSkipped | None = None
    if runner.prepare is not None:
        try:
            prepared = runner.prepare(engine, work, ctx)
        except StageSkipped as skip:
            skipped = skip
    with session_scope(engine, immediate=True) as session:
        conn = session.connection()
        if not _confirm(conn, work, worker):
            return None
        if skipped is None:
            try:
                detail, status = runner.write(session, work, ctx, prepared), StageStatus.DONE
            except StageSkipped as skip:
                skipped = skip
        if skipped is not None:
            # Stages raise this before writing anything but their own clean-up.
            detail, status = str(skipped), StageStatus.SKIPPED
        _set_stage(conn, work.call.id, stage, status, detail)
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
        conn = session.connection()
        statuses = dict(conn.execute(_STATUSES, {"call_id": call_id}).all())
        call = session.get(Call, call_id)
        if call is None:
            return  # deleted meanwhile
        work = CallWork(call)
        if call.customer_id:
            name = conn.execute(_CUSTOMER, {"customer_id": call.customer_id}).scalar()
            # A customer first named by an import has its id as its name: no name to greet.
            work.customer_name = name if name != call.customer_id else None
        # What the scoring stages read, in this one transaction (the script is parsed by
        # the stage itself, where a failure is recorded on this call alone).
        inputs = _inputs(session, work, ctx)
        if inputs.transcript is not None:
            work.transcript(session, inputs.transcript)
    for stage in STAGES:
        if statuses.get(stage) in FINISHED:
            continue
        if claims is not None and not claims.holds(call_id):
            return  # the claim ran out and another run took the call over
        worker = claims.worker if claims is not None else None
        try:
            status = _run_stage(engine, work, stage, ctx, worker)
        except Exception as exc:
            error_id = secrets.token_hex(3)
            log.error(
                "call %s, stage %s failed (error id %s)", call_id, stage, error_id, exc_info=exc
            )
            message = plain_reason(exc, error_id)
            with session_scope(engine, immediate=True) as session:
                _set_stage(session.connection(), call_id, stage, StageStatus.FAILED, message)
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
    run_started: datetime | None = None,
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
        run_started: when the run began, if earlier than this call (the worker processes
            of one `qm process --jobs N` share it); stages that failed since are not
            retried.
    """
    ctx = PipelineContext(settings, AsrProvider(settings, fallback=asr_fallback))
    report = ProcessReport()
    worker = new_worker_id()
    wanted = list(call_ids) if call_ids is not None else None
    # Stages that failed since this instant are not retried by this run (see claim_calls);
    # stage rows are stamped by the clock of the process that ran them.
    started = run_started or utcnow()
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
