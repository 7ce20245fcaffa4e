"""Running the pipeline one stage of one call at a time, as a queued task (`qm worker`).

The broker (`qm.workers`) may hand a task out twice: it redelivers a task whose worker
was killed, and on Redis also one that ran longer than the visibility timeout. So a task
claims its call first (`qm.domain.claims`), runs the stage only when it is the call's
first unfinished one, and renews the claim from a heartbeat thread while the stage runs.
A second copy of a task then finds the stage finished (and changes nothing) or the call
claimed (and is sent again later); the claim of a killed worker runs out after
`claim_seconds`, and the redelivered task takes the call over.

What the task does next is said by the `QueuedOutcome` it gets back: queue the call's
next stage, send itself again later, or nothing. Errors of the database connection are
raised as `TransientError` (the task is retried with back-off); any other error is
recorded on the call as `qm process` records it, and the call's later stages wait for
the next `qm process`.
"""

import contextlib
import logging
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from qm.db import session_scope
from qm.domain.claims import FINISHED, claim_calls, new_worker_id, release_claims, renew_claims
from qm.domain.failures import plain_reason
from qm.domain.pipeline.runner import read_call, unfinished_call_ids
from qm.domain.pipeline.stages import STAGES, run_stage, set_stage
from qm.domain.pipeline.statements import STAGE_ROWS, table_of
from qm.domain.pipeline.work import CallWork, PipelineContext
from qm.models import Call, Stage, StageStatus, Transcript, utcnow

log = logging.getLogger(__name__)

_CALLS = table_of(Call)
_CLAIMED_UNTIL = sa.select(_CALLS.c.claimed_until).where(_CALLS.c.id == sa.bindparam("call_id"))
# A task tries its stage whatever failed before: claim_calls leaves alone the calls with a
# stage failed since `run_started`, which, stamped by another machine's clock, could be
# "since now" for a long while.
_END_OF_TIME = datetime.max.replace(tzinfo=UTC)
# Errors of the connection rather than of the call: the database restarting, a network
# hiccup, a pool with no free connection. Worth another try later.
TRANSIENT = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


class TransientError(Exception):
    """The database could not be reached or answered with a transient error; nothing of
    the stage was stored and the task should be tried again later."""


class Outcome(StrEnum):
    """What one queued task found and did."""

    RAN = "ran"  # the stage ran (done or skipped)
    FAILED = "failed"  # the stage failed; the reason is recorded on the call
    FINISHED = "finished"  # the stage had run already; nothing changed
    WAITING = "waiting"  # an earlier stage failed and waits for `qm process`
    BUSY = "busy"  # another task holds the call: try again in `retry_in` seconds
    GONE = "gone"  # the call was deleted, or its claim was lost to another task


@dataclass(frozen=True, slots=True)
class QueuedOutcome:
    """A task's outcome, and what to queue next: the call's `next_stage`, or this task
    again in `retry_in` seconds."""

    outcome: Outcome
    next_stage: Stage | None = None
    retry_in: float | None = None


def first_unfinished(statuses: dict[str, str], after: Stage | None = None) -> Stage | None:
    """The first stage (after `after`, if given) neither done nor skipped."""
    later = STAGES if after is None else STAGES[STAGES.index(after) + 1 :]
    return next((s for s in later if statuses.get(s) not in FINISHED), None)


def needs_asr(engine: Engine, call_ids: Sequence[str]) -> set[str]:
    """Those of `call_ids` whose transcribe stage has speech to recognise: audio, no
    transcript, not purged (the others' transcribe stage only records that it skipped)."""
    calls, transcripts = table_of(Call), table_of(Transcript)
    has_transcript = sa.exists().where(transcripts.c.call_id == calls.c.id)
    query = sa.select(calls.c.id).where(
        calls.c.id.in_(sa.bindparam("ids", expanding=True)),
        calls.c.audio_path.is_not(None),
        calls.c.purged_at.is_(None),
        ~has_transcript,
    )
    found: set[str] = set()
    with Session(engine) as session:
        conn = session.connection()
        for start in range(0, len(call_ids), 1000):
            found.update(conn.execute(query, {"ids": call_ids[start : start + 1000]}).scalars())
    return found


def pending_stages(
    engine: Engine, call_ids: Iterable[str] | None = None
) -> list[tuple[str, Stage]]:
    """Each unfinished call (of `call_ids`, oldest first) with its first unfinished stage:
    what `qm process` queues."""
    ids = unfinished_call_ids(engine, call_ids)
    finished: dict[str, dict[str, str]] = defaultdict(dict)
    query = sa.select(STAGE_ROWS.c.call_id, STAGE_ROWS.c.stage, STAGE_ROWS.c.status).where(
        STAGE_ROWS.c.status.in_(FINISHED),
        STAGE_ROWS.c.call_id.in_(sa.bindparam("ids", expanding=True)),
    )
    with Session(engine) as session:
        conn = session.connection()
        for start in range(0, len(ids), 1000):
            for call_id, stage, status in conn.execute(query, {"ids": ids[start : start + 1000]}):
                finished[call_id][stage] = status
    pending = []
    for call_id in ids:
        stage = first_unfinished(finished[call_id])
        if stage is not None:  # finished meanwhile otherwise
            pending.append((call_id, stage))
    return pending


def run_queued_stage(
    engine: Engine,
    ctx: PipelineContext,
    call_id: str,
    stage: Stage,
    *,
    claim_seconds: int,
    then: Sequence[Stage] = (),
) -> QueuedOutcome:
    """Run `stage` of `call_id` once, if it is the call's first unfinished stage, and then
    each stage of `then` that comes next.

    Args:
        engine: the database.
        ctx: what the stages of this worker process share (settings, models, scripts).
        call_id: the call.
        stage: the stage the task names.
        claim_seconds: how long the call's claim holds without renewal; renewed every
            fifth of it while the stage runs.
        then: later stages this task may run too (those of the same queue: the claim,
            the call and its transcript are then read once for all of them).

    Raises:
        TransientError: the database failed in a way worth retrying; nothing was stored.
    """
    worker = new_worker_id()
    try:
        try:
            claimed = claim_calls(
                engine,
                worker,
                run_started=_END_OF_TIME,
                limit=1,
                call_ids=[call_id],
                claim_seconds=claim_seconds,
            )
            if not claimed:
                return _not_claimed(engine, call_id)
            read = read_call(engine, call_id, ctx)
            if read is None:
                return QueuedOutcome(Outcome.GONE)
            work, statuses = read
            first = first_unfinished(statuses)
            if first is None:
                return QueuedOutcome(Outcome.FINISHED)
            if first != stage:
                # A copy of a task whose stage has run, or one sent before an earlier
                # stage was reset: the call's first unfinished stage is what is queued,
                # unless it failed (the next `qm process` retries failed stages).
                if statuses.get(first) == StageStatus.FAILED:
                    return QueuedOutcome(Outcome.WAITING)
                return QueuedOutcome(Outcome.FINISHED, next_stage=first)
            current = stage
            with _heartbeat(engine, worker, call_id, claim_seconds):
                while True:
                    status = _run(engine, work, current, ctx, worker)
                    if status is None:
                        return QueuedOutcome(Outcome.GONE)
                    if status == StageStatus.FAILED:
                        return QueuedOutcome(Outcome.FAILED)
                    following = first_unfinished(statuses, after=current)
                    if following is None or following not in then:
                        return QueuedOutcome(Outcome.RAN, next_stage=following)
                    current = following
        except TRANSIENT as exc:
            raise TransientError(f"call {call_id}, stage {stage}: {exc}") from exc
    finally:
        # The database may be the thing that failed: the claim then runs out by itself.
        with contextlib.suppress(*TRANSIENT):
            release_claims(engine, worker, [call_id])


def _not_claimed(engine: Engine, call_id: str) -> QueuedOutcome:
    """Why a call could not be claimed: deleted, finished, or held by another task."""
    with Session(engine) as session:
        found = session.connection().execute(_CLAIMED_UNTIL, {"call_id": call_id}).first()
    if found is None:
        return QueuedOutcome(Outcome.GONE)
    until = found.claimed_until
    if until is not None and until > utcnow():
        # Held by a live task (or by a killed one until its claim runs out).
        return QueuedOutcome(Outcome.BUSY, retry_in=(until - utcnow()).total_seconds() + 0.5)
    if unfinished_call_ids(engine, [call_id]):
        return QueuedOutcome(Outcome.BUSY, retry_in=1.0)  # being claimed at this instant
    return QueuedOutcome(Outcome.FINISHED)


def _run(
    engine: Engine, work: CallWork, stage: Stage, ctx: PipelineContext, worker: str
) -> StageStatus | None:
    """Run the stage, recording a failure on the call as `qm process` does (transient
    database errors propagate: nothing is recorded for them)."""
    call_id = work.call.id
    try:
        return run_stage(engine, work, stage, ctx, worker)
    except TRANSIENT:
        raise
    except Exception as exc:
        error_id = secrets.token_hex(3)
        log.error("call %s, stage %s failed (error id %s)", call_id, stage, error_id, exc_info=exc)
        with session_scope(engine, immediate=True) as session:
            set_stage(
                session.connection(),
                call_id,
                stage,
                StageStatus.FAILED,
                plain_reason(exc, error_id),
            )
        return StageStatus.FAILED


@contextlib.contextmanager
def _heartbeat(engine: Engine, worker: str, call_id: str, claim_seconds: int) -> Iterator[None]:
    """Renew the call's claim every fifth of `claim_seconds` while the block runs (a stage
    such as transcription may take longer than the claim)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(claim_seconds / 5):
            try:
                renew_claims(engine, worker, [call_id], claim_seconds=claim_seconds)
            except TRANSIENT:
                log.warning("call %s: could not renew the claim", call_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"claim-{call_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
