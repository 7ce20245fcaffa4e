"""Training plans: repeated gaps become module assignments, and follow-ups re-measure them.

Rules (all parameters in `TrainingRules`):

- a key point missed on at least `miss_rate` of an agent's checked calls (and at least
  `min_calls` calls checked);
- a scorecard metric on the wrong side of its target for the period (at least
  `min_calls` observations);
- a mystery-shopper item failed on at least `mystery_fail_rate` of the agent's shops.

Each gap is matched to the first catalog module that lists its criterion (an exact
id before a `*` wildcard). Gaps sharing a module become one assignment. Priority is
frequency x impact: the miss (or shortfall) rate times the criterion's weight, tripled
for critical key points; assignments are ordered by it.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from scoring.stats import Estimate, proportion

CRITICAL_IMPACT = 3.0


@dataclass(frozen=True, slots=True)
class Module:
    """A training module from the catalog."""

    id: str
    title: str
    criteria: tuple[str, ...]
    minutes: int = 0


@dataclass(frozen=True, slots=True)
class Catalog:
    """The modules criteria are matched against, in order."""

    modules: tuple[Module, ...]

    def module_for(self, criterion: str) -> Module | None:
        """The first module listing `criterion` exactly, else the first whose wildcard fits."""
        kind = criterion.split(":", 1)[0]
        for module in self.modules:
            if criterion in module.criteria:
                return module
        for module in self.modules:
            if f"{kind}:*" in module.criteria:
                return module
        return None


def parse_catalog(data: Mapping[str, Any]) -> Catalog:
    """A catalog from its YAML structure.

    Raises:
        ValueError: naming the module and field that is wrong.
    """
    modules = []
    for i, raw in enumerate(data.get("modules") or []):
        if not isinstance(raw, Mapping) or not raw.get("id") or not raw.get("title"):
            raise ValueError(f"modules[{i}]: needs an id and a title")
        criteria = raw.get("criteria") or []
        if not isinstance(criteria, list) or not all(
            isinstance(c, str) and ":" in c for c in criteria
        ):
            raise ValueError(f"modules[{i}].criteria: expected a list like ['key_point:verify']")
        modules.append(
            Module(str(raw["id"]), str(raw["title"]), tuple(criteria), int(raw.get("minutes", 0)))
        )
    return Catalog(tuple(modules))


def load_catalog(path: Path | None = None) -> Catalog:
    """The catalog at `path`, or the default one shipped with the package."""
    if path is None:
        text = resources.files("scoring").joinpath("catalogs/training.yaml").read_text("utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, Mapping):
        raise ValueError(f"{path or 'training.yaml'}: expected a mapping with 'modules'")
    return parse_catalog(data)


@dataclass(frozen=True, slots=True)
class TrainingRules:
    """Thresholds that turn results into training needs."""

    miss_rate: float = 0.3
    min_calls: int = 5
    mystery_fail_rate: float = 0.5
    # metric -> (target, "min" when higher is better, "max" when lower is better)
    targets: Mapping[str, tuple[float, str]] = field(
        default_factory=lambda: {
            "fcr": (0.70, "min"),
            "transfer_rate": (0.15, "max"),
            "aht_in_band": (0.80, "min"),
            "courtesy": (0.80, "min"),
            "script_compliance": (0.85, "min"),
        }
    )
    metric_impact: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Gap:
    """One criterion an agent falls short on, with the numbers behind it."""

    criterion: str
    rate: float
    n: int
    impact: float
    evidence: str

    @property
    def priority(self) -> float:
        """Frequency x impact."""
        return self.rate * self.impact


@dataclass(frozen=True, slots=True)
class Assignment:
    """A module assigned to an agent for one or more gaps."""

    agent_id: str
    module: Module
    gaps: tuple[Gap, ...]

    @property
    def priority(self) -> float:
        """The sum of the gaps' priorities."""
        return sum(g.priority for g in self.gaps)

    def to_dict(self) -> dict[str, Any]:
        """The `qm training --json` shape of one assignment."""
        return {
            "agent_id": self.agent_id,
            "module": {
                "id": self.module.id,
                "title": self.module.title,
                "minutes": self.module.minutes,
            },
            "priority": round(self.priority, 4),
            "criteria": [
                {
                    "criterion": g.criterion,
                    "rate": g.rate,
                    "n": g.n,
                    "impact": g.impact,
                    "evidence": g.evidence,
                }
                for g in self.gaps
            ],
        }


@dataclass(frozen=True, slots=True)
class KeyPointTally:
    """How often one agent missed one key point in the period."""

    agent_id: str
    key_point: str
    missed: int
    checked: int
    weight: float = 1.0
    critical: bool = False


def find_gaps(
    *,
    key_points: Iterable[KeyPointTally] = (),
    metrics: Mapping[str, Mapping[str, Estimate]] | None = None,
    mystery: Mapping[tuple[str, str], tuple[int, int]] | None = None,
    rules: TrainingRules | None = None,
) -> dict[str, list[Gap]]:
    """Every agent's gaps in the period.

    Args:
        key_points: per agent and key point, misses out of calls checked.
        metrics: agent -> metric name -> estimate (see `TrainingRules.targets` for names).
        mystery: (agent, item) -> (shops failing the item, shops scoring it).
        rules: thresholds.
    """
    rules = rules or TrainingRules()
    gaps: dict[str, list[Gap]] = {}
    for kp in key_points:
        if kp.checked >= rules.min_calls and kp.missed / kp.checked >= rules.miss_rate:
            impact = kp.weight * (CRITICAL_IMPACT if kp.critical else 1.0)
            evidence = f"missed on {kp.missed} of {kp.checked} calls"
            gaps.setdefault(kp.agent_id, []).append(
                Gap(
                    f"key_point:{kp.key_point}",
                    kp.missed / kp.checked,
                    kp.checked,
                    impact,
                    evidence,
                )
            )
    for agent, by_metric in (metrics or {}).items():
        for name, (target, direction) in rules.targets.items():
            est = by_metric.get(name)
            if est is None or est.value is None or est.n < rules.min_calls:
                continue
            short = target - est.value if direction == "min" else est.value - target
            if short > 0:
                side = "below" if direction == "min" else "above"
                evidence = f"{est.value:.0%} over {est.n}, {side} the {target:.0%} target"
                impact = rules.metric_impact.get(name, 1.0)
                gaps.setdefault(agent, []).append(
                    Gap(f"metric:{name}", short, est.n, impact, evidence)
                )
    for (agent, item), (failed, shops) in sorted((mystery or {}).items()):
        if shops and failed / shops >= rules.mystery_fail_rate:
            evidence = f"failed on {failed} of {shops} mystery-shopper calls"
            gaps.setdefault(agent, []).append(
                Gap(f"mystery:{item}", failed / shops, shops, 1.0, evidence)
            )
    return gaps


def plan(gaps: Mapping[str, list[Gap]], catalog: Catalog) -> list[Assignment]:
    """Assignments per agent, highest priority first; gaps no module covers are dropped."""
    assignments = []
    for agent in sorted(gaps):
        by_module: dict[str, tuple[Module, list[Gap]]] = {}
        for gap in gaps[agent]:
            module = catalog.module_for(gap.criterion)
            if module is not None:
                by_module.setdefault(module.id, (module, []))[1].append(gap)
        agent_plan = [Assignment(agent, m, tuple(g)) for m, g in by_module.values()]
        assignments.extend(sorted(agent_plan, key=lambda a: (-a.priority, a.module.id)))
    return assignments


@dataclass(frozen=True, slots=True)
class FollowUp:
    """The same criterion before and after training."""

    criterion: str
    before: Estimate
    after: Estimate

    @property
    def change(self) -> float | None:
        """After minus before (for a key point: hit rate, so positive is better)."""
        if self.before.value is None or self.after.value is None:
            return None
        return self.after.value - self.before.value


def follow_up(criterion: str, before: tuple[int, int], after: tuple[int, int]) -> FollowUp:
    """Compare successes/n before the assignment with successes/n on later calls."""
    return FollowUp(criterion, proportion(*before), proportion(*after))
