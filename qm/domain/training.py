"""Training plans from the stored results: gaps -> assignments, stored with their status,
and follow-ups that re-measure each criterion on the calls after the assignment."""

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from qm.domain.aggregates import key_point_counts, mystery_counts
from qm.domain.audit import record
from qm.domain.scorecards import ScorecardRequest, compute_scorecards, month_bounds
from qm.domain.targets import training_rules
from qm.domain.training_catalog import site_catalog
from qm.errors import NotFound
from qm.i18n import gettext as _
from qm.models import TrainingAssignment, TrainingStatus, utcnow
from scoring.period import Period
from scoring.scorecard import ScorecardConfig
from scoring.stats import Estimate
from scoring.training import (
    Assignment,
    Catalog,
    FollowUp,
    KeyPointTally,
    TrainingRules,
    find_gaps,
    follow_up,
    plan,
)


def _metric_estimates(
    session: Session, period: str, tz: ZoneInfo, config: ScorecardConfig, agent_id: str | None
) -> dict[str, dict[str, Estimate]]:
    cards = compute_scorecards(session, ScorecardRequest(period, agent_id), tz=tz, config=config)
    return {c.agent_id: {**c.metrics.as_dict(), "aht_in_band": c.handle_in_band} for c in cards}


@dataclass(frozen=True)
class PlanEntry:
    """A stored assignment with the plan's view of it and its follow-ups."""

    assignment: Assignment
    stored: TrainingAssignment
    followups: tuple[FollowUp, ...]


def build_training_plan(
    session: Session,
    period: str,
    *,
    tz: ZoneInfo,
    catalog: Catalog | None = None,
    rules: TrainingRules | None = None,
    config: ScorecardConfig | None = None,
    agent_id: str | None = None,
    due_days: int = 30,
    actor: str = "cli",
    with_followups: bool = True,
) -> list[PlanEntry]:
    """Find the period's gaps, store the assignments (keeping their status), add follow-ups.

    Re-running for the same period updates the gaps and priority of existing
    assignments; an acknowledged or completed one stays so. `with_followups=False` skips
    the re-measure (it recomputes scorecards per assignment), for batch runs that only
    store the plan. Without `catalog`, the site's catalog is used (as edited on
    /admin/training, else the shipped one); the metrics' targets are the site's
    (`qm.domain.targets`), on top of `rules`' other thresholds. The caller commits; on
    SQLite it should hold the write lock from the start (`session_scope(engine,
    immediate=True)`), since this reads and then writes.
    """
    config = config or ScorecardConfig()
    catalog = site_catalog(session) if catalog is None else catalog
    rules = training_rules(session, rules)
    start, end = month_bounds(period, tz)
    kp = key_point_counts(session, start, end)
    shops = mystery_counts(session, start.date(), end.date())
    tallies = [
        KeyPointTally(agent, item, n - hits, n, weight, critical)
        for (agent, item), (hits, n, weight, critical) in kp.items()
        if agent_id is None or agent == agent_id
    ]
    mystery = {
        key: (n - passed, n)
        for key, (passed, n) in shops.items()
        if agent_id is None or key[0] == agent_id
    }
    metrics = _metric_estimates(session, period, tz, config, agent_id)
    assignments = plan(
        find_gaps(key_points=tallies, metrics=metrics, mystery=mystery, rules=rules), catalog
    )
    due = end.date() + timedelta(days=due_days)
    entries = [(item, _store(session, item, period, due, actor)) for item in assignments]
    return [
        PlanEntry(
            a, s, tuple(follow_ups(session, s, tz=tz, config=config)) if with_followups else ()
        )
        for a, s in entries
    ]


def _store(
    session: Session, item: Assignment, period: str, due: date, actor: str
) -> TrainingAssignment:
    stored = session.exec(
        select(TrainingAssignment).where(
            TrainingAssignment.agent_id == item.agent_id,
            TrainingAssignment.module_id == item.module.id,
            TrainingAssignment.period == period,
        )
    ).first()
    criteria = item.to_dict()["criteria"]
    if stored is None:
        stored = TrainingAssignment(
            agent_id=item.agent_id,
            module_id=item.module.id,
            module_title=item.module.title,
            period=period,
            criteria=criteria,
            priority=item.priority,
            due_date=due,
        )
        session.add(stored)
        session.flush()
        record(
            session,
            actor=actor,
            action="training.assign",
            entity="training_assignment",
            entity_id=str(stored.id),
            detail={"agent": item.agent_id, "module": item.module.id, "period": period},
        )
    else:
        stored.criteria = criteria
        stored.priority = item.priority
        stored.updated_at = utcnow()
        session.add(stored)
    return stored


def follow_ups(
    session: Session, stored: TrainingAssignment, *, tz: ZoneInfo, config: ScorecardConfig
) -> list[FollowUp]:
    """Each criterion of the assignment in its period and on the calls after it.

    Key points and mystery items compare hit/pass rates before and after; metrics
    compare the period's figure with the next month's.
    """
    start, end = month_bounds(stored.period, tz)
    kp_before = key_point_counts(session, start, end)
    kp_after = key_point_counts(session, end, None)
    shop_before = mystery_counts(session, start.date(), end.date())
    shop_after = mystery_counts(session, end.date(), None)
    later: dict[str, dict[str, Estimate]] | None = None
    results = []
    for criterion in (c["criterion"] for c in stored.criteria):
        kind, name = criterion.split(":", 1)
        key = (stored.agent_id, name)
        if kind == "key_point":
            before = kp_before.get(key, (0, 0, 1.0, False))[:2]
            after = kp_after.get(key, (0, 0, 1.0, False))[:2]
            results.append(follow_up(criterion, before, after))
        elif kind == "mystery":
            results.append(
                follow_up(criterion, shop_before.get(key, (0, 0)), shop_after.get(key, (0, 0)))
            )
        elif kind == "metric":
            if later is None:
                now = _metric_estimates(session, stored.period, tz, config, stored.agent_id)
                later = _metric_estimates(
                    session, str(Period.parse(stored.period).next()), tz, config, stored.agent_id
                )
            empty = Estimate(None, 0, None)
            results.append(
                FollowUp(
                    criterion,
                    now.get(stored.agent_id, {}).get(name, empty),
                    later.get(stored.agent_id, {}).get(name, empty),
                )
            )
    return results


def set_status(
    session: Session, assignment_id: int, status: TrainingStatus, *, actor: str
) -> TrainingAssignment:
    """Move an assignment to `status` (acknowledged by the agent, completed), audited.

    Raises:
        NotFound: when there is no such assignment.
    """
    stored = session.get(TrainingAssignment, assignment_id)
    if stored is None:
        raise NotFound(_("no training assignment %(assignment_id)s", assignment_id=assignment_id))
    before = stored.status
    stored.status = status
    stored.updated_at = utcnow()
    session.add(stored)
    record(
        session,
        actor=actor,
        action="training.status",
        entity="training_assignment",
        entity_id=str(assignment_id),
        detail={"from": before, "to": status},
    )
    return stored
