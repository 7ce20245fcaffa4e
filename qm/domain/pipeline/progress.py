"""How far the pipeline has got over all calls: per stage, how many calls are pending,
done, skipped or failed, and how many it finished lately (`qm status`)."""

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from qm.domain.pipeline.stages import STAGES
from qm.domain.pipeline.statements import STAGE_ROWS, table_of
from qm.models import Call, Stage, StageStatus, utcnow

# The span over which `StageCounts.recent` counts finished stages.
RECENT = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class StageCounts:
    """Calls per outcome of one stage; `pending` have not run it (or are running it);
    `recent` finished it (done or skipped) within the last `RECENT`."""

    stage: Stage
    pending: int
    done: int
    skipped: int
    failed: int
    recent: int


def stage_counts(engine: Engine) -> list[StageCounts]:
    """Every stage, in pipeline order, with its calls counted by outcome."""
    since = utcnow() - RECENT
    lately = sa.case((STAGE_ROWS.c.updated_at >= since, 1), else_=0)
    counted = sa.select(
        STAGE_ROWS.c.stage, STAGE_ROWS.c.status, sa.func.count(), sa.func.sum(lately)
    ).group_by(STAGE_ROWS.c.stage, STAGE_ROWS.c.status)
    with Session(engine) as session:
        conn = session.connection()
        calls = conn.execute(sa.select(sa.func.count()).select_from(table_of(Call))).scalar_one()
        rows = conn.execute(counted).all()
    by_stage: dict[str, dict[str, int]] = {}
    recent: dict[str, int] = {}
    for stage, status, count, latest in rows:
        by_stage.setdefault(stage, {})[status] = count
        if status != StageStatus.FAILED.value:
            recent[stage] = recent.get(stage, 0) + int(latest or 0)
    result = []
    for stage in STAGES:
        counts = by_stage.get(stage.value, {})
        done = counts.get(StageStatus.DONE.value, 0)
        skipped = counts.get(StageStatus.SKIPPED.value, 0)
        failed = counts.get(StageStatus.FAILED.value, 0)
        pending = calls - done - skipped - failed
        result.append(
            StageCounts(stage, pending, done, skipped, failed, recent.get(stage.value, 0))
        )
    return result
