"""Mystery-shopper results beside real calls.

A shop scores items with the same ids as the script's key points, so for each agent and
item the pass rate on test calls can be set beside the hit rate on real calls: the gap
shows what an agent can do when they know it matters but skips in everyday calls (or
the reverse).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from scoring.stats import UNIT, Estimate, mean, proportion


@dataclass(frozen=True, slots=True)
class Shop:
    """One mystery-shopper call: per item "yes", "no" or "na", and an optional 0-100 score."""

    shop_id: str
    agent_id: str
    day: date
    items: Mapping[str, str]
    score: float | None = None
    scenario: str = ""


def shop_score(shop: Shop) -> float | None:
    """The shop's result in [0, 1]: its own score when given, else yes / (yes + no)."""
    if shop.score is not None:
        return shop.score / 100
    answered = [v for v in shop.items.values() if v in ("yes", "no")]
    if not answered:
        return None
    return sum(v == "yes" for v in answered) / len(answered)


def mystery_component(shops: Iterable[Shop]) -> Estimate:
    """The scorecard's mystery-shopper component: mean shop score, n = shops scored."""
    return mean([s for s in (shop_score(shop) for shop in shops) if s is not None], bounds=UNIT)


@dataclass(frozen=True, slots=True)
class ItemGap:
    """Pass rate on test calls vs hit rate on real calls for one agent and item."""

    agent_id: str
    item_id: str
    mystery: Estimate
    real: Estimate

    @property
    def gap(self) -> float | None:
        """Mystery pass rate minus real-call hit rate (positive: better when tested)."""
        if self.mystery.value is None or self.real.value is None:
            return None
        return self.mystery.value - self.real.value


def item_gaps(
    shops: Iterable[Shop], real_hits: Mapping[tuple[str, str], tuple[int, int]]
) -> list[ItemGap]:
    """Per agent and item, the mystery pass rate beside the real-call hit rate.

    Args:
        shops: the period's shops.
        real_hits: (agent_id, item_id) -> (calls where the key point was hit, calls checked).

    Returns:
        One gap per (agent, item) seen in either source, sorted by agent then item.
    """
    tested: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for shop in shops:
        for item, answer in shop.items.items():
            if answer in ("yes", "no"):
                counts = tested[(shop.agent_id, item)]
                counts[0] += answer == "yes"
                counts[1] += 1
    keys = sorted(set(tested) | set(real_hits))
    return [
        ItemGap(
            agent_id=agent,
            item_id=item,
            mystery=proportion(*tested.get((agent, item), (0, 0))),
            real=proportion(*real_hits.get((agent, item), (0, 0))),
        )
        for agent, item in keys
    ]
