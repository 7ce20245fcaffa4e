"""Building the demo database through the product's own paths.

`import_demo` loads what an IT person would load on day one: the real Harper Valley
calls, then the synthetic call center's teams, scripts, queues and forms, its generated
manifest + transcript files (through `ingest_manifest`, which redacts card numbers) and
its mystery-shopper CSVs (through `ingest_mystery`). The pipeline then runs as
`qm process` would. `finish_demo` adds what people do over six months: training plans
with their states, reviewer evaluations (released, acknowledged, disputed and
resolved), a calibration session, and the demo logins. It runs last, in one transaction
with the logins, so a build that stopped half-way is simply built again.
`archive_reports` then leaves the last demo month's PDFs in the report archive, as the
scheduler's monthly job would have on the 1st (nothing is e-mailed).
"""

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.db import session_scope
from qm.domain import scripts
from qm.domain.demo import reviews
from qm.domain.demo.center import Team, load_team
from qm.domain.demo.generate import DEMO_TODAY, MONTHS, Generated, generate, write_files
from qm.domain.demo.harper_valley import (
    AUDIO_CALLS,
    HARPER_VALLEY,
    QUEUE,
    SCRIPT,
    write_enrichment,
)
from qm.domain.demo.profiles import TRAINING_MONTH
from qm.domain.imports.harper_valley import ingest_harper_valley
from qm.domain.imports.ingest import ingest_manifest
from qm.domain.imports.mystery import ingest_mystery
from qm.domain.queues import configure_queue
from qm.domain.report_delivery import MonthlyRun, monthly_reports
from qm.domain.review_queue.rules import RuleInput, store_rule
from qm.domain.review_queue.sampling import sample_period
from qm.domain.scorecards import month_bounds
from qm.domain.teams import place_agent, save_team
from qm.domain.training import build_training_plan, set_status
from qm.domain.users import create_user
from qm.models import Call, Report, Role, TrainingAssignment, TrainingStatus, User
from qm.settings import Settings
from scoring.period import Period
from scoring.scorecard import ScorecardConfig
from scoring.training import load_catalog

CENTER = HARPER_VALLEY.parent / "center"
ACTOR = "demo"
HV_TEAM = ("harper-valley", "Harper Valley National Bank (real calls)")


@dataclass(frozen=True)
class DemoLogin:
    """A demo account printed by `qm demo`."""

    username: str
    password: str
    role: Role
    language: str
    agent_id: str | None = None
    teams: tuple[str, ...] = ()
    email: str | None = None
    name: str = ""


# A reviewer across teams, the expert of the English calibration session.
QA_LEAD = DemoLogin(
    "qa.lead", "reviewer-demo", Role.REVIEWER, "en", email="qa.lead@example.com", name="QA lead"
)


REVIEW_SEED = 20261110  # the review queue's random picks, fixed like the rest of the demo


def load_teams(center: Path = CENTER) -> list[Team]:
    """Every team file of the synthetic call center, by file name."""
    return [load_team(path) for path in sorted(center.glob("*.yaml"))]


def demo_logins(teams: list[Team]) -> list[DemoLogin]:
    """The demo accounts: an admin, then each team's manager, reviewer and agent login.

    Passwords are the role followed by "-demo" (`manager-demo`), as the README says.
    """
    logins = [DemoLogin("admin", "admin-demo", Role.ADMIN, "en", name="Demo admin"), QA_LEAD]
    for team in teams:
        m, r, a = team.manager, team.reviewer, team.agent_login
        agent_name = next(x.name for x in team.agents if x.id == team.login_agent)
        logins += [
            DemoLogin(
                m.username,
                "manager-demo",
                Role.MANAGER,
                m.language,
                teams=(team.id,),
                email=m.email,
                name=m.name,
            ),
            DemoLogin(
                r.username, "reviewer-demo", Role.REVIEWER, r.language, email=r.email, name=r.name
            ),
            DemoLogin(
                a.username,
                "agent-demo",
                Role.AGENT,
                a.language,
                agent_id=team.login_agent,
                email=a.email,
                name=agent_name,
            ),
        ]
    return logins


def is_built(engine: Engine) -> bool:
    """True when the database already holds the demo (its logins come last)."""
    with Session(engine) as session:
        return session.exec(select(User).where(User.username == "admin")).first() is not None


def _harper_valley(engine: Engine, demo_dir: Path) -> None:
    ingest_harper_valley(engine, HARPER_VALLEY, queue=QUEUE, actor=ACTOR)
    enrichment = demo_dir / "enrichment.csv"
    write_enrichment(HARPER_VALLEY, enrichment)
    ingest_manifest(engine, enrichment, actor=ACTOR)
    # A recorded call, so that the demo also shows the transcription path.
    ingest_manifest(engine, AUDIO_CALLS, actor=ACTOR)
    with session_scope(engine) as session:
        row = scripts.load_script_file(session, SCRIPT, actor=ACTOR)
        scripts.assign_to_queue(session, row.key, QUEUE, actor=ACTOR)


def _configure(session: Session, teams: list[Team]) -> None:
    """Teams, scripts, queues and evaluation forms, as an admin would set them up before
    the first import."""
    save_team(session, HV_TEAM[0], name=HV_TEAM[1], actor=ACTOR)
    for team in teams:
        save_team(session, team.id, name=team.name, actor=ACTOR)
        for queue in team.queues:
            row = scripts.load_script_file(session, queue.script_path, actor=ACTOR)
            configure_queue(
                session,
                queue.id,
                actor=ACTOR,
                script_key=row.key,
                aht_min_seconds=queue.aht_band[0],
                aht_max_seconds=queue.aht_band[1],
            )
    reviews.load_forms(session, teams)


def import_demo(
    engine: Engine,
    demo_dir: Path,
    *,
    today: date = DEMO_TODAY,
    center: Path = CENTER,
    months: int = MONTHS,
    teams: list[Team] | None = None,
) -> tuple[list[Team], Generated]:
    """Load the real calls and the generated call center (everything but the people's work).

    Args:
        engine: the database (migrated).
        demo_dir: where the generated manifest, transcripts and CSVs are written.
        today: the demo's fixed "today"; six full months before its month are generated.
        center: the folder of team files.
        months: how many full months to generate (tests make fewer).
        teams: the team files already read from `center` (read here when None).

    Returns:
        The teams and what was generated for them.
    """
    teams = teams if teams is not None else load_teams(center)
    demo_dir.mkdir(parents=True, exist_ok=True)
    _harper_valley(engine, demo_dir)
    with session_scope(engine) as session:
        _configure(session, teams)
    generated = generate(teams, today=today, months=months)
    manifest, mystery = write_files(generated, demo_dir)
    ingest_manifest(engine, manifest, actor=ACTOR)
    with session_scope(engine) as session:
        hv_agents = session.exec(select(Call.agent_id).where(Call.queue == QUEUE)).all()
        for agent_id in sorted(set(hv_agents)):
            place_agent(session, agent_id, team_id=HV_TEAM[0], actor=ACTOR)
        for team in teams:
            for agent in team.agents:
                place_agent(session, agent.id, team_id=team.id, name=agent.name, actor=ACTOR)
    for path in mystery.values():
        ingest_mystery(engine, path, actor=ACTOR)
    return teams, generated


def _training(engine: Engine, settings: Settings, periods: list[str]) -> None:
    """Store the monthly training plans from the improver's training month on, then move
    them through their states.

    Plans of all but the last two months were worked through (completed); the
    second-to-last month's are acknowledged, or still open and past due (overdue); the
    last month's were just assigned.
    """
    catalog = load_catalog()
    config = ScorecardConfig(min_contacts=settings.min_contacts)
    for period in periods[TRAINING_MONTH - 1 :]:
        with session_scope(engine, immediate=True) as session:
            build_training_plan(
                session, period, tz=settings.tz, catalog=catalog, config=config, actor=ACTOR,
                with_followups=False,
            )  # fmt: skip
    with session_scope(engine) as session:
        stored = session.exec(
            select(TrainingAssignment).order_by(
                col(TrainingAssignment.period), col(TrainingAssignment.id)
            )
        ).all()
        for i, item in enumerate(stored):
            if item.period in periods[:-2]:
                set_status(session, item.id or 0, TrainingStatus.ACKNOWLEDGED, actor=item.agent_id)
                set_status(session, item.id or 0, TrainingStatus.COMPLETED, actor=item.agent_id)
            elif item.period == periods[-2] and i % 2 == 0:
                set_status(session, item.id or 0, TrainingStatus.ACKNOWLEDGED, actor=item.agent_id)


def _periods(settings: Settings, periods: list[str]) -> list[tuple[str, datetime, datetime]]:
    return [(p, *month_bounds(p, settings.tz)) for p in periods]


def finish_demo(
    engine: Engine, settings: Settings, teams: list[Team], generated: Generated
) -> list[DemoLogin]:
    """Training plans, then in one transaction the logins, evaluations, calibrations and
    the current month's review queue.

    Runs after the pipeline: evaluations are prefilled from the automatic results and
    training plans rest on the scorecards.
    """
    _training(engine, settings, generated.periods)
    logins = demo_logins(teams)
    with session_scope(engine) as session:
        users = {}
        for login in logins:
            users[login.username] = create_user(
                session,
                username=login.username,
                password=login.password,
                role=login.role,
                agent_id=login.agent_id,
                display_name=login.name or login.username,
                email=login.email,
                language=login.language,
                team_ids=login.teams,
                actor=ACTOR,
            )
        recent = _periods(settings, generated.periods[-2:])
        for team in teams:
            people = reviews.People(
                reviewer=users[team.reviewer.username],
                manager=users[team.manager.username],
                agent=users[team.agent_login.username],
                expert=users[QA_LEAD.username] if team.language == "en" else None,
            )
            reviews.evaluate_team(session, team, people, recent, dispute_days=settings.dispute_days)
            reviews.calibrate_team(session, team, people, recent[-1])
            # Each team's calls go to its own reviewer (who reads the language).
            store_rule(
                session,
                data=RuleInput(team_id=team.id, reviewers=[team.reviewer.username]),
                actor=ACTOR,
            )
        # The review queue of the month in progress, as the scheduled sampling leaves it.
        sample_period(
            session,
            period=Period.of_day(DEMO_TODAY),
            today=DEMO_TODAY,
            seed=REVIEW_SEED,
            tz=settings.tz,
            actor=ACTOR,
        )
    return logins


def last_month() -> Period:
    """The last complete month of the demo: the one before its fixed "today"."""
    return Period.of_day(DEMO_TODAY).previous()


def has_reports(engine: Engine, period: Period) -> bool:
    """True when the report archive holds reports of `period`."""
    with Session(engine) as session:
        found = session.exec(select(Report.id).where(col(Report.period) == str(period)))
        return found.first() is not None


def archive_reports(engine: Engine, settings: Settings, period: Period | None = None) -> MonthlyRun:
    """Render and archive `period`'s reports (the last demo month by default) through the
    scheduler's own `monthly_reports`: each team's report in its managers' languages (a
    team without a manager: the site's), each agent login's scorecard PDF. Nothing is
    e-mailed: the demo's addresses are not real.
    """
    # Imported here: the renderer pulls in ReportLab, which the rest of the build needs not.
    from qm.domain.report_rendering import PdfRenderer

    return monthly_reports(
        engine,
        folder=settings.report_folder(),
        renderer=PdfRenderer(settings),
        period=period or last_month(),
        default_language=settings.default_language,
        send=False,
    )
