"""Per-queue settings: the script checked on its calls, the FCR window, the handle-time band."""

import math

from sqlmodel import Session, select

from qm.domain import scripts
from qm.domain.audit import record
from qm.domain.bounds import (
    MAX_AHT_SECONDS,
    MAX_FCR_WINDOW_DAYS,
    MAX_QUEUE_ID,
    normalize,
    text_problem,
)
from qm.errors import NotFound, ValidationFailed
from qm.i18n import gettext as _
from qm.models import Queue


def _seconds(field: str, value: float) -> float:
    if not math.isfinite(value) or not 0 <= value <= MAX_AHT_SECONDS:
        raise ValidationFailed(
            "queue",
            None,
            field,
            _(
                "must be a number of seconds from 0 to %(max_aht_seconds)s",
                max_aht_seconds=format(MAX_AHT_SECONDS, "g"),
            ),
        )
    return value


def configure_queue(
    session: Session,
    queue_id: str,
    *,
    actor: str,
    script_key: str | None = None,
    fcr_window_days: int | None = None,
    aht_min_seconds: float | None = None,
    aht_max_seconds: float | None = None,
    clear_handle_band: bool = False,
) -> Queue:
    """Change the given settings of `queue_id` (created when new); others stay.
    `clear_handle_band` removes both ends of the handle-time band first (a value given
    with it sets that end again).

    Raises:
        NotFound: when `script_key` names no stored script.
        ValidationFailed: for a queue id that is too long or holds control characters,
            a window outside 1-365 days, a handle time that is not a finite number of
            seconds within three days, or an empty handle-time band.
    """
    queue_id = normalize(queue_id)
    problem = "must not be empty" if not queue_id else text_problem(queue_id, MAX_QUEUE_ID)
    if problem is not None:
        raise ValidationFailed("queue", None, "queue", problem)
    queue = session.get(Queue, queue_id) or Queue(id=queue_id)
    if script_key is not None:
        if not scripts.exists(session, script_key):
            raise NotFound(
                _(
                    "no script %(script_key)s; load it with `qm script load`",
                    script_key=repr(script_key),
                )
            )
        queue.script_key = script_key
    if fcr_window_days is not None:
        if not 1 <= fcr_window_days <= MAX_FCR_WINDOW_DAYS:
            raise ValidationFailed(
                "queue",
                None,
                "fcr_window_days",
                _(
                    "must be 1 to %(max_fcr_window_days)s days",
                    max_fcr_window_days=MAX_FCR_WINDOW_DAYS,
                ),
            )
        queue.fcr_window_days = fcr_window_days
    if clear_handle_band:
        queue.aht_min_seconds = queue.aht_max_seconds = None
    if aht_min_seconds is not None:
        queue.aht_min_seconds = _seconds("aht_min_seconds", aht_min_seconds)
    if aht_max_seconds is not None:
        queue.aht_max_seconds = _seconds("aht_max_seconds", aht_max_seconds)
    low, high = queue.aht_min_seconds, queue.aht_max_seconds
    if low is not None and high is not None and low >= high:
        raise ValidationFailed(
            "queue",
            None,
            "aht",
            _("the band %(low)s-%(high)s s is empty", low=format(low, "g"), high=format(high, "g")),
        )
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
