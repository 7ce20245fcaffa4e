"""Picking the calls of a month for review: a random sample per agent plus targeted picks.

`sample_period` is what `qm sample --period` and a scheduled job run. For each agent and
the rule that covers the agent's calls (see `rules.rule_for_call`), among the month's
calls whose pipeline is done:

- `random_per_agent` calls are drawn at random from all of them (so the random sample
  stays an unbiased picture of the agent's work, targeted calls included);
- then up to `targeted_per_agent` more calls for which one of the rule's targeted
  reasons holds, the most serious reason first (TargetReason order), then the call with
  more reasons, then the earlier call.

It is idempotent for a month: a call is picked at most once a month (one pick listing
every reason), and a second run only tops up what is missing, so running it twice, or
daily, never doubles the picks. With a `seed` the random draw is reproducible.
"""

import bisect
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from qm.domain.audit import record
from qm.domain.calls.status import PipelineStatus, handle_time, status_expression
from qm.domain.review_queue.assignment import Assigner
from qm.domain.review_queue.rules import RuleSpec, active_specs, rule_for_call
from qm.models import (
    Agent,
    Call,
    CallMetrics,
    KeyPointResult,
    Queue,
    ResultKind,
    ReviewPick,
    TargetReason,
    User,
)
from qm.models.review import RANDOM_SAMPLE, TARGETED_PREFIX
from scoring.courtesy import courtesy_score
from scoring.period import Period

# An agent whose first call is at most this many days before the month's end is new.
NEW_AGENT_DAYS = 30
MAX_DETAIL = 1000
RANK = {reason: rank for rank, reason in enumerate(TargetReason)}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A call of the month that may be picked, with what the checks found."""

    call: Call
    team_id: str | None
    reasons: tuple[TargetReason, ...]
    detail: str


@dataclass(frozen=True, slots=True)
class PickSummary:
    """One pick of the month, as the report lists it."""

    call_id: str
    agent_id: str
    sample: str
    reasons: tuple[str, ...]
    reviewer: str | None
    due: date
    new: bool  # made by this run


@dataclass(frozen=True, slots=True)
class SampleReport:
    """What a sampling run found and did."""

    period: str
    candidates: int  # calls of the month whose pipeline is done
    picks: tuple[PickSummary, ...]  # every pick of the month, this run's included
    rules: int  # rules applied (the built-in rule counts as one)

    @property
    def created(self) -> tuple[PickSummary, ...]:
        """The picks this run made."""
        return tuple(p for p in self.picks if p.new)

    def by_reviewer(self, *, new_only: bool = False) -> Counter[str]:
        """Picks per reviewer's username ("" for unassigned ones)."""
        picks = self.created if new_only else self.picks
        return Counter(p.reviewer or "" for p in picks)

    def by_reason(self, *, new_only: bool = False) -> Counter[str]:
        """Picks per reason: "random" for the random sample, else each targeted reason
        listed (a pick with two reasons counts under both)."""
        picks = self.created if new_only else self.picks
        counts: Counter[str] = Counter()
        for pick in picks:
            if pick.sample == RANDOM_SAMPLE:
                counts[RANDOM_SAMPLE] += 1
            else:
                counts.update(pick.reasons)
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON (`qm sample --json`)."""
        return {
            "period": self.period,
            "candidates": self.candidates,
            "rules": self.rules,
            "created": len(self.created),
            "total": len(self.picks),
            "by_reviewer": dict(sorted(self.by_reviewer().items())),
            "by_reason": dict(sorted(self.by_reason().items())),
            "picks": [
                {
                    "call_id": p.call_id,
                    "agent_id": p.agent_id,
                    "sample": p.sample,
                    "reasons": list(p.reasons),
                    "reviewer": p.reviewer,
                    "due": p.due.isoformat(),
                    "new": p.new,
                }
                for p in self.picks
            ],
        }


@dataclass
class _Facts:
    """What the month's checks need beyond each call's own row, loaded in a few queries."""

    queues: dict[str, Queue] = field(default_factory=dict)
    critical_items: dict[str, list[str]] = field(default_factory=dict)
    first_call: dict[str, datetime] = field(default_factory=dict)
    customer_calls: dict[str, list[datetime]] = field(default_factory=dict)


def _done_calls(
    session: Session, start: datetime, end: datetime
) -> list[tuple[Call, str | None, CallMetrics | None]]:
    """The month's calls whose pipeline is done (recordings not purged), with team and
    metrics, by start then id."""
    rows = session.exec(
        select(Call, Agent.team_id, CallMetrics)
        .join(Agent, col(Agent.id) == col(Call.agent_id))
        .outerjoin(CallMetrics, col(CallMetrics.call_id) == col(Call.id))
        .where(
            col(Call.started_at) >= start,
            col(Call.started_at) < end,
            col(Call.purged_at).is_(None),
            status_expression() == PipelineStatus.DONE.value,
        )
        .order_by(col(Call.started_at), col(Call.id))
    ).all()
    return [(call, team_id, metrics) for call, team_id, metrics in rows]


def _facts(session: Session, start: datetime, end: datetime, agent_ids: set[str]) -> _Facts:
    facts = _Facts(queues={q.id: q for q in session.exec(select(Queue)).all()})
    missed = session.exec(
        select(KeyPointResult.call_id, KeyPointResult.item_id)
        .join(Call, col(Call.id) == col(KeyPointResult.call_id))
        .where(
            col(Call.started_at) >= start,
            col(Call.started_at) < end,
            col(KeyPointResult.critical),
            sa.or_(
                sa.and_(
                    col(KeyPointResult.kind) == ResultKind.KEY_POINT.value,
                    ~col(KeyPointResult.hit),
                ),
                sa.and_(
                    col(KeyPointResult.kind) == ResultKind.FORBIDDEN.value,
                    col(KeyPointResult.hit),
                ),
            ),
        )
        .order_by(col(KeyPointResult.item_id))
    ).all()
    for call_id, item_id in missed:
        facts.critical_items.setdefault(call_id, []).append(item_id)
    if agent_ids:
        firsts = session.exec(
            select(Call.agent_id, sa.func.min(Call.started_at))
            .where(col(Call.agent_id).in_(sorted(agent_ids)))
            .group_by(col(Call.agent_id))
        ).all()
        # min() comes back as the stored naive UTC on SQLite; make it an instant again.
        facts.first_call = {a: _aware(t) for a, t in firsts if t is not None}
    window = max((q.fcr_window_days for q in facts.queues.values()), default=7)
    later = session.exec(
        select(Call.customer_id, Call.started_at)
        .where(
            col(Call.customer_id).is_not(None),
            col(Call.started_at) >= start,
            col(Call.started_at) <= end + timedelta(days=window),
        )
        .order_by(col(Call.started_at))
    ).all()
    for customer_id, started_at in later:
        facts.customer_calls.setdefault(customer_id or "", []).append(_aware(started_at))
    return facts


def _aware(instant: Any) -> datetime:
    value: datetime = instant if isinstance(instant, datetime) else datetime.fromisoformat(instant)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _mmss(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60:02d}:{whole % 60:02d}"


def _bound(seconds: float | None) -> str:
    return "…" if seconds is None else _mmss(seconds)


def _checks(
    call: Call, metrics: CallMetrics | None, spec: RuleSpec, facts: _Facts, end: datetime
) -> list[tuple[TargetReason, str]]:
    """Every targeted reason of `spec` that holds for the call, with what was found."""
    found: list[tuple[TargetReason, str]] = []
    wanted = set(spec.reasons)
    courtesy = (metrics.courtesy if metrics else None) or {}
    queue = facts.queues.get(call.queue or "")
    if TargetReason.CRITICAL_MISS in wanted and metrics and metrics.critical_failed:
        items = ", ".join(facts.critical_items.get(call.id, [])) or "?"
        found.append((TargetReason.CRITICAL_MISS, f"critical item(s) failed: {items}"))
    if TargetReason.UNCERTAIN in wanted and metrics and metrics.uncertain_items > 0:
        found.append((TargetReason.UNCERTAIN, f"{metrics.uncertain_items} uncertain key point(s)"))
    if TargetReason.FORBIDDEN_PHRASE in wanted and (courtesy.get("forbidden_count") or 0) > 0:
        phrases = ", ".join(map(str, courtesy.get("forbidden_phrases") or [])) or "?"
        found.append((TargetReason.FORBIDDEN_PHRASE, f"forbidden phrase(s): {phrases}"))
    if TargetReason.LOW_COURTESY in wanted and courtesy:
        score = courtesy_score(courtesy)
        if score is not None and score < spec.low_courtesy_below:
            found.append(
                (
                    TargetReason.LOW_COURTESY,
                    f"courtesy {score:.0%} below {spec.low_courtesy_below:.0%}",
                )
            )
    if TargetReason.HANDLE_TIME in wanted and queue is not None:
        seconds = handle_time(call, metrics)
        low, high = queue.aht_min_seconds, queue.aht_max_seconds
        if seconds is not None and (
            (low is not None and seconds < low) or (high is not None and seconds > high)
        ):
            band = f"{_bound(low)}–{_bound(high)}"
            found.append((TargetReason.HANDLE_TIME, f"handle time {_mmss(seconds)} outside {band}"))
    transferred = metrics.transferred if metrics and metrics.transferred is not None else None
    if transferred is None:
        transferred = (call.transfers or 0) >= 1
    if TargetReason.TRANSFER in wanted and transferred:
        found.append((TargetReason.TRANSFER, f"transferred ({call.transfers or 1}×)"))
    if TargetReason.REPEAT_CONTACT in wanted and call.customer_id:
        days = queue.fcr_window_days if queue is not None else 7
        times = facts.customer_calls.get(call.customer_id, [])
        after = bisect.bisect_right(times, call.started_at)
        if after < len(times) and times[after] <= call.started_at + timedelta(days=days):
            found.append((TargetReason.REPEAT_CONTACT, f"customer called again within {days} days"))
    first = facts.first_call.get(call.agent_id)
    if (
        TargetReason.NEW_AGENT in wanted
        and first is not None
        and first >= end - timedelta(days=NEW_AGENT_DAYS)
    ):
        found.append((TargetReason.NEW_AGENT, f"agent's first call {first.date().isoformat()}"))
    return found


def _rng(seed: int | None, period: Period, spec: RuleSpec, agent_id: str) -> random.Random:
    if seed is None:
        return random.Random()
    # A string seed is hashed deterministically, so each agent's draw is reproducible on
    # its own (adding an agent does not change the others' picks).
    return random.Random(f"{seed}|{period}|{spec.rule_id}|{agent_id}")


def _label(reasons: Sequence[TargetReason]) -> str:
    return TARGETED_PREFIX + reasons[0].value


def _choose(
    group: list[Candidate],
    spec: RuleSpec,
    existing: dict[str, ReviewPick],
    rng: random.Random,
) -> list[tuple[Candidate, str]]:
    """The new picks of one agent under one rule: (candidate, sample label)."""
    picked = [c for c in group if c.call.id in existing]
    have_random = sum(1 for c in picked if existing[c.call.id].sample == RANDOM_SAMPLE)
    have_targeted = len(picked) - have_random
    free = [c for c in group if c.call.id not in existing]
    chosen: list[tuple[Candidate, str]] = []
    want = max(0, spec.random_per_agent - have_random)
    if want and free:
        drawn = rng.sample(free, min(want, len(free)))
        chosen += [(c, RANDOM_SAMPLE) for c in sorted(drawn, key=lambda c: free.index(c))]
    taken = {c.call.id for c, _ in chosen}
    targets = [c for c in free if c.reasons and c.call.id not in taken]
    targets.sort(key=lambda c: (RANK[c.reasons[0]], -len(c.reasons), c.call.started_at, c.call.id))
    room = max(0, spec.targeted_per_agent - have_targeted)
    chosen += [(c, _label(c.reasons)) for c in targets[:room]]
    return chosen


def _existing(session: Session, period: Period) -> dict[str, ReviewPick]:
    return {
        p.call_id: p
        for p in session.exec(select(ReviewPick).where(col(ReviewPick.period) == str(period))).all()
    }


def _summaries(
    session: Session, period: str, picks: Iterable[ReviewPick], new_ids: set[int]
) -> tuple[PickSummary, ...]:
    rows = list(picks)
    users = {
        u.id: u.username
        for u in session.exec(
            select(User).where(col(User.id).in_({p.reviewer_id for p in rows if p.reviewer_id}))
        ).all()
    }
    agents = dict(
        session.exec(
            select(Call.id, Call.agent_id)
            .join(ReviewPick, col(ReviewPick.call_id) == col(Call.id))
            .where(col(ReviewPick.period) == period)
        ).all()
    )
    ordered = sorted(rows, key=lambda p: (agents.get(p.call_id, ""), p.call_id))
    return tuple(
        PickSummary(
            call_id=p.call_id,
            agent_id=agents.get(p.call_id, ""),
            sample=p.sample,
            reasons=tuple(r for r in p.reasons.split(",") if r),
            reviewer=users.get(p.reviewer_id) if p.reviewer_id else None,
            due=p.due,
            new=p.id in new_ids,
        )
        for p in ordered
    )


def sample_period(
    session: Session,
    *,
    period: Period,
    today: date,
    seed: int | None = None,
    tz: tzinfo = UTC,
    actor: str = "system",
) -> SampleReport:
    """Pick the month's calls for review and assign them; the caller commits.

    Args:
        period: the month; a call belongs to it when it started in it in `tz`.
        today: the day of the run; a pick is due `due_days` (the rule's) after it.
        seed: makes the random draw reproducible (the same seed, the same picks).
        tz: the site's time zone (settings.tz).
        actor: who runs it, for the audit log.

    Returns:
        The report: every pick of the month, marked new when this run made it.
    """
    start, end = period.bounds(tz)
    specs = active_specs(session)
    calls = _done_calls(session, start, end)
    facts = _facts(session, start, end, {call.agent_id for call, _, _ in calls})
    groups: dict[tuple[RuleSpec, str], list[Candidate]] = defaultdict(list)
    for call, team_id, metrics in calls:
        spec = rule_for_call(specs, team_id=team_id, queue=call.queue)
        if spec is None:
            continue  # no rule covers this call: it is not sampled
        found = _checks(call, metrics, spec, facts, end)
        candidate = Candidate(
            call=call,
            team_id=team_id,
            reasons=tuple(reason for reason, _ in found),
            detail="; ".join(text for _, text in found)[:MAX_DETAIL],
        )
        groups[(spec, call.agent_id)].append(candidate)
    existing = _existing(session, period)
    assigner = Assigner(session)
    made: list[ReviewPick] = []
    # Agents in id order, so that a seeded run assigns reviewers the same way each time.
    for spec, agent_id in sorted(groups, key=lambda k: (k[1], k[0].rule_id or 0)):
        group = groups[(spec, agent_id)]
        for candidate, sample in _choose(group, spec, existing, _rng(seed, period, spec, agent_id)):
            reviewer = assigner.assign(spec, agent_id)
            pick = ReviewPick(
                call_id=candidate.call.id,
                period=str(period),
                rule_id=spec.rule_id,
                sample=sample,
                reasons=",".join(r.value for r in candidate.reasons),
                detail=candidate.detail,
                reviewer_id=reviewer.id if reviewer else None,
                due=today + timedelta(days=spec.due_days),
            )
            session.add(pick)
            made.append(pick)
            existing[candidate.call.id] = pick
    session.flush()
    report = SampleReport(
        period=str(period),
        candidates=len(calls),
        picks=_summaries(session, str(period), existing.values(), {p.id for p in made if p.id}),
        rules=len(specs),
    )
    record(
        session,
        actor=actor,
        action="review_queue.sample",
        entity="period",
        entity_id=str(period),
        detail={
            "seed": seed,
            "candidates": report.candidates,
            "created": len(made),
            "total": len(report.picks),
            "by_reason": dict(sorted(report.by_reason(new_only=True).items())),
        },
    )
    return report
