"""Re-checking calls: their key points and metrics computed again, results kept meanwhile.

A call is re-checked when what its results were computed from changed: a new script
version for its queue (`recheck_queue`, from `qm script load --queue` or the API), or a
reviewer's corrected transcript (`qm.domain.corrections.store_correction`, which resets
the same stages). Marking is cheap and happens in the caller's transaction: the call's
key-point and metrics stage rows are deleted, which makes those stages pending for the
pipeline (`qm.domain.pipeline`: a call with no row for a stage is pending). Nothing else
is touched, so the old results stay visible until the pipeline replaces them, and
reviewer overrides (a table of their own) are never touched at all.

The work itself is done by whatever runs the pipeline next: `qm process` runs every
unfinished stage, and the web app's background worker runs `run_pending_rechecks` for
the calls it was asked about. Calls whose recording and transcript were removed are not
marked: the pipeline keeps their results as they were, and so does a re-check.
"""

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col

from qm.domain.audit import record
from qm.domain.claims import FINISHED
from qm.domain.pipeline import ProcessReport, process_pending
from qm.errors import NotFound
from qm.i18n import gettext as _
from qm.models import Call, CallStage, Queue, Stage
from qm.settings import Settings

# The stages a re-check runs again; transcription is never redone by a re-check.
RECHECK_STAGES = (Stage.KEYPOINTS.value, Stage.METRICS.value)
# Calls handed to one pipeline run: a whole queue (100,000 calls) is worked through in
# chunks, so no statement carries more ids than a database accepts as parameters.
RUN_CHUNK = 500

_STAGES = CallStage.__table__  # type: ignore[attr-defined]


def _mark(session: Session, calls: sa.Select[Any]) -> int:
    """Delete the re-check stage rows of the calls `calls` selects; returns how many calls."""
    count = session.execute(sa.select(sa.func.count()).select_from(calls.subquery())).scalar()
    session.execute(
        sa.delete(_STAGES).where(
            _STAGES.c.stage.in_(RECHECK_STAGES), _STAGES.c.call_id.in_(calls.scalar_subquery())
        )
    )
    return int(count or 0)


def _markable() -> sa.Select[Any]:
    """Calls a re-check may mark: those whose recording and transcript are still there."""
    return sa.select(col(Call.id)).where(col(Call.purged_at).is_(None))


def recheck_queue(session: Session, *, queue: str, actor: str) -> int:
    """Mark every call of `queue` for re-checking; returns how many calls were marked.

    Their results stay as they are until the pipeline computes new ones (with the
    queue's script as it is then). Calls whose recording and transcript were removed
    are left alone. The caller commits.

    Raises:
        NotFound: no such queue.
    """
    if session.get(Queue, queue) is None:
        raise NotFound(_("no queue %(queue)s", queue=repr(queue)))
    marked = _mark(session, _markable().where(col(Call.queue) == queue))
    record(
        session,
        actor=actor,
        action="calls.recheck",
        entity="queue",
        entity_id=queue,
        detail={"calls": marked},
    )
    return marked


def recheck_call(session: Session, *, call_id: str, actor: str) -> bool:
    """Mark one call for re-checking; False when its recording and transcript were
    removed (nothing to check again: its results are kept as they are).

    The caller checks that `actor` may see the call, and commits.

    Raises:
        NotFound: no such call.
    """
    call = session.get(Call, call_id)
    if call is None:
        raise NotFound(_("no call with id %(call_id)s", call_id=repr(call_id)))
    if call.purged_at is not None:
        return False
    _mark(session, _markable().where(col(Call.id) == call_id))
    record(session, actor=actor, action="calls.recheck", entity="call", entity_id=call_id)
    return True


def pending_rechecks(
    session: Session, *, queue: str | None = None, call_ids: Iterable[str] | None = None
) -> list[str]:
    """Calls waiting for a re-check, oldest first, within `queue` and/or `call_ids`.

    Waiting: transcription finished (done or skipped) and a key-point or metrics stage
    with no row. A stage that failed has a row and is left to `qm process`, which retries
    failures; a call never transcribed is left to it as well, since a re-check does not
    transcribe.
    """
    transcribed = (
        sa.select(_STAGES.c.id)
        .where(
            _STAGES.c.call_id == col(Call.id),
            _STAGES.c.stage == Stage.TRANSCRIBE.value,
            _STAGES.c.status.in_(FINISHED),
        )
        .exists()
    )
    recorded = (
        sa.select(sa.func.count())
        .select_from(_STAGES)
        .where(_STAGES.c.call_id == col(Call.id), _STAGES.c.stage.in_(RECHECK_STAGES))
        .scalar_subquery()
    )
    query = (
        _markable()
        .where(transcribed, recorded < len(RECHECK_STAGES))
        .order_by(col(Call.started_at), col(Call.id))
    )
    if queue is not None:
        query = query.where(col(Call.queue) == queue)
    if call_ids is not None:
        wanted = list(call_ids)
        found: list[str] = []
        for start in range(0, len(wanted), RUN_CHUNK):
            chunk = wanted[start : start + RUN_CHUNK]
            found += session.execute(query.where(col(Call.id).in_(chunk))).scalars()
        return found
    return list(session.execute(query).scalars())


def run_pending_rechecks(
    engine: Engine,
    settings: Settings,
    *,
    queue: str | None = None,
    call_ids: Sequence[str] | None = None,
    stop: Callable[[], bool] | None = None,
) -> ProcessReport:
    """Re-check the calls waiting for it (within `queue` and/or `call_ids`), now.

    A batch runner: it opens its own transactions, through the pipeline, which claims
    each call first, so a `qm process` running at the same time never checks the same
    call twice. Only the key-point and metrics stages run (see `pending_rechecks`).

    Args:
        engine: the database.
        settings: script and matcher settings, as for `qm process`.
        queue: only calls of this queue.
        call_ids: only these calls.
        stop: asked between chunks of calls; the run ends early when it says so (the
            calls left keep waiting, for the next run or `qm process`).
    """
    with Session(engine) as session:
        ids = pending_rechecks(session, queue=queue, call_ids=call_ids)
    report = ProcessReport()
    for start in range(0, len(ids), RUN_CHUNK):
        if stop is not None and stop():
            break
        report.merge(process_pending(engine, settings, call_ids=ids[start : start + RUN_CHUNK]))
    return report
