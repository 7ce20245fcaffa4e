"""Monthly agent scorecards: balanced metrics, each with n and a 95% interval.

Components, per agent and calendar month (site time zone):

- fcr: repeat-contact FCR (proportion, Wilson), n = eligible contacts;
- transfer_rate: contacts transferred (proportion, Wilson), n = contacts with known transfers;
- aht_seconds: mean handle time (t interval), n = contacts with known handle time;
- courtesy: mean per-call courtesy score in [0, 1] (t interval), n = calls with a transcript;
- script_compliance: mean per-call compliance in [0, 1] (t interval), n = calls checked;
- mystery_shopper: mean shop score in [0, 1] (t interval), n = shops.

The composite is the weighted mean of each component's *goodness* in [0, 1]: fcr as is,
1 - transfer_rate, the share of calls inside the queue's handle-time band (so rushed
calls count against an agent as much as slow ones), courtesy, compliance and mystery
score. Weights of components without data are dropped and the rest renormalised; the
weights used are published on the card. The composite's interval combines the
components' standard errors as if independent (a documented approximation; a component
with a single observation uses the widest possible standard error, 0.5). Agents with
fewer than `min_contacts` contacts are marked "not enough data" and are not ranked.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from scoring.mystery import ItemGap, Shop, item_gaps, shop_score
from scoring.operational import Contact, HandleTarget, Tally, monthly_tallies
from scoring.period import Period
from scoring.stats import EMPTY, UNIT, Estimate, bounded_mean, mean, mean_of_sums, proportion

Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Weights:
    """Composite weights per component; they need not sum to 1 (they are normalised)."""

    fcr: float = 0.25
    transfer_rate: float = 0.10
    aht_seconds: float = 0.10
    courtesy: float = 0.15
    script_compliance: float = 0.30
    mystery_shopper: float = 0.10

    def as_dict(self) -> dict[str, float]:
        """Component name -> weight."""
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class ScorecardConfig:
    """Weights, the minimum number of contacts to be ranked, and handle-time bands."""

    weights: Weights = field(default_factory=Weights)
    min_contacts: int = 10
    targets: Mapping[str, HandleTarget] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallQuality:
    """What the key-point and courtesy checks found on one call."""

    call_id: str
    agent_id: str
    started_at: datetime
    compliance: float | None = None
    courtesy: float | None = None


@dataclass(frozen=True, slots=True)
class Metrics:
    """A card's components for one month, each with its n and 95% interval."""

    fcr: Estimate
    transfer_rate: Estimate
    aht_seconds: Estimate
    courtesy: Estimate
    script_compliance: Estimate
    mystery_shopper: Estimate

    def as_dict(self) -> dict[str, Estimate]:
        """Component name -> estimate, in the order of the scorecard JSON."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Scorecard:
    """One agent's card for one month, with the previous month's values for the trend."""

    agent_id: str
    period: str
    contacts: int
    metrics: Metrics
    handle_in_band: Estimate
    composite: Estimate
    weights: Mapping[str, float]
    enough_data: bool
    rank: int | None = None
    previous: Mapping[str, float | None] | None = None
    mystery_gaps: tuple[ItemGap, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The `qm scorecard --json` object."""
        trend = None
        components = self.metrics.as_dict()
        if self.previous is not None:
            trend = {}
            for name, before in self.previous.items():
                now = self.composite.value if name == "composite" else components[name].value
                change = None if now is None or before is None else now - before
                trend[name] = {"previous": before, "change": change}
        return {
            "agent_id": self.agent_id,
            "period": self.period,
            "contacts": self.contacts,
            "status": "ok" if self.enough_data else "not enough data",
            "rank": self.rank,
            "metrics": {name: est.to_dict() for name, est in components.items()},
            "handle_time_in_band": self.handle_in_band.to_dict(),
            "composite": self.composite.to_dict() | {"weights": dict(self.weights)},
            "trend": trend,
            "mystery_gaps": [
                {
                    "item_id": g.item_id,
                    "mystery": g.mystery.to_dict(),
                    "real": g.real.to_dict(),
                    "gap": g.gap,
                }
                for g in self.mystery_gaps
            ],
        }


def _se(est: Estimate) -> float | None:
    if est.ci95 is not None:
        return (est.ci95[1] - est.ci95[0]) / (2 * Z95)
    if est.n >= 1:
        # A single observation has no interval of its own; goodness values lie in [0, 1],
        # whose standard deviation is at most 0.5, so use that conservative bound.
        return 0.5 / math.sqrt(est.n)
    return None


def composite(
    components: Mapping[str, Estimate], weights: Weights
) -> tuple[Estimate, dict[str, float]]:
    """Weighted mean of component goodness values; returns it and the weights used."""
    available = {k: v for k, v in components.items() if v.value is not None}
    raw = weights.as_dict()
    total = sum(raw[k] for k in available)
    if not available or total <= 0:
        return EMPTY, {}
    used = {k: raw[k] / total for k in available}
    value = sum(used[k] * (available[k].value or 0.0) for k in available)
    ses = [_se(available[k]) for k in available]
    n = sum(v.n for v in available.values())
    if any(se is None for se in ses):
        return Estimate(value, n, None), used
    half = Z95 * math.sqrt(
        sum((used[k] * se) ** 2 for k, se in zip(available, ses, strict=True) if se)
    )
    return Estimate(value, n, (max(0.0, value - half), min(1.0, value + half))), used


def _goodness(metrics: Metrics, in_band: Estimate) -> dict[str, Estimate]:
    transfer = metrics.transfer_rate
    flipped = transfer
    if transfer.value is not None:
        ci = None if transfer.ci95 is None else (1 - transfer.ci95[1], 1 - transfer.ci95[0])
        flipped = Estimate(1 - transfer.value, transfer.n, ci)
    return {
        "fcr": metrics.fcr,
        "transfer_rate": flipped,
        "aht_seconds": in_band,
        "courtesy": metrics.courtesy,
        "script_compliance": metrics.script_compliance,
        "mystery_shopper": metrics.mystery_shopper,
    }


@dataclass(slots=True)
class QualitySums:
    """One agent's month of per-call quality scores, added up (each score is in [0, 1])."""

    compliance_n: int = 0
    compliance_sum: float = 0.0
    courtesy_n: int = 0
    courtesy_sum: float = 0.0

    @property
    def compliance_mean(self) -> float | None:
        """The mean compliance score (None without a checked call)."""
        return self.compliance_sum / self.compliance_n if self.compliance_n else None

    def add(self, other: "QualitySums") -> None:
        """Add `other`'s counts and sums (a team's month from its agents')."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def _components(
    tally: Tally | None, quality: QualitySums | None, shops: Sequence[float]
) -> tuple[Metrics, Estimate]:
    t = tally or Tally()
    q = quality or QualitySums()
    metrics = Metrics(
        fcr=proportion(t.fcr_resolved, t.fcr_eligible),
        transfer_rate=proportion(t.transferred, t.transfer_known),
        aht_seconds=mean_of_sums(t.handle_n, t.handle_sum, t.handle_sq_sum),
        courtesy=bounded_mean(q.courtesy_n, q.courtesy_sum, UNIT),
        script_compliance=bounded_mean(q.compliance_n, q.compliance_sum, UNIT),
        mystery_shopper=mean(shops, bounds=UNIT),
    )
    in_band = proportion(t.handle_banded - t.handle_short - t.handle_long, t.handle_banded)
    return metrics, in_band


def build_scorecards(
    period: str,
    *,
    contacts: Sequence[Contact],
    fcr: Sequence[bool | None],
    quality: Iterable[CallQuality],
    shops: Iterable[Shop],
    tz: ZoneInfo,
    config: ScorecardConfig | None = None,
    real_hits: Mapping[tuple[str, str], tuple[int, int]] | None = None,
) -> list[Scorecard]:
    """Scorecards of every agent with data in `period`, ranked where there is enough data.

    Args:
        period: "YYYY-MM" in the site's time zone.
        contacts: all contacts known (later ones decide FCR of earlier ones).
        fcr: `first_contact_resolution(contacts, ...)`, aligned with `contacts`.
        quality: per-call compliance and courtesy scores.
        shops: mystery-shopper results.
        tz: the site's time zone.
        config: weights, minimum n and handle-time bands.
        real_hits: (agent, key point) -> (calls hit, calls checked) in the period, to set
            each mystery-shopper item beside the same key point on real calls.

    Raises:
        ValueError: when `period` is not a month written as YYYY-MM.
    """
    config = config or ScorecardConfig()
    before = str(Period.parse(period).previous())
    wanted = {period, before}
    tallies = {
        key: t
        for key, t in monthly_tallies(contacts, fcr, tz=tz, targets=config.targets).items()
        if key[1] in wanted
    }
    sums: dict[tuple[str, str], QualitySums] = defaultdict(QualitySums)
    for q in quality:
        month = str(Period.of(q.started_at, tz))
        if month in wanted and (q.compliance is not None or q.courtesy is not None):
            add_quality(sums[(q.agent_id, month)], q.compliance, q.courtesy)
    return scorecards_from_totals(
        period, tallies=tallies, quality=sums, shops=shops, config=config, real_hits=real_hits
    )


def add_quality(sums: QualitySums, compliance: float | None, courtesy: float | None) -> None:
    """Count one call's compliance and courtesy scores (either may be None) into `sums`."""
    if compliance is not None:
        sums.compliance_n += 1
        sums.compliance_sum += compliance
    if courtesy is not None:
        sums.courtesy_n += 1
        sums.courtesy_sum += courtesy


def scorecards_from_totals(
    period: str,
    *,
    tallies: Mapping[tuple[str, str], Tally],
    quality: Mapping[tuple[str, str], QualitySums],
    shops: Iterable[Shop],
    config: ScorecardConfig | None = None,
    real_hits: Mapping[tuple[str, str], tuple[int, int]] | None = None,
) -> list[Scorecard]:
    """Scorecards from per-(agent, month) totals of `period` and the month before it:
    what `build_scorecards` computes from contacts, when the totals were added up
    elsewhere (the application has its database do it). Every agent with a tally, a
    quality score or a mystery shop in `period` gets a card.

    Args:
        period: "YYYY-MM".
        tallies: (agent, month) -> operational counts (FCR, transfers, handle time).
        quality: (agent, month) -> compliance and courtesy sums.
        shops: mystery-shopper results (those of other months are left out).
        config: weights and minimum n (its handle-time bands were applied in the tallies).
        real_hits: as in `build_scorecards`.

    Raises:
        ValueError: when `period` is not a month written as YYYY-MM.
    """
    config = config or ScorecardConfig()
    before = str(Period.parse(period).previous())
    wanted = {period, before}
    shop_scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    this_month: list[Shop] = []
    for shop in shops:
        month = str(Period.of_day(shop.day))
        score = shop_score(shop)
        if month == period:
            this_month.append(shop)
        if month in wanted and score is not None:
            shop_scores[(shop.agent_id, month)].append(score)
    gaps: dict[str, list[ItemGap]] = defaultdict(list)
    for gap in item_gaps(this_month, real_hits or {}):
        if gap.mystery.n:
            gaps[gap.agent_id].append(gap)
    agents = sorted({a for (a, m) in (*tallies, *quality, *shop_scores) if m == period})
    cards = []
    for agent in agents:

        def parts(month: str, agent: str = agent) -> tuple[Metrics, Estimate, Tally | None]:
            key = (agent, month)
            metrics, in_band = _components(
                tallies.get(key), quality.get(key), shop_scores.get(key, [])
            )
            return metrics, in_band, tallies.get(key)

        metrics, in_band, tally = parts(period)
        overall, used = composite(_goodness(metrics, in_band), config.weights)
        old_metrics, old_band, old_tally = parts(before)
        previous = None
        if old_tally is not None or any(e.n for e in old_metrics.as_dict().values()):
            old_overall, _ = composite(_goodness(old_metrics, old_band), config.weights)
            previous = {k: v.value for k, v in old_metrics.as_dict().items()} | {
                "composite": old_overall.value
            }
        count = tally.contacts if tally else 0
        cards.append(
            Scorecard(
                agent_id=agent,
                period=period,
                contacts=count,
                metrics=metrics,
                handle_in_band=in_band,
                composite=overall,
                weights=used,
                enough_data=count >= config.min_contacts,
                previous=previous,
                mystery_gaps=tuple(gaps.get(agent, ())),
            )
        )
    return _ranked(cards)


def _ranked(cards: list[Scorecard]) -> list[Scorecard]:
    order = sorted(
        (c for c in cards if c.enough_data and c.composite.value is not None),
        key=lambda c: (-(c.composite.value or 0.0), c.agent_id),
    )
    ranks = {c.agent_id: i + 1 for i, c in enumerate(order)}
    return [replace(c, rank=ranks.get(c.agent_id)) for c in cards]
