"""Monthly agent scorecards from the stored calls, per-call results and mystery shops."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from qm.domain.aggregates import key_point_counts, mystery_shops
from qm.domain.call_totals import latest_start, monthly_totals
from qm.errors import ValidationFailed
from qm.models import Call, CallMetrics, Queue, UnansweredContact
from scoring.mystery import Shop
from scoring.operational import Contact, FcrRules, HandleTarget, first_contact_resolution
from scoring.period import Period
from scoring.scorecard import (
    CallQuality,
    Scorecard,
    ScorecardConfig,
    build_scorecards,
    scorecards_from_totals,
)


@dataclass(frozen=True)
class ScorecardRequest:
    """What to compute: the month, optionally one agent, and the FCR parameters."""

    period: str
    agent_id: str | None = None
    as_of: datetime | None = None
    fcr_window_days: int | None = None
    same_reason: bool = False


def parse_period(period: str) -> Period:
    """The month a person gave as YYYY-MM (the `--period` option, a query parameter).

    Raises:
        ValidationFailed: when `period` is not a month written as YYYY-MM.
    """
    try:
        return Period.parse(period)
    except ValueError as error:
        raise ValidationFailed("--period", None, "period", str(error)) from None


def month_bounds(period: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The first instant of `period` and of the month after it, in the site's zone.

    Raises:
        ValidationFailed: when `period` is not a month written as YYYY-MM.
    """
    return parse_period(period).bounds(tz)


def _queue_settings(
    session: Session, default_days: int | None
) -> tuple[FcrRules, dict[str, HandleTarget], timedelta]:
    queues = session.exec(select(Queue)).all()
    default = timedelta(days=default_days) if default_days else timedelta(days=7)
    windows = {} if default_days else {q.id: timedelta(days=q.fcr_window_days) for q in queues}
    targets = {
        q.id: HandleTarget(q.aht_min_seconds, q.aht_max_seconds)
        for q in queues
        if q.aht_min_seconds is not None or q.aht_max_seconds is not None
    }
    longest = max([default, *windows.values()])
    return FcrRules(window=default, queue_windows=windows), targets, longest


def compute_scorecards(
    session: Session, request: ScorecardRequest, *, tz: ZoneInfo, config: ScorecardConfig
) -> list[Scorecard]:
    """Scorecards for `request.period` (and the previous month, for the trend).

    With the queues' own FCR windows the database adds the month up from the stored
    per-call flags (`qm.domain.call_totals`); a window given for every queue or
    same-reason repeats are a different question, answered from the calls themselves.
    """
    period = parse_period(request.period)
    start, end = period.bounds(tz)
    prev_start, _ = period.previous().bounds(tz)
    as_of = request.as_of or latest_start(session)
    mystery = mystery_shops(session, prev_start.date(), end.date())
    # Real calls' hits beside the mystery-shop items: only shopped agents have any.
    shopped = {s.agent_id for s in mystery if start.date() <= s.day}
    hits = key_point_counts(session, start, end, agents=shopped) if shopped else {}
    _, targets, _ = _queue_settings(session, request.fcr_window_days)
    card_config = ScorecardConfig(config.weights, config.min_contacts, targets)
    real_hits = {key: (h, n) for key, (h, n, _w, _c) in hits.items()}
    if request.fcr_window_days is None and not request.same_reason:
        # Every agent's month: the rank is among all of them.
        tallies, quality = monthly_totals(session, [period.previous(), period], tz, as_of=as_of)
        cards = scorecards_from_totals(
            request.period,
            tallies=tallies,
            quality=quality,
            shops=mystery,
            config=card_config,
            real_hits=real_hits,
        )
    else:
        cards = _from_calls(session, request, tz, mystery, card_config, real_hits, as_of)
    if request.agent_id is not None:
        cards = [c for c in cards if c.agent_id == request.agent_id]
    return cards


def _from_calls(
    session: Session,
    request: ScorecardRequest,
    tz: ZoneInfo,
    shops: list[Shop],
    config: ScorecardConfig,
    real_hits: dict[tuple[str, str], tuple[int, int]],
    as_of: datetime | None,
) -> list[Scorecard]:
    """The cards from the calls themselves, with the request's own FCR rules."""
    period = parse_period(request.period)
    _, end = period.bounds(tz)
    prev_start, _ = period.previous().bounds(tz)
    rules, _, longest = _queue_settings(session, request.fcr_window_days)
    rules = FcrRules(rules.window, rules.queue_windows, request.same_reason)
    # Contacts up to one window after the month decide FCR of the month's contacts.
    rows = session.exec(
        select(Call, CallMetrics)
        .join(CallMetrics, col(CallMetrics.call_id) == col(Call.id), isouter=True)
        .where(col(Call.started_at) >= prev_start, col(Call.started_at) < end + longest)
    ).all()
    contacts = [
        Contact(
            call_id=c.id,
            agent_id=c.agent_id,
            started_at=c.started_at,
            customer_id=c.customer_id,
            queue=c.queue,
            reason=c.reason,
            talk_seconds=c.talk_seconds,
            hold_seconds=c.hold_seconds,
            wrap_seconds=c.wrap_seconds,
            transfers=c.transfers,
            resolved=c.resolved,
        )
        for c, _ in rows
    ]
    quality = [
        CallQuality(c.id, c.agent_id, c.started_at, m.compliance, m.courtesy_score)
        for c, m in rows
        if m is not None
    ]
    # Contacts that reached no agent are later contacts of their customers too.
    unanswered = [
        Contact(u.id, "", u.started_at, u.customer_id, u.queue)
        for u in session.exec(
            select(UnansweredContact).where(
                col(UnansweredContact.started_at) >= prev_start,
                col(UnansweredContact.started_at) < end + longest,
                col(UnansweredContact.customer_id).is_not(None),
            )
        ).all()
    ]
    fcr = first_contact_resolution([*contacts, *unanswered], as_of=as_of, rules=rules)
    fcr = fcr[: len(contacts)]
    return build_scorecards(
        request.period,
        contacts=contacts,
        fcr=fcr,
        quality=quality,
        shops=shops,
        tz=tz,
        config=config,
        real_hits=real_hits,
    )


def describe(cards: Sequence[Scorecard]) -> list[str]:
    """A plain-text table of scorecards for the terminal."""

    def pct(value: float | None) -> str:
        return "   -  " if value is None else f"{100 * value:5.1f}%"

    lines = [
        f"{'agent':<24} {'n':>4} {'rank':>4}  {'FCR':>6} {'xfer':>6} {'AHT s':>6} "
        f"{'court.':>6} {'script':>6} {'mystery':>7}  composite (95% CI)"
    ]
    for card in cards:
        m = card.metrics
        aht = m.aht_seconds.value
        comp = card.composite
        ci = f"[{100 * comp.ci95[0]:.0f}-{100 * comp.ci95[1]:.0f}]" if comp.ci95 else ""
        rank = str(card.rank) if card.rank else "-"
        note = "" if card.enough_data else "  not enough data"
        lines.append(
            f"{card.agent_id:<24} {card.contacts:>4} {rank:>4}  {pct(m.fcr.value)} "
            f"{pct(m.transfer_rate.value)} {'-' if aht is None else f'{aht:.0f}':>6} "
            f"{pct(m.courtesy.value)} {pct(m.script_compliance.value)} "
            f"{pct(m.mystery_shopper.value):>7}  {pct(comp.value)} {ci}{note}"
        )
    return lines
