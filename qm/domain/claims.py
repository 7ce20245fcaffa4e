"""Claims: several `qm process` runs (processes, machines) share the work on one database.

A run claims a few calls at a time (`call.claimed_by` / `claimed_until`, in one
transaction: FOR UPDATE SKIP LOCKED on PostgreSQL, the write lock on SQLite), renews its
claims while it works, and releases each batch when done. A claim runs out after
`CLAIM_SECONDS`, so the calls of a run that was killed are taken over by the next one.
"""

import os
import secrets
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import col

from qm.db import session_scope
from qm.models import Call, CallStage, Stage, StageStatus, utcnow

FINISHED = (StageStatus.DONE.value, StageStatus.SKIPPED.value)
# How long a claim holds without renewal: longer than any one stage of one call, short
# enough that a killed run's calls are not stranded for long.
CLAIM_SECONDS = 600
# Calls claimed per transaction: few, so that concurrent runs share the work evenly.
CLAIM_BATCH = 8


def unfinished() -> Any:
    """The condition of a call with a pipeline stage neither done nor skipped."""
    finished = (
        sa.select(sa.func.count())
        .select_from(CallStage)
        .where(col(CallStage.call_id) == col(Call.id), col(CallStage.status).in_(FINISHED))
        .scalar_subquery()
    )
    return finished < len(Stage)


def new_worker_id() -> str:
    """A name for one run, unique across processes and machines: host, process id, random."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass
class ClaimCursor:
    """How far a run's walk through the calls (oldest first) has got: the last call it
    claimed. Claiming after it skips the finished calls before it without looking at them
    again, which keeps each claim cheap on a database of many processed calls."""

    started_at: datetime | None = None
    call_id: str = ""


def claim_calls(
    engine: Engine,
    worker: str,
    *,
    run_started: datetime,
    limit: int = CLAIM_BATCH,
    call_ids: Iterable[str] | None = None,
    claim_seconds: int = CLAIM_SECONDS,
    cursor: ClaimCursor | None = None,
) -> list[str]:
    """Claim up to `limit` unfinished calls that no live claim holds, oldest first.

    Calls with a stage that failed since `run_started` are left alone, so that a run tries
    each call at most once (the next run retries them).

    Args:
        engine: the database.
        worker: the claiming run (`new_worker_id`).
        run_started: when the claiming run began.
        limit: the most calls to claim.
        call_ids: claim only among these calls.
        claim_seconds: how long the claim holds unless renewed.
        cursor: claim only calls after it, and move it to the last call claimed.
    """
    now = utcnow()
    failed_in_this_run = (
        sa.select(col(CallStage.id))
        .where(
            col(CallStage.call_id) == col(Call.id),
            col(CallStage.status) == StageStatus.FAILED.value,
            col(CallStage.updated_at) >= run_started,
        )
        .exists()
    )
    query = (
        sa.select(col(Call.id), col(Call.started_at))
        .where(
            unfinished(),
            sa.or_(col(Call.claimed_until).is_(None), col(Call.claimed_until) < now),
            ~failed_in_this_run,
        )
        .order_by(col(Call.started_at), col(Call.id))
        .limit(limit)
    )
    if call_ids is not None:
        query = query.where(col(Call.id).in_(list(call_ids)))
    if cursor is not None and cursor.started_at is not None:
        # Written so that both databases walk the started_at index from the cursor on.
        query = query.where(
            col(Call.started_at) >= cursor.started_at,
            sa.or_(col(Call.started_at) > cursor.started_at, col(Call.id) > cursor.call_id),
        )
    # PostgreSQL: rows another run is claiming right now are skipped, not waited for.
    # SQLite: ignored; the immediate transaction holds the only write lock instead.
    query = query.with_for_update(skip_locked=True, of=Call)
    with session_scope(engine, immediate=True) as session:
        rows = session.execute(query).all()
        ids = [call_id for call_id, _ in rows]
        if ids:
            session.execute(
                sa.update(Call)
                .where(col(Call.id).in_(ids))
                .values(claimed_by=worker, claimed_until=now + timedelta(seconds=claim_seconds))
            )
    if cursor is not None and rows:
        cursor.call_id, cursor.started_at = rows[-1]
    return ids


def renew_claims(
    engine: Engine, worker: str, call_ids: Iterable[str], *, claim_seconds: int = CLAIM_SECONDS
) -> set[str]:
    """Extend this run's claims on `call_ids`; returns those it still holds.

    A claim that ran out may have been taken over by another run meanwhile: such a call
    is not in the result and is left to that run.
    """
    ids = list(call_ids)
    if not ids:
        return set()
    until = utcnow() + timedelta(seconds=claim_seconds)
    with session_scope(engine, immediate=True) as session:
        session.execute(
            sa.update(Call)
            .where(col(Call.id).in_(ids), col(Call.claimed_by) == worker)
            .values(claimed_until=until)
        )
        held = session.execute(
            sa.select(col(Call.id)).where(col(Call.id).in_(ids), col(Call.claimed_by) == worker)
        ).scalars()
        return set(held)


class BatchClaims:
    """This run's claims on one claimed batch of calls.

    They are renewed (in one transaction for the whole batch) once a fifth of their time
    has passed, not before every stage: a claim held that recently cannot have run out.
    The write of each stage checks the claim again under the lock anyway.
    """

    def __init__(
        self, engine: Engine, worker: str, batch: Iterable[str], claim_seconds: int
    ) -> None:
        self.engine = engine
        self.worker = worker
        self.claim_seconds = claim_seconds
        self._held = set(batch)
        self._renewed = time.monotonic()  # claim_calls just set them

    def holds(self, call_id: str) -> bool:
        """True while this run holds the call's claim (renewing the batch when due)."""
        if time.monotonic() - self._renewed >= self.claim_seconds / 5:
            self._held = renew_claims(
                self.engine, self.worker, self._held, claim_seconds=self.claim_seconds
            )
            self._renewed = time.monotonic()
        return call_id in self._held

    def finished(self, call_id: str) -> None:
        """The call is done with (its claim is released with the batch)."""
        self._held.discard(call_id)


def release_claims(engine: Engine, worker: str, call_ids: Iterable[str] | None = None) -> None:
    """Give up this run's claims on `call_ids` (all of them when None)."""
    condition = col(Call.claimed_by) == worker
    if call_ids is not None:
        condition = sa.and_(condition, col(Call.id).in_(list(call_ids)))
    with session_scope(engine, immediate=True) as session:
        session.execute(
            sa.update(Call).where(condition).values(claimed_by=None, claimed_until=None)
        )
