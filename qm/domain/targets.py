"""Targets per metric and the scorecard's composite weights, as the admin set them.

Both are stored as site settings (`qm.models.SiteSetting`) for the whole site and,
optionally, per team; a team's value replaces the site's for that team's agents, and
the site's replaces the shipped defaults. Readers:

- `site_targets(session, team_id)`: the target of every metric, for dashboards and
  scorecards (a share in [0, 1]; `direction` says whether higher or lower is better);
- `scorecard_config(session, settings, team_id)`: the `ScorecardConfig` to compute
  scorecards with (weights from here, minimum contacts from the settings);
- `training_rules(session)`: the training plan's thresholds with these targets.

Composite weights must sum to 1 (they are stored as entered and never rescaled, so
the weights an agent reads on a card are the ones the admin typed).
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from sqlmodel import Session

from qm.domain.audit import record
from qm.errors import NotFound, ValidationFailed
from qm.i18n import gettext as _
from qm.models import SITE_SCOPE, SiteSetting, Team, utcnow
from qm.settings import Settings
from scoring.scorecard import ScorecardConfig, Weights
from scoring.training import TrainingRules

TARGETS = "targets"
WEIGHTS = "weights"
# How far the weights' sum may be from 1 (so 0.333 + 0.333 + 0.334 is accepted).
SUM_TOLERANCE = 0.001


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """A metric that has a target: higher is better ("min") or lower is ("max")."""

    name: str
    direction: str
    default: float


# The scorecard's components and the composite, with the training plan's defaults.
METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("fcr", "min", 0.70),
    MetricInfo("transfer_rate", "max", 0.15),
    MetricInfo("aht_in_band", "min", 0.80),
    MetricInfo("courtesy", "min", 0.80),
    MetricInfo("script_compliance", "min", 0.85),
    MetricInfo("mystery_shopper", "min", 0.80),
    MetricInfo("composite", "min", 0.75),
)
METRIC_NAMES = tuple(m.name for m in METRICS)
# The metrics the training plan compares agents against (its `TrainingRules.targets`).
TRAINING_METRICS = ("fcr", "transfer_rate", "aht_in_band", "courtesy", "script_compliance")
WEIGHT_NAMES = tuple(f.name for f in fields(Weights))


@dataclass(frozen=True, slots=True)
class Target:
    """One metric's target and where it came from ("default", "site" or "team")."""

    metric: str
    value: float
    direction: str
    source: str

    def met(self, value: float | None) -> bool | None:
        """Whether `value` meets the target; None when there is no value."""
        if value is None:
            return None
        return value >= self.value if self.direction == "min" else value <= self.value


def team_scope(team_id: str | None) -> str:
    """The settings scope of a team (the site's when `team_id` is None)."""
    return SITE_SCOPE if team_id is None else f"team:{team_id}"


def _stored(session: Session, name: str, team_id: str | None) -> dict[str, float]:
    row = session.get(SiteSetting, (name, team_scope(team_id)))
    return {} if row is None else {k: float(v) for k, v in row.value.items()}


def _check_team(session: Session, team_id: str | None) -> None:
    if team_id is not None and session.get(Team, team_id) is None:
        raise NotFound(_("no team %(team_id)s", team_id=repr(team_id)))


def _write(
    session: Session, name: str, team_id: str | None, value: dict[str, float], actor: str
) -> None:
    scope = team_scope(team_id)
    row = session.get(SiteSetting, (name, scope))
    before = None if row is None else dict(row.value)
    if row is None:
        row = SiteSetting(name=name, scope=scope, value=value, updated_by=actor[:100])
    else:
        row.value, row.updated_by, row.updated_at = value, actor[:100], utcnow()
    session.add(row)
    record(session, actor=actor, action=f"{name}.save", entity="site_setting",
           entity_id=scope or "site", detail={"before": before, "after": value})  # fmt: skip


def _share(section: str, field: str, raw: float) -> float:
    if not math.isfinite(raw) or not 0 <= raw <= 1:
        raise ValidationFailed(section, None, field, _("must be a share from 0 to 1"))
    return float(raw)


def site_targets(session: Session, team_id: str | None = None) -> dict[str, Target]:
    """The target of every metric (`METRICS`) for `team_id`'s agents, or the site's.

    A team's own target wins over the site's, which wins over the shipped default.
    """
    site = _stored(session, TARGETS, None)
    team = _stored(session, TARGETS, team_id) if team_id is not None else {}
    found: dict[str, Target] = {}
    for metric in METRICS:
        if metric.name in team:
            value, source = team[metric.name], "team"
        elif metric.name in site:
            value, source = site[metric.name], "site"
        else:
            value, source = metric.default, "default"
        found[metric.name] = Target(metric.name, value, metric.direction, source)
    return found


def save_targets(
    session: Session, values: Mapping[str, float], *, actor: str, team_id: str | None = None
) -> dict[str, Target]:
    """Store targets (shares in [0, 1]) for the site or one team; metrics left out keep
    falling back (a team's to the site's). The caller commits.

    Raises:
        NotFound: no such team.
        ValidationFailed: an unknown metric, or a value outside 0-1 (the field is the metric).
    """
    _check_team(session, team_id)
    checked: dict[str, float] = {}
    for name, raw in values.items():
        if name not in METRIC_NAMES:
            raise ValidationFailed("targets", None, name, _("is not a metric with a target"))
        checked[name] = _share("targets", name, raw)
    _write(session, TARGETS, team_id, checked, actor)
    return site_targets(session, team_id)


def composite_weights(
    session: Session, team_id: str | None = None, *, default: Weights | None = None
) -> Weights:
    """The composite weights for `team_id`'s agents (else the site's, else `default`)."""
    if team_id is not None:
        team = _stored(session, WEIGHTS, team_id)
        if team:
            return Weights(**team)
    site = _stored(session, WEIGHTS, None)
    if site:
        return Weights(**site)
    return default or Weights()


def weights_source(session: Session, team_id: str | None = None) -> str:
    """Where `composite_weights` takes its weights from: "team", "site" or "default"."""
    if team_id is not None and _stored(session, WEIGHTS, team_id):
        return "team"
    return "site" if _stored(session, WEIGHTS, None) else "default"


def save_weights(
    session: Session, values: Mapping[str, float], *, actor: str, team_id: str | None = None
) -> Weights:
    """Store the composite weights of every component for the site or one team. The
    caller commits.

    Raises:
        NotFound: no such team.
        ValidationFailed: a component missing or unknown, a weight outside 0-1 (the
            field is the component), or weights that do not sum to 1 (field `weights`).
    """
    _check_team(session, team_id)
    for name in values:
        if name not in WEIGHT_NAMES:
            raise ValidationFailed("weights", None, name, _("is not a scorecard component"))
    checked: dict[str, float] = {}
    for name in WEIGHT_NAMES:
        if name not in values:
            raise ValidationFailed("weights", None, name, _("is required"))
        checked[name] = _share("weights", name, values[name])
    total = sum(checked.values())
    if abs(total - 1) > SUM_TOLERANCE:
        raise ValidationFailed(
            "weights",
            None,
            "weights",
            _("must sum to 1 (they sum to %(total)s)", total=format(total, "g")),
        )
    _write(session, WEIGHTS, team_id, checked, actor)
    return Weights(**checked)


def clear_team_settings(session: Session, team_id: str, *, actor: str) -> None:
    """Remove a team's own targets and weights: its agents use the site's again."""
    for name in (TARGETS, WEIGHTS):
        row = session.get(SiteSetting, (name, team_scope(team_id)))
        if row is not None:
            session.delete(row)
            record(session, actor=actor, action=f"{name}.clear", entity="site_setting",
                   entity_id=team_scope(team_id), detail={"before": dict(row.value)})  # fmt: skip


def scorecard_config(
    session: Session, settings: Settings, team_id: str | None = None
) -> ScorecardConfig:
    """The configuration to compute scorecards with: the stored composite weights (the
    team's, else the site's, else `QM_SCORECARD_WEIGHTS`) and the settings' minimum
    number of contacts to be ranked."""
    default = Weights(**settings.scorecard_weights)
    weights = composite_weights(session, team_id, default=default)
    return ScorecardConfig(weights=weights, min_contacts=settings.min_contacts)


def training_rules(session: Session, base: TrainingRules | None = None) -> TrainingRules:
    """`base` (default thresholds when None) with the site's targets of the metrics the
    training plan measures."""
    base = base or TrainingRules()
    targets = site_targets(session)
    merged = {name: (targets[name].value, targets[name].direction) for name in TRAINING_METRICS}
    return replace(base, targets=merged)
