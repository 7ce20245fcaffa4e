"""The scheduler: periodic jobs run by exactly one process.

APScheduler 3 (`BackgroundScheduler`, jobs kept in the app database by its
`SQLAlchemyJobStore`, coalescing and a misfire grace) fires:

- `monthly-reports`: on the 1st at `QM_REPORT_DAY_TIME` site time, the month just ended's
  reports rendered, archived and e-mailed to the managers (`qm.domain.report_delivery`);
- `review-sampling`: at the same time, the month's review picks (`sample_period`);
- `pending-work`: every few minutes, e-mails due for another try, and a monthly run
  that failed (an hour later) or was missed;
- `retention`: daily at the same time, when `QM_RETENTION_DAYS` is set, the recordings and
  transcripts past retention removed (as `qm retention run`).
- `watched-folder`: every `QM_WATCH_INTERVAL_MINUTES`, when `QM_WATCH_DIR` is set, the
  call manifests and mystery-shopper CSVs dropped there imported
  (`qm.domain.imports.watched_folder`).

It runs in one process only: `qm scheduler`, or a web worker started with
`QM_SCHEDULER_ENABLED`. Each such process keeps trying to take the database lease
(`qm.domain.schedule`); the one holding it runs the jobs, the others wait and take over
when it stops renewing. Each monthly run claims its (job, period) row first, so a run
happens once per month even when it fires twice; on taking the lease a process runs
whatever is due and unclaimed (`run_due`), which makes up a run missed while nothing was
running.
"""

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from qm.db import session_scope
from qm.domain.imports.watched_folder import WatchReport, watch_pass
from qm.domain.mail import Mailer, SmtpMailer, archive_link
from qm.domain.privacy import apply_retention
from qm.domain.report_delivery import DeliveryRun, ReportRenderer, deliver_due, monthly_reports
from qm.domain.review_queue.sampling import sample_period
from qm.domain.schedule import (
    claim_run,
    day_time,
    due_period,
    finish_run,
    release_lease,
    take_lease,
)
from qm.settings import Settings
from scoring.period import Period

if TYPE_CHECKING:
    from litestar import Litestar

log = logging.getLogger(__name__)

MONTHLY_REPORTS = "monthly-reports"
REVIEW_SAMPLING = "review-sampling"
PENDING_WORK = "pending-work"
RETENTION = "retention"
WATCHED_FOLDER = "watched-folder"
CATCH_UP = "catch-up"
MONTHLY_JOBS = (MONTHLY_REPORTS, REVIEW_SAMPLING)
# The lease lives this long unless renewed; it is renewed three times as often.
LEASE_TTL = timedelta(seconds=90)
PENDING_INTERVAL = timedelta(minutes=5)
# A run APScheduler finds late (the process was busy or just started) still runs within
# this; runs missed for longer are made up by `run_due` when the lease is taken.
MISFIRE_GRACE = int(timedelta(days=3).total_seconds())

# The services running in this process, by lease holder: the jobs APScheduler keeps in the
# database name their service by holder, since a stored job holds no engine or settings.
_SERVICES: dict[str, "SchedulerService"] = {}


def utcnow() -> datetime:
    """The current instant (the scheduler's clock unless a test gives its own)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class JobContext:
    """What the jobs work with: the database, the settings, the renderer and the mailer."""

    engine: Engine
    settings: Settings
    renderer: ReportRenderer
    mailer: Mailer | None
    holder: str


def new_holder() -> str:
    """A name for this process in the lease: host, process id and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claimed(ctx: JobContext, job: str, period: Period, now: datetime) -> bool:
    with session_scope(ctx.engine, immediate=True) as session:
        return claim_run(session, job=job, period=period, holder=ctx.holder, now=now)


def _finish(ctx: JobContext, job: str, period: Period, now: datetime, error: str | None) -> None:
    with session_scope(ctx.engine, immediate=True) as session:
        finish_run(session, job=job, period=period, now=now, error=error)


def _later(now: datetime, began: float) -> datetime:
    """`now` plus the time spent since `began` (time.monotonic()): the end of a run on the
    clock its start was read from."""
    return now + timedelta(seconds=time.monotonic() - began)


def run_monthly_job(ctx: JobContext, job: str, now: datetime) -> bool:
    """Run `job` for the month due at `now`, unless that run is claimed or done.

    Returns:
        True when this call ran it (successfully or not: a failure is recorded with its
        error, and the next pass tries again).
    """
    settings = ctx.settings
    period = due_period(now, day_time(settings.report_day_time), settings.tz)
    if not _claimed(ctx, job, period, now):
        return False
    log.info("scheduler: %s for %s", job, period)
    began = time.monotonic()
    try:
        if job == MONTHLY_REPORTS:
            _monthly_reports(ctx, period, now)
        else:
            with session_scope(ctx.engine, immediate=True) as session:
                today = now.astimezone(settings.tz).date()
                sample_period(
                    session, period=period, today=today, tz=settings.tz, actor="scheduler"
                )
    except Exception as exc:  # a failed run is recorded, and retried, never lost
        log.exception("scheduler: %s for %s failed", job, period)
        _finish(ctx, job, period, _later(now, began), f"{type(exc).__name__}: {exc}")
    else:
        _finish(ctx, job, period, _later(now, began), None)
    return True


def _monthly_reports(ctx: JobContext, period: Period, now: datetime) -> None:
    settings = ctx.settings
    folder = settings.report_folder()
    run = monthly_reports(
        ctx.engine,
        folder=folder,
        renderer=ctx.renderer,
        period=period,
        default_language=settings.default_language,
        send=ctx.mailer is not None,
    )
    if ctx.mailer is not None:
        deliver_due(
            ctx.engine,
            folder=folder,
            mailer=ctx.mailer,
            sender=settings.smtp_from,
            archive_url=archive_link(settings),
            now=now,
            report_ids=[r.id for r in run.reports],
        )


def run_deliveries(ctx: JobContext, now: datetime) -> DeliveryRun | None:
    """Send the e-mails that are due (new, or past their back-off); None without SMTP."""
    if ctx.mailer is None:
        return None
    return deliver_due(
        ctx.engine,
        folder=ctx.settings.report_folder(),
        mailer=ctx.mailer,
        sender=ctx.settings.smtp_from,
        archive_url=archive_link(ctx.settings),
        now=now,
    )


def run_retention(ctx: JobContext, now: datetime) -> int | None:
    """Remove what is past `QM_RETENTION_DAYS` (None when unset); the calls purged.

    Safe to run as often as wanted: calls already purged are left alone.
    """
    days = ctx.settings.retention_days
    if days is None:
        return None
    with session_scope(ctx.engine, immediate=True) as session:
        result = apply_retention(session, days=days, actor="scheduler", now=now)
    for problem in result.delete_files():
        log.warning("retention: %s", problem)
    return result.calls


def run_watched_folder(ctx: JobContext, now: datetime) -> WatchReport | None:
    """Import what was dropped in `QM_WATCH_DIR` and is ready (None when unset)."""
    folder = ctx.settings.watch_dir
    if folder is None:
        return None
    return watch_pass(ctx.engine, ctx.settings, folder, now=now)


def run_due(ctx: JobContext, now: datetime) -> list[str]:
    """Run every job due at `now` and not yet done (a monthly run missed, or failed an hour
    ago or more), and send the e-mails due: on taking the lease, then every few minutes.

    Returns:
        The monthly jobs this call ran.
    """
    ran = [job for job in MONTHLY_JOBS if run_monthly_job(ctx, job, now)]
    run_deliveries(ctx, now)
    return ran


def monthly_trigger(settings: Settings) -> CronTrigger:
    """When the monthly jobs fire: the 1st at `QM_REPORT_DAY_TIME` in the site's zone."""
    at = day_time(settings.report_day_time)
    return CronTrigger(day=1, hour=at.hour, minute=at.minute, timezone=settings.tz)


def _fire(job: str, holder: str) -> None:
    """What a stored APScheduler job calls: `job` in the service of `holder`."""
    service = _SERVICES.get(holder)
    if service is None:
        log.warning("scheduler: %s fired for a service that is gone (%s)", job, holder)
        return
    service.fire(job)


class SchedulerService:
    """Takes the lease and, while holding it, runs the APScheduler jobs.

    `tick()` is one step (take or renew the lease; start or stop the jobs); `start()` runs
    ticks in a background thread until `stop()`.
    """

    def __init__(
        self,
        ctx: JobContext,
        *,
        clock: Callable[[], datetime] = utcnow,
        ttl: timedelta = LEASE_TTL,
    ) -> None:
        self.ctx = ctx
        self.clock = clock
        self.ttl = ttl
        self.scheduler: BackgroundScheduler | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while this process runs the jobs (it holds the lease)."""
        return self.scheduler is not None

    def tick(self, *, catch_up_inline: bool = True) -> bool:
        """Take or renew the lease; start the jobs on taking it, stop them on losing it.

        On taking the lease, whatever is due and not done is run (`run_due`): here, before
        returning, or with `catch_up_inline` off as a job of its own, so that the thread
        that renews the lease is not kept from renewing it by a long make-up run.

        Returns:
            True when this process holds the lease.
        """
        now = self.clock()
        try:
            with session_scope(self.ctx.engine, immediate=True) as session:
                holding = take_lease(session, holder=self.ctx.holder, now=now, ttl=self.ttl)
        except Exception:  # the database is away: hold nothing until it answers again
            log.exception("scheduler: could not reach the lease")
            holding = False
        if holding and self.scheduler is None:
            log.info("scheduler: %s took the lease", self.ctx.holder)
            if catch_up_inline:
                run_due(self.ctx, now)
            self._start_jobs(catch_up=not catch_up_inline)
        elif not holding and self.scheduler is not None:
            log.warning("scheduler: %s lost the lease; stopping its jobs", self.ctx.holder)
            self._stop_jobs()
        return holding

    def fire(self, job: str) -> None:
        """Run one job now (APScheduler calls this through `_fire`)."""
        now = self.clock()
        if job == PENDING_WORK:
            run_due(self.ctx, now)
        elif job == RETENTION:
            run_retention(self.ctx, now)
        elif job == WATCHED_FOLDER:
            run_watched_folder(self.ctx, now)
        elif job == CATCH_UP:
            run_due(self.ctx, now)
        else:
            run_monthly_job(self.ctx, job, now)

    def _start_jobs(self, *, catch_up: bool = False) -> None:
        settings = self.ctx.settings
        scheduler = BackgroundScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=self.ctx.engine),
                "once": MemoryJobStore(),
            },
            job_defaults={
                "coalesce": True,
                "misfire_grace_time": MISFIRE_GRACE,
                "max_instances": 1,
            },
            timezone=settings.tz,
        )
        _SERVICES[self.ctx.holder] = self
        monthly = monthly_trigger(settings)
        for job in MONTHLY_JOBS:
            scheduler.add_job(
                _fire, monthly, args=[job, self.ctx.holder], id=job, replace_existing=True
            )
        at = day_time(settings.report_day_time)
        scheduler.add_job(
            _fire,
            CronTrigger(hour=at.hour, minute=at.minute, timezone=settings.tz),
            args=[RETENTION, self.ctx.holder],
            id=RETENTION,
            replace_existing=True,
        )
        scheduler.add_job(
            _fire,
            IntervalTrigger(seconds=int(PENDING_INTERVAL.total_seconds())),
            args=[PENDING_WORK, self.ctx.holder],
            id=PENDING_WORK,
            replace_existing=True,
        )
        if settings.watch_dir is not None:
            # (A job stored while the folder was set fires to no effect once it is unset.)
            scheduler.add_job(
                _fire,
                IntervalTrigger(minutes=settings.watch_interval_minutes),
                args=[WATCHED_FOLDER, self.ctx.holder],
                id=WATCHED_FOLDER,
                replace_existing=True,
            )
        if catch_up:
            # Once, now, in the scheduler's own threads (kept in memory: it is not periodic).
            scheduler.add_job(_fire, args=[CATCH_UP, self.ctx.holder], id=CATCH_UP, jobstore="once")
        scheduler.start()
        self.scheduler = scheduler

    def _stop_jobs(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        _SERVICES.pop(self.ctx.holder, None)

    def _loop(self) -> None:
        interval = self.ttl.total_seconds() / 3
        while not self._stopping.is_set():
            self.tick(catch_up_inline=False)
            self._stopping.wait(interval)

    def start(self) -> None:
        """Keep taking the lease, and running the jobs while holding it, in a thread."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="qm-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the jobs and give the lease up, so that another process takes over at once."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._stop_jobs()
        try:
            with session_scope(self.ctx.engine, immediate=True) as session:
                release_lease(session, holder=self.ctx.holder)
        except Exception:  # stopping anyway: the lease expires on its own
            log.exception("scheduler: could not give the lease up")


def service_for(
    engine: Engine, settings: Settings, renderer: ReportRenderer, **options: Any
) -> SchedulerService:
    """The scheduler of this process over `engine`, e-mailing through `QM_SMTP_*`."""
    ctx = JobContext(
        engine=engine,
        settings=settings,
        renderer=renderer,
        mailer=SmtpMailer.from_settings(settings),
        holder=new_holder(),
    )
    return SchedulerService(ctx, **options)


def start_scheduler(app: "Litestar") -> None:
    """Web app start-up: run the scheduler in this worker when `QM_SCHEDULER_ENABLED`."""
    settings: Settings = app.state.settings
    if not settings.scheduler_enabled:
        return
    from qm.domain.report_rendering import PdfRenderer

    service = service_for(app.state.engine, settings, PdfRenderer(settings))
    app.state.scheduler = service
    service.start()


def stop_scheduler(app: "Litestar") -> None:
    """Web app shut-down: stop the scheduler (before the engine is disposed)."""
    service = getattr(app.state, "scheduler", None)
    if isinstance(service, SchedulerService):
        service.stop()
