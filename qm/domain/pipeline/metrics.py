"""The metrics stage: a call's operational figures (handle time, transfer) and the
courtesy sub-measures of its transcript."""

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from qm.domain.call_checks import courtesy_for, handle_seconds
from qm.domain.pipeline.stage_details import COMPUTED, detail
from qm.domain.pipeline.statements import METRICS, NEW_METRICS, table_of, upsert
from qm.domain.pipeline.work import CallWork, PipelineContext, StageInputs, read_inputs
from qm.models import Call, utcnow
from scoring.courtesy import courtesy_score

_CALLS = table_of(Call)
_SET_CALL_COURTESY = (
    sa.update(_CALLS)
    .where(_CALLS.c.id == sa.bindparam("row_call_id"))
    .values(courtesy_score=sa.bindparam("score"))
)


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
    inputs = read_inputs(session, work, ctx)
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
        values["courtesy_score"] = courtesy_score(prepared.courtesy) if prepared.courtesy else None
    new = {**NEW_METRICS, "call_id": call.id, **values}
    conn = session.connection()
    conn.execute(upsert(conn.dialect.name, METRICS, tuple(values)), new)
    if "courtesy_score" in values:  # the call's copy (qm.models.calls)
        conn.execute(
            _SET_CALL_COURTESY, {"row_call_id": call.id, "score": values["courtesy_score"]}
        )
    return detail(COMPUTED)
