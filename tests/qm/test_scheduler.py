"""The scheduler with a controlled clock: once a month, a missed run made up once after a
restart, and one run however many processes start it."""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.app import create_app
from qm.db import make_engine, session_scope
from qm.domain.schedule import day_time, due_period, take_lease
from qm.models import RunState, ScheduledRun, SchedulerLease
from qm.scheduler import (
    MONTHLY_REPORTS,
    PENDING_WORK,
    RETENTION,
    REVIEW_SAMPLING,
    JobContext,
    SchedulerService,
    monthly_trigger,
    run_due,
    run_retention,
)
from qm.settings import Settings
from scoring.period import Period
from tests.qm.commands.cli import invoke
from tests.qm.reports_world import FakeRenderer, build_world

SITE = ZoneInfo("Asia/Shanghai")


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SITE)


@pytest.fixture
def site(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "timezone": "Asia/Shanghai",
            "report_day_time": "06:30",
            "report_dir": tmp_path / "reports",
        }
    )


@pytest.fixture
def world(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        build_world(session)
    return engine


def context(engine: Engine, settings: Settings, renderer: FakeRenderer, holder: str) -> JobContext:
    return JobContext(
        engine=engine, settings=settings, renderer=renderer, mailer=None, holder=holder
    )


def team_periods(renderer: FakeRenderer) -> list[str]:
    """The months the team report of T2 (one language) was rendered for, in order."""
    return [period for kind, who, period, _ in renderer.calls if kind == "team" and who == "T2"]


def test_the_trigger_fires_on_the_first_at_the_site_time(site: Settings) -> None:
    trigger = monthly_trigger(site)
    fires = []
    previous = None
    now = local(2026, 11, 15, 12, 0)
    for _ in range(12):
        fire = trigger.get_next_fire_time(previous, now)
        fires.append(fire)
        previous, now = fire, fire
    assert fires[0] == local(2026, 12, 1, 6, 30)
    assert fires[1] == local(2027, 1, 1, 6, 30)
    assert [f.month for f in fires] == [12, *range(1, 12)]
    assert all(f.day == 1 and (f.hour, f.minute) == (6, 30) for f in fires)


def test_the_month_due_is_the_one_just_ended_once_its_first_has_come() -> None:
    at = day_time("06:30")
    assert due_period(local(2026, 12, 1, 6, 29), at, SITE) == Period(2026, 10)
    assert due_period(local(2026, 12, 1, 6, 30), at, SITE) == Period(2026, 11)
    # 23:00 UTC on 30 November is already 1 December 07:00 in Shanghai.
    assert due_period(datetime(2026, 11, 30, 23, 0, tzinfo=UTC), at, SITE) == Period(2026, 11)
    assert due_period(local(2027, 1, 20), at, SITE) == Period(2026, 12)


def test_each_month_runs_once_however_often_the_clock_ticks(world: Engine, site: Settings) -> None:
    renderer = FakeRenderer()
    ctx = context(world, site, renderer, "only")
    ran: list[tuple[datetime, list[str]]] = []
    now = local(2026, 11, 20)
    while now < local(2027, 2, 10):
        jobs = run_due(ctx, now)
        if jobs:
            ran.append((now, jobs))
        now += timedelta(hours=3)
    assert team_periods(renderer) == ["2026-10", "2026-11", "2026-12", "2027-01"]
    # The first tick catches the month already due; later ones run on the 1st at 06:30.
    assert [when for when, _ in ran] == [
        local(2026, 11, 20),
        local(2026, 12, 1, 9),
        local(2027, 1, 1, 9),
        local(2027, 2, 1, 9),
    ]
    assert all(jobs == [MONTHLY_REPORTS, REVIEW_SAMPLING] for _, jobs in ran)
    with Session(world) as session:
        runs = session.exec(select(ScheduledRun)).all()
    assert len(runs) == 8 and {r.state for r in runs} == {RunState.DONE}


def test_a_missed_run_is_made_up_once_after_a_restart(world: Engine, site: Settings) -> None:
    renderer = FakeRenderer()
    clock = Clock(local(2026, 11, 20, 10))
    first = SchedulerService(context(world, site, renderer, "first"), clock=clock)
    assert first.tick() and first.running
    # The jobs live in APScheduler's job store in the app database.
    assert first.scheduler is not None
    jobs = {job.id: job for job in first.scheduler.get_jobs()}
    assert set(jobs) == {MONTHLY_REPORTS, REVIEW_SAMPLING, PENDING_WORK, RETENTION}
    next_run = jobs[MONTHLY_REPORTS].next_run_time.astimezone(SITE)
    assert (next_run.day, next_run.hour, next_run.minute) == (1, 6, 30)
    with world.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM apscheduler_jobs")).scalar()
    assert stored == 4
    first.stop()
    assert team_periods(renderer) == ["2026-10"]

    # Down over 1 December; the next start makes November up, once.
    clock.now = local(2026, 12, 3, 8)
    second = SchedulerService(context(world, site, renderer, "second"), clock=clock)
    assert second.tick()
    assert second.tick()  # renewing changes nothing
    second.stop()
    clock.now = local(2026, 12, 3, 9)
    third = SchedulerService(context(world, site, renderer, "third"), clock=clock)
    assert third.tick()
    third.stop()
    assert team_periods(renderer) == ["2026-10", "2026-11"]


def test_two_processes_on_one_database_run_it_once(
    world: Engine, site: Settings, db_url: str
) -> None:
    renderer = FakeRenderer()
    clock = Clock(local(2026, 12, 1, 7))
    other_engine = make_engine(db_url)  # a second process has its own connections
    try:
        one = SchedulerService(context(world, site, renderer, "one"), clock=clock)
        two = SchedulerService(context(other_engine, site, renderer, "two"), clock=clock)
        assert one.tick()
        assert not two.tick() and not two.running
        # Even a second run of the jobs themselves (a race) finds the month claimed.
        assert run_due(two.ctx, clock.now) == []
        assert team_periods(renderer) == ["2026-11"]

        # The holder dies without giving the lease up: the other takes over after it expires.
        assert one.scheduler is not None
        one.scheduler.shutdown(wait=False)
        one.scheduler = None
        clock.now += timedelta(seconds=30)
        assert not two.tick()
        clock.now += one.ttl
        assert two.tick() and two.running
        assert team_periods(renderer) == ["2026-11"]
        with Session(world) as session:
            lease = session.exec(select(SchedulerLease)).one()
        assert lease.holder == "two"
        two.stop()
        with Session(world) as session:
            assert session.exec(select(SchedulerLease)).first() is None
    finally:
        other_engine.dispose()


def test_a_failed_run_is_recorded_and_tried_again(world: Engine, site: Settings) -> None:
    class Flaky(FakeRenderer):
        failures = 1

        def team_report(
            self, session: Session, *, team_id: str, period: Period, language: str
        ) -> bytes:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("renderer broke")
            return super().team_report(session, team_id=team_id, period=period, language=language)

    renderer = Flaky()
    ctx = context(world, site, renderer, "only")
    now = local(2026, 12, 1, 7)
    assert run_due(ctx, now) == [MONTHLY_REPORTS, REVIEW_SAMPLING]
    with Session(world) as session:
        failed = session.get(ScheduledRun, (MONTHLY_REPORTS, "2026-11"))
        assert failed is not None and failed.state == RunState.FAILED
        assert "renderer broke" in (failed.error or "")
    assert run_due(ctx, now + timedelta(minutes=5)) == []  # not at once
    assert run_due(ctx, now + timedelta(minutes=61)) == [MONTHLY_REPORTS]
    assert run_due(ctx, now + timedelta(minutes=70)) == []
    assert "2026-11" in team_periods(renderer)


def test_two_web_workers_with_the_scheduler_enabled_run_it_in_one(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("qm.domain.report_rendering.PdfRenderer", lambda _settings: FakeRenderer())
    enabled = settings.model_copy(
        update={"scheduler_enabled": True, "report_dir": tmp_path / "reports"}
    )
    with TestClient(create_app(enabled)) as one, TestClient(create_app(enabled)) as two:
        services = [one.app.state.scheduler, two.app.state.scheduler]
        deadline = time.monotonic() + 20
        while not any(s.running for s in services) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # both have ticked by now: the second found the lease taken
        assert [s.running for s in services].count(True) == 1
        with Session(engine) as session:
            lease = session.exec(select(SchedulerLease)).one()
        assert lease.holder in {s.ctx.holder for s in services if s.running}
        # The make-up pass runs as a job of the worker holding the lease.
        done: list[ScheduledRun] = []
        finished = {RunState.DONE, RunState.FAILED}
        while not (len(done) == 2 and all(r.state in finished for r in done)):
            assert time.monotonic() < deadline + 20, done
            time.sleep(0.2)
            with Session(engine) as session:
                done = list(session.exec(select(ScheduledRun)).all())
        assert {(r.job, r.state) for r in done} == {
            (MONTHLY_REPORTS, RunState.DONE),
            (REVIEW_SAMPLING, RunState.DONE),
        }
    # Stopping gives the lease up for the next worker that starts.
    with Session(engine) as session:
        assert session.exec(select(SchedulerLease)).first() is None


def test_the_web_app_leaves_the_scheduler_off_unless_enabled(
    settings: Settings, engine: Engine
) -> None:
    with TestClient(create_app(settings)) as client:
        assert getattr(client.app.state, "scheduler", None) is None


def test_the_retention_job_runs_only_when_retention_is_set(world: Engine, site: Settings) -> None:
    ctx = context(world, site, FakeRenderer(), "only")
    assert run_retention(ctx, local(2026, 12, 1, 7)) is None
    kept = context(world, site.model_copy(update={"retention_days": 30}), FakeRenderer(), "only")
    assert run_retention(kept, local(2026, 12, 1, 7)) == 0  # no calls: nothing to purge


def test_qm_scheduler_once_runs_what_is_due_then_nothing(
    world: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("qm.domain.report_rendering.PdfRenderer", lambda _settings: FakeRenderer())
    env = {"QM_REPORT_DIR": str(tmp_path / "reports")}
    first = invoke(db_url, "scheduler", "--once", **env)
    assert first.exit_code == 0, first.output
    assert f"ran: {MONTHLY_REPORTS}, {REVIEW_SAMPLING}" in first.output
    assert "nothing was due" in invoke(db_url, "scheduler", "--once", **env).output
    # While another process holds the lease, --once leaves the jobs to it.
    with session_scope(world, immediate=True) as session:
        take_lease(session, holder="elsewhere", now=datetime.now(UTC), ttl=timedelta(hours=1))
    busy = invoke(db_url, "scheduler", "--once", **env)
    assert busy.exit_code == 1 and "another process" in busy.output


@pytest.mark.parametrize("value", ["25:00", "6", "06:5", "six", "06:60", ""])
def test_a_bad_report_time_is_refused_naming_the_setting(value: str) -> None:
    with pytest.raises(ValueError, match="QM_REPORT_DAY_TIME"):
        Settings(report_day_time=value, _env_file=None)  # type: ignore[call-arg]
