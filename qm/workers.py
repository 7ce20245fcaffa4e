"""Scale-out on Celery: the pipeline's stages as tasks on a broker (`QM_BROKER_URL`).

`qm process` queues the first unfinished stage of each call (`enqueue_pending`);
`qm worker` runs tasks (`run_worker`). There is one task, `qm.stage(call_id, stage,
queue)`, sent to the stage's queue: transcription to `asr`, the scoring stages to `score`,
so that `qm worker --queues asr` can run on a GPU machine and `--queues score` on CPU
ones; a call with no speech to recognise (a transcript imported, no audio) has its
transcribe stage, which then only records that it skipped, run on `score` too. A task
runs its stage of its call (`qm.domain.pipeline.queued`), then the call's later stages of
the same queue (key points, then metrics: one claim and one read of the call and its
transcript for all of them, as `qm process` does; with a task per scoring stage, the
extra claim, read, release and hop cost more than the stages: one worker scored 19
calls/s instead of 54 in benchmarks/scale.py), and queues the call's next stage of
another queue.

Delivery is at least once: tasks are acknowledged after they ran (`acks_late`), a task
whose worker process died goes back on the queue (`reject_on_worker_lost`; on Redis, a
whole worker killed is noticed after `QM_BROKER_VISIBILITY_TIMEOUT`), and each worker
process takes one task at a time (prefetch 1), so a killed worker strands nothing more.
Running a stage twice is prevented by the call's claim, not by the broker.

This module is the only one that imports Celery; `make_celery(settings)` builds an app
per caller (no module-level app), as `create_app` does for the web.
"""

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from celery import Celery
from sqlalchemy import Engine

from qm.db import make_engine
from qm.domain.pipeline.queued import (
    Outcome,
    TransientError,
    needs_asr,
    pending_stages,
    run_queued_stage,
)
from qm.domain.pipeline.stages import STAGES
from qm.domain.pipeline.work import AsrProvider, PipelineContext
from qm.models import Stage
from qm.settings import Settings

TASK_NAME = "qm.stage"
QUEUE_OF: dict[Stage, str] = {
    Stage.TRANSCRIBE: "asr",
    Stage.KEYPOINTS: "score",
    Stage.METRICS: "score",
}
QUEUES: tuple[str, ...] = ("asr", "score")
SCORE = "score"
# Back-off of a task retried after a transient database error: 2, 4, 8... seconds, at
# most RETRY_MAX_SECONDS apart (kept below the visibility timeout's default, since Redis
# hands a task waiting that long in a worker's memory to another worker too).
RETRIES = 12
RETRY_MAX_SECONDS = 120


def claim_seconds(settings: Settings) -> int:
    """How long a task's claim on its call holds without renewal: a quarter of the
    visibility timeout, so that a killed worker's claim has run out by the time Redis
    hands its task to another worker."""
    return max(2, settings.broker_visibility_timeout // 4)


@dataclass
class _ProcessState:
    """What one worker process keeps between tasks: its engine and pipeline context
    (models, parsed scripts). Made on first use in the process that runs the task, after
    the prefork pool forked it: a connection must not cross a fork."""

    settings: Settings
    asr_fallback: bool
    _pid: int | None = None
    _engine: Engine | None = None
    _ctx: PipelineContext | None = field(default=None, repr=False)

    def get(self) -> tuple[Engine, PipelineContext]:
        if self._pid != os.getpid() or self._engine is None or self._ctx is None:
            self._engine = make_engine(self.settings.database_url)
            asr = AsrProvider(self.settings, fallback=self.asr_fallback)
            self._ctx = PipelineContext(self.settings, asr)
            self._pid = os.getpid()
        return self._engine, self._ctx


def make_celery(settings: Settings, *, asr_fallback: bool = False) -> Celery:
    """A Celery app on `settings.broker_url` with the stage task registered.

    Args:
        settings: the broker, database and pipeline settings.
        asr_fallback: workers use pocketsphinx when the Whisper model cannot be loaded.
    """
    if not settings.broker_url:
        raise ValueError("QM_BROKER_URL is not set")
    app = Celery("qm", broker=settings.broker_url, set_as_current=False)
    visibility = settings.broker_visibility_timeout
    transport: dict[str, object] = {
        "visibility_timeout": visibility,
        # Look for tasks of killed workers every 10 s (less with a short timeout); kombu's
        # default sweeps every 100 s, which would add that to the redelivery time.
        "unacked_restore_interval": max(1, min(10, visibility // 5)),
        "unacked_restore_throttle": 1,
    }
    if settings.broker_key_prefix:
        transport["global_keyprefix"] = settings.broker_key_prefix
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_default_queue=QUEUE_OF[Stage.KEYPOINTS],
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
    )
    state = _ProcessState(settings, asr_fallback)
    hold = claim_seconds(settings)

    @app.task(  # type: ignore[untyped-decorator]  # celery ships no type hints
        name=TASK_NAME,
        acks_late=True,
        reject_on_worker_lost=True,
        autoretry_for=(TransientError,),
        max_retries=RETRIES,
        retry_backoff=2,
        retry_backoff_max=RETRY_MAX_SECONDS,
        retry_jitter=True,
    )
    def run_stage_task(call_id: str, stage: str, queue: str | None = None) -> str:
        """Run one stage of one call and queue what comes next."""
        engine, ctx = state.get()
        named = Stage(stage)
        here = queue or QUEUE_OF[named]
        # The later stages of this task's queue run in it too (see the module docstring).
        then = [s for s in STAGES[STAGES.index(named) + 1 :] if QUEUE_OF[s] == here]
        done = run_queued_stage(engine, ctx, call_id, named, claim_seconds=hold, then=then)
        if done.outcome == Outcome.BUSY and done.retry_in is not None:
            # Not a retry: waiting for another task's claim may take many turns.
            send_stage(app, call_id, named, queue=here, countdown=done.retry_in)
        elif done.next_stage is not None:
            send_stage(app, call_id, done.next_stage)
        return done.outcome.value

    return app


def send_stage(
    app: Celery,
    call_id: str,
    stage: Stage,
    *,
    queue: str | None = None,
    countdown: float | None = None,
    producer: object = None,
) -> None:
    """Queue `stage` of `call_id` on `queue` (default: the stage's own)."""
    where = queue or QUEUE_OF[stage]
    app.send_task(
        TASK_NAME,
        args=(call_id, stage.value, where),
        queue=where,
        countdown=countdown,
        producer=producer,
    )


def enqueue_pending(
    app: Celery, engine: Engine, call_ids: Iterable[str] | None = None
) -> dict[str, int]:
    """Queue the first unfinished stage of every unfinished call (or of `call_ids`);
    returns the tasks queued per queue.

    A call whose task is already queued gets a second one, which finds the stage done
    (or the call claimed) and changes nothing.
    """
    queued = dict.fromkeys(QUEUES, 0)
    pending = pending_stages(engine, call_ids)
    transcribe = [call_id for call_id, stage in pending if stage == Stage.TRANSCRIBE]
    asr = needs_asr(engine, transcribe)
    with app.producer_or_acquire() as producer:
        for call_id, stage in pending:
            # A transcribe stage with no speech to recognise only records that it skipped:
            # the scoring queue runs it with the scoring stages, in one task.
            queue = SCORE if stage == Stage.TRANSCRIBE and call_id not in asr else None
            send_stage(app, call_id, stage, queue=queue, producer=producer)
            queued[queue or QUEUE_OF[stage]] += 1
    return queued


def queue_depths(app: Celery) -> dict[str, int]:
    """Tasks waiting in each queue (not counting those a worker holds)."""
    depths = {}
    with app.connection_for_read() as conn:
        redis = conn.transport.driver_type == "redis"
        for name in QUEUES:
            channel = conn.channel()
            try:
                if redis:
                    # Kombu's count over its priority lists, through the client that adds
                    # QM_BROKER_KEY_PREFIX: a passive declare finds no queue under a prefix.
                    depths[name] = int(channel._size(name))
                else:
                    depths[name] = channel.queue_declare(queue=name, passive=True).message_count
            except conn.channel_errors:
                depths[name] = 0  # never declared: nothing was ever queued there
            finally:
                channel.close()
    return depths


def run_worker(
    settings: Settings,
    *,
    queues: Sequence[str] = QUEUES,
    concurrency: int = 1,
    pool: str = "prefork",
    asr_fallback: bool = False,
    loglevel: str = "INFO",
) -> None:
    """Run a worker on `queues` with `concurrency` processes (`pool` "prefork"), or in
    this process ("solo"), until it is stopped."""
    app = make_celery(settings, asr_fallback=asr_fallback)
    app.worker_main(
        [
            "worker",
            f"--queues={','.join(queues)}",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            f"--loglevel={loglevel}",
            # Unique per process, so that several workers on one machine do not clash.
            f"--hostname=qm-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
    )
