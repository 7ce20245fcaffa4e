"""The stages in their order, and running one stage of one call.

Each stage records its outcome per call (`call_stage`). A stage's slow part (speech
recognition, model loading, the key-point check, the courtesy measures) runs outside any
transaction; its result is written in a short transaction of its own that starts with
the SQLite write lock (see `qm.db`) and first confirms that this run still holds the
call. A result computed outside the lock is stored only when what it was computed from
(the current transcript, the script's newest version) is still current under the lock;
otherwise it is computed again there.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from qm.db import session_scope
from qm.domain.pipeline.keypoints import check_keypoints, run_keypoints
from qm.domain.pipeline.metrics import measure_courtesy, run_metrics
from qm.domain.pipeline.statements import STAGE_ROWS, table_of, upsert
from qm.domain.pipeline.transcribe import run_transcribe, transcribe_audio
from qm.domain.pipeline.work import (
    CallWork,
    PipelineContext,
    StageInputs,
    StageSkipped,
    read_inputs,
)
from qm.models import Call, Stage, StageStatus, utcnow

log = logging.getLogger(__name__)
STAGES = (Stage.TRANSCRIBE, Stage.KEYPOINTS, Stage.METRICS)

_CALLS = table_of(Call)
_CLAIM = (
    sa.select(_CALLS.c.claimed_by, _CALLS.c.purged_at, _CALLS.c.purge_reason)
    .where(_CALLS.c.id == sa.bindparam("call_id"))
    .with_for_update()  # PostgreSQL; SQLite's write lock is taken by BEGIN IMMEDIATE
)


def _prepare_with(
    compute: Callable[[Session, CallWork, PipelineContext, StageInputs], Any],
) -> Callable[[Engine, CallWork, PipelineContext], Any]:
    """A stage's `prepare`: `compute` from the inputs last read for the call, outside any
    transaction (the write checks them again under the lock)."""

    def prepare(engine: Engine, work: CallWork, ctx: PipelineContext) -> Any:
        # No query is sent (nor transaction begun) when the call's transcript and script
        # were read already.
        with Session(engine) as session:
            inputs = work.inputs if work.inputs is not None else read_inputs(session, work, ctx)
            return compute(session, work, ctx, inputs)

    return prepare


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


def set_stage(
    conn: Connection, call_id: str, stage: Stage, status: StageStatus, detail: str
) -> None:
    """Record a stage's outcome on the call (counting the attempt)."""
    row = {
        "call_id": call_id,
        "stage": stage.value,
        "status": status.value,
        "detail": detail[:4000],
        "attempts": 1,
        "updated_at": utcnow(),
    }
    conn.execute(upsert(conn.dialect.name, STAGE_ROWS, ("status", "detail", "updated_at")), row)


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


def run_stage(
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
        set_stage(conn, work.call.id, stage, status, detail)
    return status
