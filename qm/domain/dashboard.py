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
figures follow the scorecard's definitions and are added up by the database: the cards,
the team's figures and the trend come from one pass of `qm.domain.call_totals` over the
six months (a repeat counts against the first contact whoever answers it: each call's
repeat flag is kept over all teams' calls), the other parts are aggregated per query.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col

from qm.domain.aggregates import mystery_shops
from qm.domain.call_totals import latest_start, monthly_totals
from qm.domain.scorecards import parse_period
from qm.domain.targets import Target, scorecard_config, site_targets
from qm.errors import NotFound
from qm.models import (
    Agent,
    Call,
    Evaluation,
    EvaluationKind,
    KeyPointOverride,
    KeyPointResult,
    ResultKind,
    Team,
    TrainingAssignment,
    TrainingStatus,
)
from qm.settings import Settings
from scoring.mystery import Shop, item_gaps
from scoring.operational import Tally
from scoring.period import Period
from scoring.scorecard import QualitySums, Scorecard, ScorecardConfig, scorecards_from_totals
from scoring.stats import Estimate, proportion

TREND_MONTHS = 6
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


def _item_counts(
    session: Session, team_id: str, start: datetime, end: datetime
) -> dict[ResultKind, list[tuple[str, str, str, int, int]]]:
    """Per kind (key point, forbidden phrase): (agent, item, label, hits, calls checked)
    of the team's calls in [start, end), from one pass over their results."""
    kind = col(KeyPointResult.kind)
    query = (
        sa.select(
            kind,
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
            sa.or_(
                kind == ResultKind.FORBIDDEN.value,
                # As in the scorecard: optional key points are not counted as missed,
                # and an uncertain result waits for a person.
                sa.and_(
                    kind == ResultKind.KEY_POINT.value,
                    col(KeyPointResult.required),
                    ~col(KeyPointResult.uncertain),
                ),
            ),
        )
        .group_by(kind, col(Call.agent_id), col(KeyPointResult.item_id))
    )
    counts: dict[ResultKind, list[tuple[str, str, str, int, int]]] = {k: [] for k in ResultKind}
    for k, a, i, label, h, n in session.execute(query):
        counts[ResultKind(k)].append((a, i, label or i, int(h), int(n)))
    return counts


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


def _bounds(edges: Sequence[float], *, closed: bool) -> list[tuple[float, float | None]]:
    """The buckets between `edges`: [low, high), the last one open-ended unless `closed`
    (then it ends at the last edge, included)."""
    bounds: list[tuple[float, float | None]] = list(pairwise(edges))
    if not closed:
        bounds.append((edges[-1], None))
    return bounds


def _bucket_counts(value: Any, edges: Sequence[float], *, closed: bool) -> list[Any]:
    """SQL counts of `value` per bucket of `_bounds(edges)`, for one aggregate row."""
    bounds = _bounds(edges, closed=closed)
    counts = []
    for i, (low, high) in enumerate(bounds):
        last = i == len(bounds) - 1
        inside = value >= low
        if high is not None:
            inside = sa.and_(inside, value <= high if closed and last else value < high)
        counts.append(sa.func.sum(sa.case((inside, 1), else_=0)))
    return counts


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
    counts: dict[str, int] = {"overdue": 0}
    overdue = sa.and_(
        col(TrainingAssignment.status) != TrainingStatus.COMPLETED.value,
        col(TrainingAssignment.due_date) < today,
    )
    for status, n, late in session.execute(
        sa.select(
            col(TrainingAssignment.status),
            sa.func.count(),
            sa.func.sum(sa.case((overdue, 1), else_=0)),
        )
        .where(col(TrainingAssignment.agent_id).in_(_team_agent_ids(team_id)))
        .group_by(col(TrainingAssignment.status))
    ):
        counts[str(status)] = int(n)
        counts["overdue"] += int(late or 0)
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
    # Ordered by due date, the overdue ones come first; the count covers them all.
    return found, counts


def _as_team(
    tallies: dict[tuple[str, str], Tally],
    quality: dict[tuple[str, str], QualitySums],
    team_key: str,
) -> tuple[dict[tuple[str, str], Tally], dict[tuple[str, str], QualitySums]]:
    """The agents' monthly totals added up per month, under `team_key`."""
    team_tallies: dict[tuple[str, str], Tally] = defaultdict(Tally)
    team_quality: dict[tuple[str, str], QualitySums] = defaultdict(QualitySums)
    for (_agent, month), tally in tallies.items():
        team_tallies[(team_key, month)].add(tally)
    for (_agent, month), sums in quality.items():
        team_quality[(team_key, month)].add(sums)
    return dict(team_tallies), dict(team_quality)


def _trend(
    tallies: dict[tuple[str, str], Tally],
    quality: dict[tuple[str, str], QualitySums],
    team_key: str,
    months: list[Period],
) -> list[TrendPoint]:
    """The team's figures per month (the same totals as the cards)."""
    points = []
    for month in months:
        tally = tallies.get((team_key, str(month)))
        sums = quality.get((team_key, str(month)), QualitySums())
        if tally is None:
            points.append(TrendPoint(str(month), 0, None, None, None, sums.compliance_mean))
            continue
        points.append(
            TrendPoint(
                period=str(month),
                contacts=tally.contacts,
                fcr=tally.fcr,
                transfer_rate=tally.transfer_rate,
                aht_seconds=tally.aht,
                script_compliance=sums.compliance_mean,
            )
        )
    return points


def _distributions(
    session: Session, team_id: str, start: datetime, end: datetime
) -> tuple[list[Bucket], list[Bucket]]:
    """Handle times and courtesy scores of the team's calls in [start, end), bucketed by
    the database (one row back instead of every call)."""
    handle = col(Call.talk_seconds) + col(Call.hold_seconds) + col(Call.wrap_seconds)
    handle_counts = _bucket_counts(handle, HANDLE_EDGES, closed=False)
    courtesy_counts = _bucket_counts(col(Call.courtesy_score), COURTESY_EDGES, closed=True)
    row = session.execute(
        sa.select(*handle_counts, *courtesy_counts).where(
            col(Call.agent_id).in_(_team_agent_ids(team_id)),
            col(Call.started_at) >= start,
            col(Call.started_at) < end,
        )
    ).one()
    counts = [int(n or 0) for n in row]
    handle_bounds = _bounds(HANDLE_EDGES, closed=False)
    courtesy_bounds = _bounds(COURTESY_EDGES, closed=True)
    split = len(handle_bounds)
    return (
        [Bucket(lo, hi, n) for (lo, hi), n in zip(handle_bounds, counts[:split], strict=True)],
        [Bucket(lo, hi, n) for (lo, hi), n in zip(courtesy_bounds, counts[split:], strict=True)],
    )


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
    month_start, end = month.bounds(tz)
    # Repeats are known up to the newest call anywhere, as on the scorecards.
    as_of = latest_start(session)
    # One pass over the team's six months: the cards (this month and the one before)
    # and the trend come from the same totals.
    tallies, quality = monthly_totals(
        session, months, tz, as_of=as_of, agents=_team_agent_ids(team_id)
    )
    shops = mystery_shops(
        session,
        month.previous().first_day(),
        end.astimezone(tz).date(),
        agents=_team_agent_ids(team_id),
    )
    items = _item_counts(session, team_id, month_start, end)
    key_points = items[ResultKind.KEY_POINT]
    real_hits = {(agent, item): (hits, n) for agent, item, _, hits, n in key_points}
    base = scorecard_config(session, settings, team_id)
    config = ScorecardConfig(base.weights, base.min_contacts)
    label = str(month)
    cards = scorecards_from_totals(
        label,
        tallies=tallies,
        quality=quality,
        shops=shops,
        config=config,
        real_hits=real_hits,
    )
    # The team as one: its agents' totals added up, so that its figures carry the same
    # n and intervals as an agent's card.
    team_key = f"team:{team_id}"
    team_tallies, team_quality = _as_team(tallies, quality, team_key)
    team_cards = scorecards_from_totals(
        label,
        tallies=team_tallies,
        quality=team_quality,
        shops=[Shop(s.shop_id, team_key, s.day, s.items, s.score, s.scenario) for s in shops],
        config=ScorecardConfig(config.weights, 0),
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
    handle, courtesy = _distributions(session, team_id, month_start, end)
    missed, labels = _rates(key_points, missed=True)
    forbidden, _ = _rates(items[ResultKind.FORBIDDEN], missed=False)
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
    calls_this_month = team_tallies.get((team_key, label), Tally()).contacts
    return TeamDashboard(
        team_id=team.id,
        team_name=team.name,
        period=label,
        first_day=month.first_day(),
        last_day=month.days()[-1],
        min_contacts=config.min_contacts,
        headline=_headline(team_cards[0] if team_cards else None, targets),
        agents=agent_rows,
        trend=_trend(team_tallies, team_quality, team_key, months),
        handle_time=handle,
        courtesy=courtesy,
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
        coverage=Coverage(calls_this_month, randoms + targeted, randoms, targeted),
        agreement=_agreement(session, team_id, month_start, end),
        training=training,
        training_counts=training_counts,
    )


def latest_period(session: Session, team_id: str, tz: ZoneInfo) -> str | None:
    """The month of the team's newest call (what the dashboard opens on), if any."""
    newest = session.execute(
        sa.select(sa.func.max(Call.started_at)).where(
            col(Call.agent_id).in_(_team_agent_ids(team_id))
        )
    ).scalar()
    return None if newest is None else str(Period.of(newest, tz))
