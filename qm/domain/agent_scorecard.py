"""One agent's scorecard as the agent reads it: every component with its n and interval,
its weight and target, six months of trend, and the team's figures without names.

The numbers are `compute_scorecards`'s (the same as `qm scorecard` and the JSON API);
this module only arranges them for one agent. The team's figures are the mean of the
team's agents' values and are shown only when at least `MIN_TEAM` agents have a value,
so that the team figure never gives away one colleague's result.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from qm.domain.aggregates import mystery_shops
from qm.domain.call_totals import latest_start, monthly_totals
from qm.domain.scorecards import parse_period
from qm.domain.targets import Target, site_targets
from qm.models import Agent, Call
from scoring.mystery import Shop
from scoring.period import Period
from scoring.scorecard import Scorecard, ScorecardConfig, scorecards_from_totals
from scoring.stats import EMPTY, Estimate

TREND_MONTHS = 6
MIN_TEAM = 3  # agents with a value before the team's mean is shown

# Component key -> (the weight's key, the target's key); handle time itself has neither:
# the composite weighs the share of calls in the handle-time band.
COMPONENTS: tuple[tuple[str, str | None, str | None], ...] = (
    ("fcr", "fcr", "fcr"),
    ("transfer_rate", "transfer_rate", "transfer_rate"),
    ("aht_seconds", None, None),
    ("aht_in_band", "aht_seconds", "aht_in_band"),
    ("courtesy", "courtesy", "courtesy"),
    ("script_compliance", "script_compliance", "script_compliance"),
    ("mystery_shopper", "mystery_shopper", "mystery_shopper"),
    ("composite", None, "composite"),
)


@dataclass(frozen=True, slots=True)
class ComponentRow:
    """One line of the card: this month's estimate, weight, target, team mean and trend."""

    key: str
    estimate: Estimate
    weight: float | None
    target: Target | None
    team: float | None
    trend: tuple[float | None, ...]

    @property
    def met(self) -> bool | None:
        """Whether this month's value meets the target (None: no target or no value)."""
        return None if self.target is None else self.target.met(self.estimate.value)


@dataclass(frozen=True, slots=True)
class AgentScorecard:
    """What `/me/scorecard` shows for one agent and month."""

    agent_id: str
    period: str
    months: tuple[str, ...]  # the trend's months, oldest first, ending with `period`
    contacts: int
    enough_data: bool
    min_contacts: int
    rank: int | None
    ranked: int  # agents ranked this month (the rank is "of" this many)
    team_agents: int  # team members with a card this month (for the team's figures)
    rows: tuple[ComponentRow, ...]


def _values(card: Scorecard | None) -> dict[str, Estimate]:
    if card is None:
        return {key: EMPTY for key, _, _ in COMPONENTS}
    return {
        **card.metrics.as_dict(),
        "aht_in_band": card.handle_in_band,
        "composite": card.composite,
    }


def data_months(session: Session, agent_id: str, tz: ZoneInfo) -> list[str]:
    """Every month from the agent's first call to the last, newest first (empty: no calls)."""
    first, last = session.exec(
        select(sa.func.min(Call.started_at), sa.func.max(Call.started_at)).where(
            col(Call.agent_id) == agent_id
        )
    ).one()
    if first is None or last is None:
        return []
    months = Period.range(Period.of(first, tz), Period.of(last, tz))
    return [str(p) for p in reversed(list(months))]


def default_period(session: Session, agent_id: str, tz: ZoneInfo, now: datetime) -> str:
    """The last complete month with the agent's calls; the current month when that is the
    only one with calls; the previous month when there are none at all."""
    current = Period.of(now, tz)
    start, _ = current.bounds(tz)
    last = session.exec(
        select(sa.func.max(Call.started_at)).where(
            col(Call.agent_id) == agent_id, col(Call.started_at) < start
        )
    ).one()
    if last is not None:
        return str(Period.of(last, tz))
    months = data_months(session, agent_id, tz)
    return months[0] if months else str(current.previous())


def _shops(
    session: Session, months: list[Period], tz: ZoneInfo, agent_id: str | None = None
) -> list[Shop]:
    """The mystery shops dated within `months` (of one agent when given)."""
    first, _ = months[0].bounds(tz)
    _, end = months[-1].bounds(tz)
    agents = None if agent_id is None else [agent_id]
    return mystery_shops(
        session, first.astimezone(tz).date(), end.astimezone(tz).date(), agents=agents
    )


def _history(
    session: Session,
    agent_id: str,
    months: list[Period],
    *,
    tz: ZoneInfo,
    config: ScorecardConfig,
    as_of: datetime | None,
) -> dict[str, dict[str, Estimate]]:
    """The agent's components in each of `months`, from one pass over their calls."""
    tallies, quality = monthly_totals(session, months, tz, as_of=as_of, agents=[agent_id])
    shops = _shops(session, months, tz, agent_id)
    history = {}
    for month in months:
        cards = scorecards_from_totals(
            str(month),
            tallies=tallies,
            quality=quality,
            shops=shops,
            config=config,
        )
        history[str(month)] = _values(next((c for c in cards if c.agent_id == agent_id), None))
    return history


def _team_mean(cards: Sequence[Scorecard], key: str) -> float | None:
    values = [v for v in (_values(c)[key].value for c in cards) if v is not None]
    return sum(values) / len(values) if len(values) >= MIN_TEAM else None


def agent_scorecard(
    session: Session,
    agent: Agent,
    period: str,
    *,
    tz: ZoneInfo,
    config: ScorecardConfig,
) -> AgentScorecard:
    """The agent's card for `period` with the team's means and six months of trend.

    Raises:
        ValidationFailed: `period` is not a month written as YYYY-MM.
    """
    month = parse_period(period)
    as_of = latest_start(session)
    # Every agent's card of the month (the rank is among all of them, the team's
    # figures among the team's): the same totals as `compute_scorecards`, for this month
    # alone, since the page compares with earlier months through its own trend.
    tallies, quality = monthly_totals(session, [month], tz, as_of=as_of)
    everyone = scorecards_from_totals(
        str(month),
        tallies=tallies,
        quality=quality,
        shops=_shops(session, [month], tz),
        config=config,
    )
    team_ids = set(
        session.exec(select(Agent.id).where(col(Agent.team_id) == agent.team_id)).all()
        if agent.team_id is not None
        else [agent.id]
    )
    team = [c for c in everyone if c.agent_id in team_ids]
    card = next((c for c in everyone if c.agent_id == agent.id), None)
    months = [month]
    while len(months) < TREND_MONTHS:
        months.insert(0, months[0].previous())
    history = _history(session, agent.id, months, tz=tz, config=config, as_of=as_of)
    weights = dict(config.weights.as_dict()) if card is None else dict(card.weights)
    targets = site_targets(session, agent.team_id)
    this = _values(card)
    rows = tuple(
        ComponentRow(
            key=key,
            estimate=this[key],
            weight=None if weight_key is None else weights.get(weight_key),
            target=None if target_key is None else targets.get(target_key),
            team=_team_mean(team, key),
            trend=tuple(history[str(m)][key].value for m in months),
        )
        for key, weight_key, target_key in COMPONENTS
    )
    return AgentScorecard(
        agent_id=agent.id,
        period=str(month),
        months=tuple(str(m) for m in months),
        contacts=0 if card is None else card.contacts,
        enough_data=card is not None and card.enough_data,
        min_contacts=config.min_contacts,
        rank=None if card is None or not card.enough_data else card.rank,
        ranked=sum(1 for c in everyone if c.rank is not None),
        team_agents=len(team),
        rows=rows,
    )
