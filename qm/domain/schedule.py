"""When periodic jobs are due, and the database records that make them run exactly once.

Two records live in the database every process shares:

- the lease (`scheduler_lease`): one process at a time holds it, until it expires unless
  renewed; only the holder runs the scheduler, so several web workers (or a web worker
  and `qm scheduler`) never run it twice;
- the runs (`scheduled_run`): a monthly job claims its (job, period) row before it starts.
  A claim already there (running or done) means the job is not run again, so a make-up
  run after a restart happens once, and even two schedulers would run it once.

Monthly jobs fire on the 1st at `QM_REPORT_DAY_TIME` in the site's zone, for the month
just ended. `due_period` says which month's run is the latest one due at a given instant:
a scheduler that starts after a missed 1st finds that month's run unclaimed and makes it up.
"""

from datetime import datetime, time, timedelta, tzinfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from qm.models import RunState, ScheduledRun, SchedulerLease
from scoring.period import Period

LEASE = "scheduler"
# A run still marked running after this long was cut short (the process died): it may be
# claimed again.
STALE_RUN = timedelta(hours=6)
# A failed run is tried again this long after it failed (not at once: the cause, a server
# away, a bug, is rarely gone a minute later).
RETRY_FAILED_RUN = timedelta(hours=1)


def day_time(text: str) -> time:
    """`QM_REPORT_DAY_TIME` ("06:00") as a time of day."""
    hour, _sep, minute = text.partition(":")
    return time(int(hour), int(minute))


def fire_time(period: Period, at: time, tz: tzinfo) -> datetime:
    """When the run for `period` is due: the 1st of the month after it, at `at` in `tz`."""
    first = period.next().first_day()
    return datetime.combine(first, at, tzinfo=tz)


def due_period(now: datetime, at: time, tz: tzinfo) -> Period:
    """The month whose run is the latest one due at `now` (an aware instant).

    On 1 December at or after `at`: November; before `at`: October (November's run is
    not due yet, October's was due on 1 November).
    """
    this_month = Period.of(now, tz)
    if now >= fire_time(this_month.previous(), at, tz):
        return this_month.previous()
    return this_month.previous().previous()


def take_lease(session: Session, *, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the scheduler's lease for `holder` until `now + ttl`; the caller commits.

    Start the transaction with the SQLite write lock (`session_scope(immediate=True)`) so
    that two processes cannot both read the lease as free.

    Returns:
        True when `holder` holds the lease now; False when another live process does.
    """
    lease = session.get(SchedulerLease, LEASE)
    if lease is None:
        session.add(SchedulerLease(name=LEASE, holder=holder, expires_at=now + ttl))
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return False
        return True
    if lease.holder != holder and lease.expires_at > now:
        return False
    lease.holder = holder
    lease.expires_at = now + ttl
    session.add(lease)
    session.flush()
    return True


def release_lease(session: Session, *, holder: str) -> None:
    """Give the lease up (a process stopping), if `holder` holds it; the caller commits."""
    lease = session.get(SchedulerLease, LEASE)
    if lease is not None and lease.holder == holder:
        session.delete(lease)
        session.flush()


def claim_run(session: Session, *, job: str, period: Period, holder: str, now: datetime) -> bool:
    """Claim the run of `job` for `period`; the caller commits (before running the job).

    Returns:
        True when the job should run now: no run was recorded, the last one failed
        RETRY_FAILED_RUN ago or more, or one marked running is older than STALE_RUN.
        False when it is done, running, or failed a short while ago.
    """
    run = session.get(ScheduledRun, (job, str(period)))
    if run is None:
        session.add(
            ScheduledRun(
                job=job, period=str(period), state=RunState.RUNNING, holder=holder, started_at=now
            )
        )
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return False
        return True
    if run.state == RunState.DONE or (
        run.state == RunState.RUNNING and now - run.started_at < STALE_RUN
    ):
        return False
    if run.state == RunState.FAILED and now - (run.finished_at or now) < RETRY_FAILED_RUN:
        return False
    run.state = RunState.RUNNING
    run.holder = holder
    run.started_at = now
    run.finished_at = None
    run.error = None
    session.add(run)
    session.flush()
    return True


def finish_run(
    session: Session, *, job: str, period: Period, now: datetime, error: str | None = None
) -> None:
    """Record the end of a claimed run (done, or failed with `error`); the caller commits."""
    run = session.get(ScheduledRun, (job, str(period)))
    if run is None:
        return
    run.state = RunState.FAILED if error else RunState.DONE
    run.finished_at = now
    run.error = error
    session.add(run)
    session.flush()
