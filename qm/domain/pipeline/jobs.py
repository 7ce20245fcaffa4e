"""Running the pipeline in several worker processes at once (`qm process --jobs N`).

Each worker is a fresh Python process (the spawn start method: no connection, lock or
thread of the parent is inherited) that opens its own engine from the settings and runs
`process_pending`; the claims of `qm.domain.claims` share the calls among them, as they
do among separate `qm process` runs. Progress and each worker's report come back to the
parent over one queue, and the parent merges the reports.
"""

import logging
import os
import queue
from collections.abc import Callable, Sequence
from datetime import datetime
from multiprocessing import get_context
from multiprocessing.queues import Queue
from typing import Any

from qm.db import make_engine
from qm.domain.claims import CLAIM_SECONDS
from qm.domain.pipeline.runner import process_pending, unfinished_call_ids
from qm.domain.pipeline.work import ProcessReport
from qm.models import utcnow
from qm.settings import Settings

# How long the parent waits for a message before it looks for workers that died.
POLL_SECONDS = 0.5


class WorkerFailed(RuntimeError):
    """A worker process stopped with an error or was killed; the others finished."""


def available_cpus() -> int:
    """The CPU cores this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _worker(
    index: int,
    settings: Settings,
    call_ids: list[str] | None,
    asr_fallback: bool,
    claim_seconds: int,
    run_started: datetime,
    messages: "Queue[tuple[int, str, Any]]",
) -> None:
    """One worker process: runs `process_pending` and sends progress and its report."""
    if not logging.getLogger().handlers:
        # Failed stages are logged with their traceback and error id, as by `qm process`.
        logging.basicConfig(
            level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    engine = make_engine(settings.database_url)
    try:
        report = process_pending(
            engine,
            settings,
            call_ids=call_ids,
            asr_fallback=asr_fallback,
            progress=lambda n: messages.put((index, "progress", n)),
            claim_seconds=claim_seconds,
            run_started=run_started,
        )
    except BaseException as exc:
        messages.put((index, "error", f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        engine.dispose()
    messages.put((index, "report", report))


def process_parallel(
    settings: Settings,
    *,
    jobs: int = 0,
    call_ids: Sequence[str] | None = None,
    asr_fallback: bool = False,
    progress: Callable[[int], None] | None = None,
    claim_seconds: int = CLAIM_SECONDS,
) -> ProcessReport:
    """Run every unfinished stage of every imported call (or of `call_ids`) in `jobs`
    worker processes on the database of `settings`, and merge what they did.

    Args:
        settings: the database, ASR and script settings (sent to each worker).
        jobs: worker processes; 0 means one per CPU core. Never more than there are
            unfinished calls; with one, the work runs in this process.
        call_ids: restrict the run to these calls.
        asr_fallback: use pocketsphinx when the Whisper model cannot be loaded.
        progress: called with the number of calls finished, as workers report them.
        claim_seconds: how long a claim holds without renewal.

    Raises:
        WorkerFailed: a worker stopped with an error or was killed (after the others
            finished; their calls are stored, and the failed worker's calls are left
            unfinished for the next run).
    """
    wanted = list(call_ids) if call_ids is not None else None
    # One run: a call that failed in one worker is not tried again by another.
    started = utcnow()
    engine = make_engine(settings.database_url)
    try:
        pending = len(unfinished_call_ids(engine, wanted))
        jobs = min(jobs or available_cpus(), max(pending, 1))
        if jobs <= 1:
            return process_pending(
                engine,
                settings,
                call_ids=wanted,
                asr_fallback=asr_fallback,
                progress=progress,
                claim_seconds=claim_seconds,
                run_started=started,
            )
    finally:
        engine.dispose()

    context = get_context("spawn")
    messages: Queue[tuple[int, str, Any]] = context.Queue()
    workers = [
        context.Process(
            target=_worker,
            args=(n, settings, wanted, asr_fallback, claim_seconds, started, messages),
            name=f"qm-process-{n}",
        )
        for n in range(jobs)
    ]
    for worker in workers:
        worker.start()
    report = ProcessReport()
    ended: set[int] = set()
    errors: dict[int, str] = {}
    try:
        while len(ended) < jobs:
            # A worker that was dead before the wait began has sent all it ever will.
            dead = {n for n, w in enumerate(workers) if not w.is_alive()}
            try:
                index, kind, value = messages.get(timeout=POLL_SECONDS)
            except queue.Empty:
                for n in dead - ended:
                    errors[n] = f"stopped (exit code {workers[n].exitcode})"
                    ended.add(n)
                continue
            if kind == "progress":
                if progress is not None:
                    progress(value)
            elif kind == "report":
                report.merge(value)
                ended.add(index)
            else:
                errors[index] = value
                ended.add(index)
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
                worker.join()
        messages.close()
    if errors:
        raise WorkerFailed(
            "; ".join(f"worker {n + 1} of {jobs}: {text}" for n, text in sorted(errors.items()))
        )
    return report
