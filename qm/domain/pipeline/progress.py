"""How far the pipeline has got over all calls: per stage, how many calls are pending,
done, skipped or failed (`qm status`)."""

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session

from qm.domain.pipeline.stages import STAGES
from qm.domain.pipeline.statements import STAGE_ROWS, table_of
from qm.models import Call, Stage, StageStatus


@dataclass(frozen=True, slots=True)
class StageCounts:
    """Calls per outcome of one stage; `pending` have not run it (or are running it)."""

    stage: Stage
    pending: int
    done: int
    skipped: int
    failed: int


def stage_counts(engine: Engine) -> list[StageCounts]:
    """Every stage, in pipeline order, with its calls counted by outcome."""
    counted = sa.select(STAGE_ROWS.c.stage, STAGE_ROWS.c.status, sa.func.count()).group_by(
        STAGE_ROWS.c.stage, STAGE_ROWS.c.status
    )
    with Session(engine) as session:
        conn = session.connection()
        calls = conn.execute(sa.select(sa.func.count()).select_from(table_of(Call))).scalar_one()
        rows = conn.execute(counted).all()
    by_stage: dict[str, dict[str, int]] = {}
    for stage, status, count in rows:
        by_stage.setdefault(stage, {})[status] = count
    result = []
    for stage in STAGES:
        counts = by_stage.get(stage.value, {})
        done = counts.get(StageStatus.DONE.value, 0)
        skipped = counts.get(StageStatus.SKIPPED.value, 0)
        failed = counts.get(StageStatus.FAILED.value, 0)
        result.append(StageCounts(stage, calls - done - skipped - failed, done, skipped, failed))
    return result
