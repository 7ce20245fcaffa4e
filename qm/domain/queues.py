"""Per-queue settings: the script checked on its calls, the FCR window, the handle-time band."""

from sqlmodel import Session, select

from qm.domain import scripts
from qm.domain.audit import record
from qm.errors import NotFound, ValidationFailed
from qm.models import Queue


def configure_queue(
    session: Session,
    queue_id: str,
    *,
    actor: str,
    script_key: str | None = None,
    fcr_window_days: int | None = None,
    aht_min_seconds: float | None = None,
    aht_max_seconds: float | None = None,
) -> Queue:
    """Change the given settings of `queue_id` (created when new); others stay.

    Raises:
        NotFound: when `script_key` names no stored script.
        ValidationFailed: when the handle-time band is empty or the window not positive.
    """
    queue = session.get(Queue, queue_id) or Queue(id=queue_id)
    if script_key is not None:
        if not scripts.exists(session, script_key):
            raise NotFound(f"no script {script_key!r}; load it with `qm script load`")
        queue.script_key = script_key
    if fcr_window_days is not None:
        if fcr_window_days < 1:
            raise ValidationFailed("queue", None, "fcr_window_days", "must be at least 1 day")
        queue.fcr_window_days = fcr_window_days
    if aht_min_seconds is not None:
        queue.aht_min_seconds = aht_min_seconds
    if aht_max_seconds is not None:
        queue.aht_max_seconds = aht_max_seconds
    low, high = queue.aht_min_seconds, queue.aht_max_seconds
    if low is not None and high is not None and low >= high:
        raise ValidationFailed("queue", None, "aht", f"the band {low:g}-{high:g} s is empty")
    session.add(queue)
    record(
        session,
        actor=actor,
        action="queue.configure",
        entity="queue",
        entity_id=queue_id,
        detail={
            "script": queue.script_key,
            "fcr_window_days": queue.fcr_window_days,
            "aht_min_seconds": low,
            "aht_max_seconds": high,
        },
    )
    return queue


def list_queues(session: Session) -> list[Queue]:
    """Every queue, by id."""
    return list(session.exec(select(Queue).order_by(Queue.id)).all())
