"""Where a call stands in the pipeline as a whole and per stage, and its handle time."""

import math
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from qm.models import (
    Call,
    CallMetrics,
    CallStage,
    Stage,
    StageStatus,
)

STAGE_ORDER = (Stage.TRANSCRIBE, Stage.KEYPOINTS, Stage.METRICS)


FINISHED = (StageStatus.DONE.value, StageStatus.SKIPPED.value)


class PipelineStatus(StrEnum):
    """Where a call stands in the pipeline as a whole."""

    PENDING = "pending"  # some stage has not run yet
    DONE = "done"  # every stage is done or skipped
    FAILED = "failed"  # some stage failed (and waits for a retry)


@dataclass(frozen=True, slots=True)
class StageView:
    """One pipeline stage of one call; `status` is "pending" when it has not run."""

    stage: str
    status: str
    detail: str
    attempts: int
    updated_at: datetime | None


def handle_time(call: Call, metrics: CallMetrics | None) -> float | None:
    """Talk + hold + wrap seconds; the stored metric when the pipeline computed one.

    Before the metrics stage has run the sum is taken from the call itself, and stays
    unknown when any part is unknown (an empty manifest cell is not zero). A sum that is
    not finite (rows stored before imports bounded each part to a day) is unknown too,
    rather than an infinity no page can show.
    """
    if metrics is not None and metrics.handle_seconds is not None:
        total = metrics.handle_seconds
    else:
        parts = (call.talk_seconds, call.hold_seconds, call.wrap_seconds)
        if any(p is None for p in parts):
            return None
        total = sum(p for p in parts if p is not None)
    return total if math.isfinite(total) else None


def status_expression() -> Any:
    """A SQL expression of each call's `PipelineStatus` (for filtering and listing)."""
    failed = (
        sa.select(sa.func.count())
        .select_from(CallStage)
        .where(
            col(CallStage.call_id) == col(Call.id),
            col(CallStage.status) == StageStatus.FAILED.value,
        )
        .scalar_subquery()
    )
    finished = (
        sa.select(sa.func.count())
        .select_from(CallStage)
        .where(col(CallStage.call_id) == col(Call.id), col(CallStage.status).in_(FINISHED))
        .scalar_subquery()
    )
    return sa.case(
        (failed > 0, PipelineStatus.FAILED.value),
        (finished >= len(STAGE_ORDER), PipelineStatus.DONE.value),
        else_=PipelineStatus.PENDING.value,
    )


def stage_views(session: Session, call_id: str) -> tuple[list[StageView], PipelineStatus]:
    """The call's stages in pipeline order (pending ones included) and its overall status."""
    rows = {
        r.stage: r
        for r in session.exec(select(CallStage).where(col(CallStage.call_id) == call_id)).all()
    }
    views = []
    for stage in STAGE_ORDER:
        row = rows.get(stage)
        if row is None:
            views.append(StageView(stage.value, "pending", "", 0, None))
        else:
            views.append(
                StageView(stage.value, str(row.status), row.detail, row.attempts, row.updated_at)
            )
    statuses = [v.status for v in views]
    if StageStatus.FAILED.value in statuses:
        return views, PipelineStatus.FAILED
    if all(s in FINISHED for s in statuses):
        return views, PipelineStatus.DONE
    return views, PipelineStatus.PENDING
