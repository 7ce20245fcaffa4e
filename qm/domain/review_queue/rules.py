"""Sampling rules: saving and listing them, and the built-in rule of a site that has none.

One rule per scope (a team, a queue, both, or the whole site): saving a rule for a scope
that has one replaces its values. Admins may set any rule; a manager only rules scoped
to a team they manage. Every change is written to the audit log.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from qm.domain.audit import record
from qm.domain.evaluations.queries import managed_teams
from qm.errors import Forbidden, ValidationFailed
from qm.i18n import N_
from qm.i18n import gettext as _
from qm.models import (
    AssignmentMode,
    Queue,
    Role,
    SamplingRule,
    TargetReason,
    Team,
    User,
    utcnow,
)

WHERE = "sampling rule"
MAX_RANDOM_PER_AGENT = 100
MAX_TARGETED_PER_AGENT = 100
MAX_DUE_DAYS = 365

# Messages people read, in one place for the translation catalogs.
ONLY_ADMINS_AND_MANAGERS = N_("only admins and managers can change sampling rules")
MANAGER_SCOPE = N_("a manager can only set rules for a team they manage")


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What a rule says, whether stored or built in (`rule_id` None)."""

    rule_id: int | None
    team_id: str | None
    queue: str | None
    random_per_agent: int
    reasons: tuple[TargetReason, ...]
    targeted_per_agent: int
    low_courtesy_below: float
    reviewer_ids: tuple[int, ...]
    assignment: AssignmentMode
    due_days: int

    @classmethod
    def of(cls, rule: SamplingRule) -> "RuleSpec":
        """The spec of a stored rule (reasons in `TargetReason` order)."""
        return cls(
            rule_id=rule.id,
            team_id=rule.team_id,
            queue=rule.queue,
            random_per_agent=rule.random_per_agent,
            reasons=tuple(r for r in TargetReason if r.value in rule.reasons),
            targeted_per_agent=rule.targeted_per_agent,
            low_courtesy_below=rule.low_courtesy_below,
            reviewer_ids=tuple(rule.reviewer_ids),
            assignment=AssignmentMode(rule.assignment),
            due_days=rule.due_days,
        )

    @property
    def specificity(self) -> int:
        """How narrow the scope is: team and queue 3, queue 2, team 1, the site 0."""
        return (2 if self.queue is not None else 0) + (1 if self.team_id is not None else 0)

    def covers(self, *, team_id: str | None, queue: str | None) -> bool:
        """Whether a call of this agent's team and this queue is in the rule's scope."""
        return (self.team_id is None or self.team_id == team_id) and (
            self.queue is None or self.queue == queue
        )


# A site with no stored rule samples with this one (docs/review-queue.md): two random
# calls per agent a month, every targeted reason, at most five targeted calls per agent,
# shared in turn among all active reviewers, due a week after the run.
DEFAULT_RULE = RuleSpec(
    rule_id=None,
    team_id=None,
    queue=None,
    random_per_agent=2,
    reasons=tuple(TargetReason),
    targeted_per_agent=5,
    low_courtesy_below=0.6,
    reviewer_ids=(),
    assignment=AssignmentMode.ROUND_ROBIN,
    due_days=7,
)


@dataclass(frozen=True, slots=True)
class RuleInput:
    """The values of a rule to save; unchecked (as a form or the CLI gives them)."""

    team_id: str | None = None
    queue: str | None = None
    random_per_agent: int = DEFAULT_RULE.random_per_agent
    reasons: Sequence[str] = field(default_factory=lambda: [r.value for r in TargetReason])
    targeted_per_agent: int = DEFAULT_RULE.targeted_per_agent
    low_courtesy_below: float = DEFAULT_RULE.low_courtesy_below
    # Usernames of the reviewers; empty: every active reviewer.
    reviewers: Sequence[str] = ()
    assignment: str = DEFAULT_RULE.assignment.value
    due_days: int = DEFAULT_RULE.due_days
    active: bool = True


def _whole(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationFailed(
            WHERE,
            None,
            name,
            _("expected a whole number from %(low)s to %(high)s", low=low, high=high),
        )
    return value


def _reasons(values: Sequence[str]) -> list[str]:
    known = {r.value for r in TargetReason}
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValidationFailed(
            WHERE,
            None,
            "reasons",
            _(
                "unknown reason(s) %(value)s; expected some of %(value2)s",
                value=", ".join(map(repr, unknown)),
                value2=", ".join(r.value for r in TargetReason),
            ),
        )
    return [r.value for r in TargetReason if r.value in values]


def _reviewer_ids(session: Session, usernames: Sequence[str]) -> list[int]:
    ids: list[int] = []
    for name in dict.fromkeys(usernames):
        user = session.exec(select(User).where(col(User.username) == name)).first()
        if user is None or not user.active:
            raise ValidationFailed(
                WHERE, None, "reviewers", _("no active user %(name)s", name=repr(name))
            )
        if user.role not in (Role.REVIEWER, Role.MANAGER, Role.ADMIN):
            raise ValidationFailed(
                WHERE, None, "reviewers", _("%(name)s is an agent, not a reviewer", name=repr(name))
            )
        ids.append(user.id or 0)
    return ids


def check_rule(session: Session, data: RuleInput) -> RuleInput:
    """`data` with its scope stripped, or ValidationFailed naming the first bad field."""
    team_id = (data.team_id or "").strip() or None
    queue = (data.queue or "").strip() or None
    if team_id is not None and session.get(Team, team_id) is None:
        raise ValidationFailed(
            WHERE, None, "team_id", _("no team %(team_id)s", team_id=repr(team_id))
        )
    if queue is not None and session.get(Queue, queue) is None:
        raise ValidationFailed(WHERE, None, "queue", _("no queue %(queue)s", queue=repr(queue)))
    _whole(data.random_per_agent, "random_per_agent", 0, MAX_RANDOM_PER_AGENT)
    _whole(data.targeted_per_agent, "targeted_per_agent", 0, MAX_TARGETED_PER_AGENT)
    _whole(data.due_days, "due_days", 0, MAX_DUE_DAYS)
    threshold = data.low_courtesy_below
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ValidationFailed(
            WHERE, None, "low_courtesy_below", _("expected a number from 0 to 1")
        )
    if not 0 <= threshold <= 1:
        raise ValidationFailed(
            WHERE, None, "low_courtesy_below", _("expected a number from 0 to 1")
        )
    try:
        AssignmentMode(data.assignment)
    except ValueError:
        modes = " or ".join(m.value for m in AssignmentMode)
        raise ValidationFailed(
            WHERE, None, "assignment", _("expected %(modes)s", modes=modes)
        ) from None
    _reasons(data.reasons)
    return RuleInput(
        team_id=team_id,
        queue=queue,
        random_per_agent=data.random_per_agent,
        reasons=data.reasons,
        targeted_per_agent=data.targeted_per_agent,
        low_courtesy_below=float(threshold),
        reviewers=data.reviewers,
        assignment=data.assignment,
        due_days=data.due_days,
        active=data.active,
    )


def _require_may_set(session: Session, actor: User, team_id: str | None) -> None:
    if actor.role == Role.ADMIN:
        return
    if actor.role != Role.MANAGER:
        raise Forbidden(_(ONLY_ADMINS_AND_MANAGERS))
    if team_id is None or team_id not in managed_teams(session, actor):
        raise Forbidden(_(MANAGER_SCOPE))


def rule_for_scope(
    session: Session, *, team_id: str | None, queue: str | None
) -> SamplingRule | None:
    """The stored rule of exactly this scope, if any."""
    return session.exec(
        select(SamplingRule).where(
            col(SamplingRule.team_id).is_(None)
            if team_id is None
            else col(SamplingRule.team_id) == team_id,
            col(SamplingRule.queue).is_(None)
            if queue is None
            else col(SamplingRule.queue) == queue,
        )
    ).first()


def save_rule(session: Session, *, data: RuleInput, actor: User) -> SamplingRule:
    """Create the rule of `data`'s scope, or replace the values of the one it has.

    Raises:
        Forbidden: `actor` is not an admin, or a manager setting a rule outside their teams.
        ValidationFailed: naming the field (`team_id`, `queue`, `random_per_agent`,
            `targeted_per_agent`, `due_days`, `low_courtesy_below`, `assignment`,
            `reasons`, `reviewers`) and what is wrong with it.
    """
    if actor.role not in (Role.ADMIN, Role.MANAGER):
        raise Forbidden(_(ONLY_ADMINS_AND_MANAGERS))
    checked = check_rule(session, data)
    _require_may_set(session, actor, checked.team_id)
    return store_rule(session, data=checked, actor=actor.username)


def store_rule(session: Session, *, data: RuleInput, actor: str) -> SamplingRule:
    """`save_rule` without the permission check, for the command line (`actor` is a name).

    Raises:
        ValidationFailed: as `save_rule`.
    """
    checked = check_rule(session, data)
    reviewer_ids = _reviewer_ids(session, checked.reviewers)
    rule = rule_for_scope(session, team_id=checked.team_id, queue=checked.queue)
    action = "update" if rule is not None else "create"
    if rule is None:
        rule = SamplingRule(
            team_id=checked.team_id,
            queue=checked.queue,
            reasons=[],
            reviewer_ids=[],
            created_by=actor,
        )
    rule.random_per_agent = checked.random_per_agent
    rule.reasons = _reasons(checked.reasons)
    rule.targeted_per_agent = checked.targeted_per_agent
    rule.low_courtesy_below = checked.low_courtesy_below
    rule.reviewer_ids = reviewer_ids
    rule.assignment = AssignmentMode(checked.assignment)
    rule.due_days = checked.due_days
    rule.active = checked.active
    rule.updated_at = utcnow()
    session.add(rule)
    session.flush()
    record(
        session,
        actor=actor,
        action=f"sampling_rule.{action}",
        entity="sampling_rule",
        entity_id=str(rule.id),
        detail={
            "team": rule.team_id,
            "queue": rule.queue,
            "random_per_agent": rule.random_per_agent,
            "reasons": rule.reasons,
            "targeted_per_agent": rule.targeted_per_agent,
            "low_courtesy_below": rule.low_courtesy_below,
            "reviewers": list(dict.fromkeys(checked.reviewers)),
            "assignment": str(rule.assignment),
            "due_days": rule.due_days,
            "active": rule.active,
        },
    )
    return rule


def reviewer_names(session: Session, rule: SamplingRule) -> list[str]:
    """The usernames of a rule's reviewers, in the rule's order."""
    if not rule.reviewer_ids:
        return []
    names = dict(
        session.exec(
            select(User.id, User.username).where(col(User.id).in_(rule.reviewer_ids))
        ).all()
    )
    return [names[i] for i in rule.reviewer_ids if i in names]


def list_rules(session: Session) -> list[SamplingRule]:
    """Every stored rule, the site-wide one first, then by team and queue."""
    rules = session.exec(select(SamplingRule)).all()
    return sorted(rules, key=lambda r: (r.team_id or "", r.queue or "", r.id or 0))


def active_specs(session: Session) -> list[RuleSpec]:
    """The rules sampling follows: the stored active ones, or the built-in rule when the
    site has stored none at all (a site whose rules are all switched off samples nothing)."""
    stored = list_rules(session)
    if not stored:
        return [DEFAULT_RULE]
    return [RuleSpec.of(r) for r in stored if r.active]


def rule_for_call(
    specs: Sequence[RuleSpec], *, team_id: str | None, queue: str | None
) -> RuleSpec | None:
    """The most specific of `specs` that covers a call, or None when none does."""
    covering = [s for s in specs if s.covers(team_id=team_id, queue=queue)]
    return max(covering, key=lambda s: s.specificity, default=None)
