"""A team's month at a glance: the manager's dashboard.

`team_dashboard` gathers, for one team and one calendar month (site time zone):

- headline figures (each scorecard component and the composite) for the team as a whole,
  with n, the 95% interval, the previous month and the target (`qm.domain.targets`);
- one row per agent, the `scoring.scorecard` card: ranked only with enough contacts;
- six months of team trends, the distributions of handle time and courtesy, handle time
  against FCR per agent;
- the most-missed key points and the forbidden phrases said, mystery shops beside real
  calls per item, QA coverage (evaluations per agent, random vs targeted), machine-vs-
  reviewer agreement on the team's calls, and the training plan, overdue first.

Everything is limited to the team's agents (their team now, as everywhere else). The
figures follow the scorecard's definitions: the contacts are read once, as columns (not
ORM objects), for the six months plus the longest FCR window after them, with the later
contacts of the same customers taken by other teams (a repeat counts against the first
contact whoever answers it); the other parts are aggregated by the database.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from qm.domain.scorecards import parse_period
from qm.domain.targets import Target, scorecard_config, site_targets
from qm.errors import NotFound
from qm.models import (
    Agent,
    Call,
    CallMetrics,
    Evaluation,
    EvaluationKind,
    KeyPointOverride,
    KeyPointResult,
    MysteryShop,
    Queue,
    ResultKind,
    Team,
    TrainingAssignment,
    TrainingStatus,
)
from qm.settings import Settings
from scoring.mystery import Shop, item_gaps
from scoring.operational import (
    DEFAULT_FCR_WINDOW,
    Contact,
    FcrRules,
    HandleTarget,
    first_contact_resolution,
)
from scoring.period import Period
from scoring.scorecard import CallQuality, Scorecard, ScorecardConfig, build_scorecards
from scoring.scorecard import courtesy_score as score_courtesy
from scoring.stats import Estimate, proportion

TREND_MONTHS = 6
DEFAULT_WINDOW_DAYS = DEFAULT_FCR_WINDOW.days  # the FCR window of a call without a queue
# Handle-time buckets in seconds (the last one open-ended) and courtesy buckets (shares).
HANDLE_EDGES = (0, 120, 240, 360, 480, 600, 900)
COURTESY_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
TOP_ITEMS = 10
TRAINING_ROWS = 50
RANDOM = "random"
# The headline metrics in the order the page shows them; "aht_in_band" is the share of
# calls inside the queue's handle-time band (its target is a share too).
HEADLINE_METRICS = (
    "composite",
    "fcr",
    "transfer_rate",
    "aht_in_band",
    "aht_seconds",
    "courtesy",
    "script_compliance",
    "mystery_shopper",
)
HIGHER_IS_BETTER = {"transfer_rate": False, "aht_seconds": False}


@dataclass(frozen=True, slots=True)
class Headline:
    """One team figure for the month, against the month before and its target."""

    metric: str
    estimate: Estimate
    previous: float | None
    target: Target | None

    @property
    def met(self) -> bool | None:
        """Whether the figure meets its target (None without a figure or a target)."""
        return None if self.target is None else self.target.met(self.estimate.value)

    @property
    def higher_is_better(self) -> bool:
        """Whether a higher value is the better one (the trend arrow's colour)."""
        return HIGHER_IS_BETTER.get(self.metric, True)


@dataclass(frozen=True, slots=True)
class AgentRow:
    """One agent's card for the month, with QA coverage."""

    agent_id: str
    name: str
    card: Scorecard
    evaluations: int
    random: int
    targeted: int


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """The team's figures in one month of the trend (None: no data that month)."""

    period: str
    contacts: int
    fcr: float | None
    transfer_rate: float | None
    aht_seconds: float | None
    script_compliance: float | None


@dataclass(frozen=True, slots=True)
class Bucket:
    """Calls whose value lies in [low, high) (`high` None: no upper end)."""

    low: float
    high: float | None
    count: int


@dataclass(frozen=True, slots=True)
class AgentPoint:
    """An agent at (mean handle time, FCR) for the scatter chart."""

    agent_id: str
    name: str
    aht_seconds: float
    fcr: float
    contacts: int


@dataclass(frozen=True, slots=True)
class ItemRate:
    """A key point missed (or a forbidden phrase said) on `count` of `checked` calls."""

    item_id: str
    label: str
    count: int
    checked: int
    rate: Estimate


@dataclass(frozen=True, slots=True)
class MysteryItem:
    """One item's pass rate on mystery shops beside its hit rate on real calls."""

    item_id: str
    label: str
    mystery: Estimate
    real: Estimate

    @property
    def gap(self) -> float | None:
        """Mystery minus real (positive: the team does better when it knows it is tested)."""
        if self.mystery.value is None or self.real.value is None:
            return None
        return self.mystery.value - self.real.value


@dataclass(frozen=True, slots=True)
class Coverage:
    """How many of the team's calls of the month were evaluated, and how they were picked."""

    calls: int
    evaluations: int
    random: int
    targeted: int

    @property
    def share(self) -> float | None:
        """Evaluations per call of the month."""
        return self.evaluations / self.calls if self.calls else None


@dataclass(frozen=True, slots=True)
class TrainingRow:
    """An assignment of the training plan of one of the team's agents."""

    id: int
    agent_id: str
    name: str
    module_title: str
    period: str
    status: TrainingStatus
    due_date: date
    overdue: bool


@dataclass(frozen=True, slots=True)
class TeamDashboard:
    """Everything on the team dashboard for one month."""

    team_id: str
    team_name: str
    period: str
    first_day: date
    last_day: date
    min_contacts: int
    headline: list[Headline]
    agents: list[AgentRow]
    trend: list[TrendPoint]
    handle_time: list[Bucket]
    courtesy: list[Bucket]
    scatter: list[AgentPoint]
    missed_key_points: list[ItemRate]
    forbidden_phrases: list[ItemRate]
    mystery: list[MysteryItem]
    coverage: Coverage
    agreement: Estimate
    training: list[TrainingRow]
    training_counts: dict[str, int]


def _six_months(period: Period) -> list[Period]:
    months = [period]
    while len(months) < TREND_MONTHS:
        try:
            months.insert(0, months[0].previous())
        except ValueError:  # before the first year a Period can be
            break
    return months


def _fcr_rules(session: Session) -> tuple[FcrRules, dict[str, HandleTarget], timedelta]:
    """The queues' repeat windows and handle-time bands, and the longest window."""
    queues = session.execute(
        sa.select(
            col(Queue.id),
            col(Queue.fcr_window_days),
            col(Queue.aht_min_seconds),
            col(Queue.aht_max_seconds),
        )
    ).all()
    windows = {q: timedelta(days=days) for q, days, _, _ in queues}
    bands = {
        q: HandleTarget(low, high)
        for q, _, low, high in queues
        if low is not None or high is not None
    }
    rules = FcrRules(queue_windows=windows)
    return rules, bands, max([rules.window, *windows.values()])


def _team(session: Session, team_id: str) -> tuple[Team, dict[str, str]]:
    team = session.get(Team, team_id) if len(team_id) <= 64 else None
    if team is None:
        raise NotFound(f"no team {team_id!r}")
    agents = session.execute(
        sa.select(col(Agent.id), col(Agent.name)).where(col(Agent.team_id) == team_id)
    ).all()
    return team, {str(agent_id): str(name) for agent_id, name in agents}


def _team_agent_ids(team_id: str) -> Any:
    return sa.select(col(Agent.id)).where(col(Agent.team_id) == team_id).scalar_subquery()


def _contacts(
    session: Session, team_id: str, start: datetime, end: datetime, horizon: datetime
) -> tuple[list[Contact], list[CallQuality]]:
    """The team's contacts from `start` to `horizon` with their quality scores, and the
    other teams' contacts up to `horizon` of the customers the team spoke to in
    [start, end) (their repeats decide the team's FCR)."""
    team_agents = sa.select(col(Agent.id)).where(col(Agent.team_id) == team_id)
    customers = (
        sa.select(col(Call.customer_id))
        .where(
            col(Call.agent_id).in_(team_agents),
            col(Call.started_at) >= start,
            col(Call.started_at) < end,
            col(Call.customer_id).is_not(None),
        )
        .distinct()
    )
    columns = (
        col(Call.id),
        col(Call.agent_id),
        col(Call.started_at),
        col(Call.customer_id),
        col(Call.queue),
        col(Call.reason),
        col(Call.talk_seconds),
        col(Call.hold_seconds),
        col(Call.wrap_seconds),
        col(Call.transfers),
        col(Call.resolved),
    )
    in_range = (col(Call.started_at) >= start, col(Call.started_at) < horizon)
    own = session.execute(
        sa.select(*columns, col(CallMetrics.compliance), col(CallMetrics.courtesy))
        .outerjoin(CallMetrics, col(CallMetrics.call_id) == col(Call.id))
        .where(col(Call.agent_id).in_(team_agents), *in_range)
    ).all()
    others = session.execute(
        sa.select(*columns).where(
            col(Call.agent_id).not_in(team_agents),
            col(Call.customer_id).in_(customers),
            *in_range,
        )
    ).all()
    contacts = [Contact(*row[:11]) for row in own] + [Contact(*row) for row in others]
    quality = [
        CallQuality(
            row[0],
            row[1],
            row[2],
            row[11],
            score_courtesy(row[12]) if row[12] else None,
        )
        for row in own
        if row[11] is not None or row[12]
    ]
    return contacts, quality


def _shops(session: Session, team_id: str, first: date, end: date) -> list[Shop]:
    rows = session.execute(
        sa.select(
            col(MysteryShop.id),
            col(MysteryShop.agent_id),
            col(MysteryShop.date),
            col(MysteryShop.items),
            col(MysteryShop.score),
            col(MysteryShop.scenario),
        ).where(
            col(MysteryShop.agent_id).in_(_team_agent_ids(team_id)),
            col(MysteryShop.date) >= first,
            col(MysteryShop.date) < end,
        )
    ).all()
    return [Shop(*row) for row in rows]


def _item_counts(
    session: Session, team_id: str, start: datetime, end: datetime, kind: ResultKind
) -> list[tuple[str, str, str, int, int]]:
    """(agent, item, label, hits, calls checked) of the team's calls in [start, end)."""
    query = (
        sa.select(
            col(Call.agent_id),
            col(KeyPointResult.item_id),
            sa.func.max(KeyPointResult.label),
            sa.func.sum(sa.case((col(KeyPointResult.hit), 1), else_=0)),
            sa.func.count(),
        )
        .join(Call, col(Call.id) == col(KeyPointResult.call_id))
        .where(
            col(Call.agent_id).in_(_team_agent_ids(team_id)),
            col(Call.started_at) >= start,
            col(Call.started_at) < end,
            col(KeyPointResult.kind) == kind.value,
        )
        .group_by(col(Call.agent_id), col(KeyPointResult.item_id))
    )
    if kind == ResultKind.KEY_POINT:
        # As in the scorecard: optional key points are not counted as missed, and an
        # uncertain result waits for a person.
        query = query.where(col(KeyPointResult.required), ~col(KeyPointResult.uncertain))
    return [(a, i, label or i, int(h), int(n)) for a, i, label, h, n in session.execute(query)]


def _rates(
    counts: Iterable[tuple[str, str, str, int, int]], *, missed: bool
) -> tuple[list[ItemRate], dict[str, str]]:
    """Per item over the team: the misses (or the hits) among the calls checked, the
    highest rate first; and each item's label."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    labels: dict[str, str] = {}
    for _agent, item, label, hits, checked in counts:
        totals[item][0] += (checked - hits) if missed else hits
        totals[item][1] += checked
        labels[item] = label
    rates = [
        ItemRate(item, labels[item], count, checked, proportion(count, checked))
        for item, (count, checked) in totals.items()
        if count > 0
    ]
    rates.sort(key=lambda r: (-(r.rate.value or 0.0), -r.count, r.item_id))
    return rates[:TOP_ITEMS], labels


def _buckets(values: Sequence[float], edges: Sequence[float], *, closed: bool) -> list[Bucket]:
    """Counts per bucket between `edges`; the last bucket is open-ended unless `closed`
    (then it ends at the last edge, included)."""
    bounds: list[tuple[float, float | None]] = list(pairwise(edges))
    if not closed:
        bounds.append((edges[-1], None))
    counts = [0] * len(bounds)
    for value in values:
        for i, (low, high) in enumerate(bounds):
            last = i == len(bounds) - 1
            if value >= low and (high is None or value < high or (closed and last)):
                counts[i] += 1
                break
    return [Bucket(low, high, n) for (low, high), n in zip(bounds, counts, strict=True)]


def _coverage(
    session: Session, team_id: str, start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """Agent -> (random, targeted) standard evaluations of their calls in [start, end)."""
    rows = session.execute(
        sa.select(
            col(Evaluation.agent_id),
            sa.func.sum(sa.case((col(Evaluation.sample) == RANDOM, 1), else_=0)),
            sa.func.count(),
        )
        .join(Call, col(Call.id) == col(Evaluation.call_id))
        .where(
            col(Evaluation.agent_id).in_(_team_agent_ids(team_id)),
            col(Evaluation.kind) == EvaluationKind.STANDARD.value,
            col(Call.started_at) >= start,
            col(Call.started_at) < end,
        )
        .group_by(col(Evaluation.agent_id))
    ).all()
    return {agent: (int(random), int(n) - int(random)) for agent, random, n in rows}


def _agreement(session: Session, team_id: str, start: datetime, end: datetime) -> Estimate:
    """The share of reviewers' key-point decisions on the team's calls in [start, end)
    that confirm the machine (the newest decision per call and key point; decisions
    taken where the machine was unsure are left out, as on the agreement page)."""
    newest = (
        sa.select(sa.func.max(KeyPointOverride.id))
        .join(Call, col(Call.id) == col(KeyPointOverride.call_id))
        .where(
            col(Call.agent_id).in_(_team_agent_ids(team_id)),
            col(Call.started_at) >= start,
            col(Call.started_at) < end,
        )
        .group_by(col(KeyPointOverride.call_id), col(KeyPointOverride.item_id))
    )
    reviewed, confirmed = session.execute(
        sa.select(
            sa.func.count(),
            sa.func.sum(
                sa.case((col(KeyPointOverride.hit) == col(KeyPointOverride.auto_hit), 1), else_=0)
            ),
        ).where(col(KeyPointOverride.id).in_(newest), col(KeyPointOverride.auto_hit).is_not(None))
    ).one()
    return proportion(int(confirmed or 0), int(reviewed or 0))


def _training(
    session: Session, team_id: str, names: dict[str, str], today: date
) -> tuple[list[TrainingRow], dict[str, int]]:
    """The team's open assignments, overdue first then by due date, and the number of
    assignments in each status."""
    counts = {
        str(status): int(n)
        for status, n in session.execute(
            sa.select(col(TrainingAssignment.status), sa.func.count())
            .where(col(TrainingAssignment.agent_id).in_(_team_agent_ids(team_id)))
            .group_by(col(TrainingAssignment.status))
        )
    }
    rows = session.execute(
        sa.select(TrainingAssignment)
        .where(
            col(TrainingAssignment.agent_id).in_(_team_agent_ids(team_id)),
            col(TrainingAssignment.status) != TrainingStatus.COMPLETED.value,
        )
        .order_by(col(TrainingAssignment.due_date), col(TrainingAssignment.id))
        .limit(TRAINING_ROWS)
    ).scalars()
    found = [
        TrainingRow(
            id=row.id or 0,
            agent_id=row.agent_id,
            name=names.get(row.agent_id, row.agent_id),
            module_title=row.module_title,
            period=row.period,
            status=TrainingStatus(row.status),
            due_date=row.due_date,
            overdue=row.due_date < today,
        )
        for row in rows
    ]
    # Ordered by due date, the overdue ones already come first.
    counts["overdue"] = sum(r.overdue for r in found)
    return found, counts


def _day_number(session: Session, value: Any) -> Any:
    """An instant as a number of days, in SQL: date arithmetic differs between SQLite
    (julianday) and PostgreSQL (epoch seconds), a difference of days does not."""
    if session.get_bind().dialect.name == "sqlite":
        return sa.func.julianday(value)
    return sa.extract("epoch", value) / 86400.0


def _trend(
    session: Session, team_id: str, months: list[Period], tz: ZoneInfo, as_of: datetime | None
) -> list[TrendPoint]:
    """The team's figures per month, aggregated by the database in one pass over the
    team's calls of the six months.

    FCR follows `scoring.operational.first_contact_resolution`: a contact with a known
    customer is eligible once its queue's window (7 days without a queue) has passed by
    `as_of`, and resolved when no contact of the same customer starts in (t, t + window].
    """
    edges = [m.bounds(tz)[0] for m in months] + [months[-1].bounds(tz)[1]]
    month_of = sa.case(
        *[(col(Call.started_at) < edge, i) for i, edge in enumerate(edges[1:])], else_=None
    )
    handle = col(Call.talk_seconds) + col(Call.hold_seconds) + col(Call.wrap_seconds)
    window = sa.func.coalesce(col(Queue.fcr_window_days), DEFAULT_WINDOW_DAYS)
    later = aliased(Call)
    start_day = _day_number(session, col(Call.started_at))
    repeat = sa.exists().where(
        col(later.customer_id) == col(Call.customer_id),
        col(later.started_at) > col(Call.started_at),
        _day_number(session, col(later.started_at)) <= start_day + window,
    )
    limit = _day_number(session, sa.literal(as_of.replace(tzinfo=None))) if as_of else None
    eligible = (
        sa.and_(col(Call.customer_id).is_not(None), start_day + window <= limit)
        if limit is not None
        else sa.false()
    )
    rows = session.execute(
        sa.select(
            month_of,
            sa.func.count(),
            sa.func.count(col(Call.transfers)),
            sa.func.sum(sa.case((col(Call.transfers) >= 1, 1), else_=0)),
            sa.func.avg(handle),
            sa.func.avg(col(CallMetrics.compliance)),
            sa.func.sum(sa.case((eligible, 1), else_=0)),
            sa.func.sum(sa.case((sa.and_(eligible, ~repeat), 1), else_=0)),
        )
        .select_from(Call)
        .outerjoin(CallMetrics, col(CallMetrics.call_id) == col(Call.id))
        .outerjoin(Queue, col(Queue.id) == col(Call.queue))
        .where(
            col(Call.agent_id).in_(_team_agent_ids(team_id)),
            col(Call.started_at) >= edges[0],
            col(Call.started_at) < edges[-1],
        )
        .group_by(month_of)
    ).all()
    found = {int(row[0]): row for row in rows if row[0] is not None}
    points = []
    for i, month in enumerate(months):
        row = found.get(i)
        if row is None:
            points.append(TrendPoint(str(month), 0, None, None, None, None))
            continue
        _, contacts, known, transferred, aht, compliance, fcr_n, fcr_ok = row
        points.append(
            TrendPoint(
                period=str(month),
                contacts=int(contacts),
                fcr=int(fcr_ok or 0) / int(fcr_n) if fcr_n else None,
                transfer_rate=int(transferred or 0) / int(known) if known else None,
                aht_seconds=None if aht is None else float(aht),
                script_compliance=None if compliance is None else float(compliance),
            )
        )
    return points


def _headline(team_card: Scorecard | None, targets: dict[str, Target]) -> list[Headline]:
    if team_card is None:
        return [
            Headline(m, Estimate(None, 0, None), None, targets.get(m)) for m in HEADLINE_METRICS
        ]
    estimates = team_card.metrics.as_dict() | {
        "composite": team_card.composite,
        "aht_in_band": team_card.handle_in_band,
    }
    previous = dict(team_card.previous or {})
    return [
        Headline(metric, estimates[metric], previous.get(metric), targets.get(metric))
        for metric in HEADLINE_METRICS
    ]


def team_dashboard(
    session: Session,
    team_id: str,
    period: str,
    settings: Settings,
    *,
    today: date | None = None,
) -> TeamDashboard:
    """The dashboard of team `team_id` for `period` (YYYY-MM in the site's time zone).

    Args:
        session: an open database session (read only).
        team_id: the team; the caller has checked that the user may see it.
        period: the month.
        settings: the site's time zone and scorecard settings.
        today: the day that decides which training assignments are overdue.

    Raises:
        ValidationFailed: `period` is not a month written as YYYY-MM.
        NotFound: no such team.
    """
    tz = settings.tz
    month = parse_period(period)
    team, names = _team(session, team_id)
    months = _six_months(month)
    # The cards compare with the month before; the six months' trend is the database's.
    start, _ = month.previous().bounds(tz)
    month_start, end = month.bounds(tz)
    rules, bands, longest = _fcr_rules(session)
    contacts, quality = _contacts(session, team_id, start, end, end + longest)
    # Repeats are known up to the newest call anywhere, as on the scorecards.
    as_of = session.execute(sa.select(sa.func.max(Call.started_at))).scalar()
    fcr = first_contact_resolution(contacts, as_of=as_of, rules=rules)
    team_agents = set(names)
    mine = [i for i, c in enumerate(contacts) if c.agent_id in team_agents]
    own_contacts = [contacts[i] for i in mine]
    own_fcr = [fcr[i] for i in mine]
    shops = _shops(session, team_id, month.previous().first_day(), end.astimezone(tz).date())
    key_points = _item_counts(session, team_id, month_start, end, ResultKind.KEY_POINT)
    real_hits = {(agent, item): (hits, n) for agent, item, _, hits, n in key_points}
    base = scorecard_config(session, settings, team_id)
    config = ScorecardConfig(base.weights, base.min_contacts, bands)
    label = str(month)
    cards = build_scorecards(
        label,
        contacts=own_contacts,
        fcr=own_fcr,
        quality=quality,
        shops=shops,
        tz=tz,
        config=config,
        real_hits=real_hits,
    )
    # The team as one: every contact counted for the team, so that its figures carry
    # the same n and intervals as an agent's card.
    team_key = f"team:{team_id}"
    as_team = [_relabel(c, team_key) for c in own_contacts]
    team_cards = build_scorecards(
        label,
        contacts=as_team,
        fcr=own_fcr,
        quality=[
            CallQuality(q.call_id, team_key, q.started_at, q.compliance, q.courtesy)
            for q in quality
        ],
        shops=[Shop(s.shop_id, team_key, s.day, s.items, s.score, s.scenario) for s in shops],
        tz=tz,
        config=ScorecardConfig(config.weights, 0, bands),
    )
    targets = site_targets(session, team_id)
    coverage = _coverage(session, team_id, month_start, end)
    agent_rows = [
        AgentRow(
            agent_id=card.agent_id,
            name=names.get(card.agent_id, card.agent_id),
            card=card,
            evaluations=sum(coverage.get(card.agent_id, (0, 0))),
            random=coverage.get(card.agent_id, (0, 0))[0],
            targeted=coverage.get(card.agent_id, (0, 0))[1],
        )
        for card in cards
    ]
    in_month = [c for c in own_contacts if month_start <= c.started_at < end]
    handle = [h for c in in_month if (h := c.handle_seconds) is not None]
    courtesy = [
        q.courtesy for q in quality if q.courtesy is not None and month_start <= q.started_at < end
    ]
    missed, labels = _rates(key_points, missed=True)
    forbidden, _ = _rates(
        _item_counts(session, team_id, month_start, end, ResultKind.FORBIDDEN), missed=False
    )
    this_month_shops = [
        Shop(s.shop_id, team_key, s.day, s.items, s.score, s.scenario)
        for s in shops
        if Period.of_day(s.day) == month
    ]
    team_hits: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for _agent, item, _label, hits, n in key_points:
        team_hits[(team_key, item)][0] += hits
        team_hits[(team_key, item)][1] += n
    mystery = [
        MysteryItem(g.item_id, labels.get(g.item_id, g.item_id), g.mystery, g.real)
        for g in item_gaps(this_month_shops, {k: (h, n) for k, (h, n) in team_hits.items()})
        if g.mystery.n
    ]
    training, training_counts = _training(session, team_id, names, today or date.today())
    randoms = sum(r for r, _ in coverage.values())
    targeted = sum(t for _, t in coverage.values())
    return TeamDashboard(
        team_id=team.id,
        team_name=team.name,
        period=label,
        first_day=month.first_day(),
        last_day=month.days()[-1],
        min_contacts=config.min_contacts,
        headline=_headline(team_cards[0] if team_cards else None, targets),
        agents=agent_rows,
        trend=_trend(session, team_id, months, tz, as_of),
        handle_time=_buckets(handle, HANDLE_EDGES, closed=False),
        courtesy=_buckets(courtesy, COURTESY_EDGES, closed=True),
        scatter=[
            AgentPoint(
                r.agent_id,
                r.name,
                r.card.metrics.aht_seconds.value or 0.0,
                r.card.metrics.fcr.value or 0.0,
                r.card.contacts,
            )
            for r in agent_rows
            if r.card.metrics.aht_seconds.value is not None and r.card.metrics.fcr.value is not None
        ],
        missed_key_points=missed,
        forbidden_phrases=forbidden,
        mystery=mystery,
        coverage=Coverage(len(in_month), randoms + targeted, randoms, targeted),
        agreement=_agreement(session, team_id, month_start, end),
        training=training,
        training_counts=training_counts,
    )


def _relabel(contact: Contact, group: str) -> Contact:
    return Contact(
        contact.call_id,
        group,
        contact.started_at,
        contact.customer_id,
        contact.queue,
        contact.reason,
        contact.talk_seconds,
        contact.hold_seconds,
        contact.wrap_seconds,
        contact.transfers,
        contact.resolved,
    )


def latest_period(session: Session, team_id: str, tz: ZoneInfo) -> str | None:
    """The month of the team's newest call (what the dashboard opens on), if any."""
    newest = session.execute(
        sa.select(sa.func.max(Call.started_at)).where(
            col(Call.agent_id).in_(_team_agent_ids(team_id))
        )
    ).scalar()
    return None if newest is None else str(Period.of(newest, tz))
