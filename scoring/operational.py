"""Balanced operational metrics: first-contact resolution, transfers and handle time.

Every figure follows DESIGN.md's definitions so that it can be recomputed by hand:

- FCR: contact C of customer K at time t is resolved at first contact when no other
  contact of K starts in (t, t + W]. C is eligible only when t + W <= as-of (default:
  the latest start in the data) and K is known. W is per queue (default 7 days); with
  `same_reason`, only a repeat with the same reason counts.
- Transfer rate: contacts with transfers >= 1 / contacts whose transfers are known.
- Handle time: talk + hold + wrap; unknown when any part is unknown.

The FCR pass sorts once by (customer, [reason,] start) and walks each customer's
contacts in order, so a million contacts cost one sort, never a pairwise comparison.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from scoring.period import Period

DEFAULT_FCR_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Contact:
    """One customer contact with the call-manifest fields the metrics need."""

    call_id: str
    agent_id: str
    started_at: datetime
    customer_id: str | None = None
    queue: str | None = None
    reason: str | None = None
    talk_seconds: float | None = None
    hold_seconds: float | None = None
    wrap_seconds: float | None = None
    transfers: int | None = None
    resolved: bool | None = None

    @property
    def handle_seconds(self) -> float | None:
        """Talk + hold + wrap, or None when any part is unknown."""
        if self.talk_seconds is None or self.hold_seconds is None or self.wrap_seconds is None:
            return None
        return self.talk_seconds + self.hold_seconds + self.wrap_seconds


@dataclass(frozen=True, slots=True)
class FcrRules:
    """How repeat contacts are found."""

    window: timedelta = DEFAULT_FCR_WINDOW
    queue_windows: Mapping[str, timedelta] = field(default_factory=dict)
    same_reason: bool = False

    def window_for(self, queue: str | None) -> timedelta:
        """The repeat window of `queue` (the default window when it has none)."""
        if queue is not None and queue in self.queue_windows:
            return self.queue_windows[queue]
        return self.window


def repeat_contacts(
    contacts: Sequence[Contact], *, rules: FcrRules | None = None
) -> list[bool | None]:
    """Whether a repeat followed each contact, whatever the as-of time.

    Args:
        contacts: the contacts, in any order; all `started_at` must be timezone-aware.
        rules: the window(s) and whether only same-reason repeats count.

    Returns:
        One value per contact, in input order: True when another contact of the same
        customer (and reason, with `same_reason`) starts in (t, t + W], False when none
        does, None when the customer is unknown. A contact's FCR is `not repeat` once it
        is eligible (`first_contact_resolution`); the application stores this flag per
        call so that its monthly figures are sums over the calls.
    """
    rules = rules or FcrRules()
    starts = [c.started_at.timestamp() for c in contacts]
    windows = [rules.window_for(c.queue).total_seconds() for c in contacts]
    return _repeats(contacts, rules, starts, windows)


def _repeats(
    contacts: Sequence[Contact], rules: FcrRules, starts: list[float], windows: list[float]
) -> list[bool | None]:
    def key(i: int) -> tuple[str, str, float]:
        c = contacts[i]
        return (c.customer_id or "", (c.reason or "") if rules.same_reason else "", starts[i])

    order = sorted((i for i, c in enumerate(contacts) if c.customer_id), key=key)
    result: list[bool | None] = [None] * len(contacts)
    # Walk backwards so that `next_later` is the start of the first contact of the same
    # group that begins strictly later (ties at the same instant are not repeats).
    next_later: float | None = None
    next_start: float | None = None
    group: tuple[str, str] | None = None
    for i in reversed(order):
        c = contacts[i]
        this_group = (c.customer_id or "", (c.reason or "") if rules.same_reason else "")
        if this_group != group:
            group, next_later, next_start = this_group, None, None
        t = starts[i]
        if next_start is not None and next_start > t:
            next_later = next_start
        result[i] = next_later is not None and next_later <= t + windows[i]
        next_start = t
    return result


def first_contact_resolution(
    contacts: Sequence[Contact], *, as_of: datetime | None = None, rules: FcrRules | None = None
) -> list[bool | None]:
    """Classify every contact for FCR.

    Args:
        contacts: the contacts, in any order; all `started_at` must be timezone-aware.
        as_of: the time up to which repeats are known (default: the latest start).
        rules: the window(s) and whether only same-reason repeats count.

    Returns:
        One value per contact, in input order: True when resolved at first contact,
        False when a repeat followed inside the window, None when not eligible.
    """
    rules = rules or FcrRules()
    if not contacts:
        return []
    starts = [c.started_at.timestamp() for c in contacts]
    windows = [rules.window_for(c.queue).total_seconds() for c in contacts]
    limit = as_of.timestamp() if as_of is not None else max(starts)
    repeats = _repeats(contacts, rules, starts, windows)
    return [
        None if repeat is None or t + w > limit else not repeat
        for repeat, t, w in zip(repeats, starts, windows, strict=True)
    ]


class HandleBand(StrEnum):
    """Where a handle time falls against its queue's target band."""

    SHORT = "short"
    OK = "ok"
    LONG = "long"


@dataclass(frozen=True, slots=True)
class HandleTarget:
    """A queue's handle-time target band in seconds; either end may be open."""

    min_seconds: float | None = None
    max_seconds: float | None = None

    def classify(self, seconds: float | None) -> HandleBand | None:
        """SHORT below the band (rushing, dumping calls), LONG above it, None if unknown."""
        if seconds is None:
            return None
        if self.min_seconds is not None and seconds < self.min_seconds:
            return HandleBand.SHORT
        if self.max_seconds is not None and seconds > self.max_seconds:
            return HandleBand.LONG
        return HandleBand.OK


@dataclass(slots=True)
class Tally:
    """Counts and sums for one group (agent or team) in one month."""

    contacts: int = 0
    fcr_eligible: int = 0
    fcr_resolved: int = 0
    transfer_known: int = 0
    transferred: int = 0
    handle_n: int = 0
    handle_sum: float = 0.0
    handle_sq_sum: float = 0.0  # the sum of squares, for the interval of the mean
    handle_banded: int = 0
    handle_short: int = 0
    handle_long: int = 0
    declared_n: int = 0
    declared_resolved: int = 0

    def add(self, other: "Tally") -> None:
        """Add `other`'s counts and sums to this tally (a team's month from its agents')."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def fcr(self) -> float | None:
        """Repeat-contact FCR: resolved / eligible."""
        return self.fcr_resolved / self.fcr_eligible if self.fcr_eligible else None

    @property
    def transfer_rate(self) -> float | None:
        """Contacts with transfers >= 1 / contacts with known transfers."""
        return self.transferred / self.transfer_known if self.transfer_known else None

    @property
    def aht(self) -> float | None:
        """Mean handle time of contacts whose handle time is known."""
        return self.handle_sum / self.handle_n if self.handle_n else None

    @property
    def declared_resolution(self) -> float | None:
        """Share of contacts marked resolved in the export (reported beside FCR)."""
        return self.declared_resolved / self.declared_n if self.declared_n else None


def monthly_tallies(
    contacts: Sequence[Contact],
    fcr: Sequence[bool | None],
    *,
    tz: ZoneInfo,
    group_of: Callable[[Contact], str | None] = lambda c: c.agent_id,
    targets: Mapping[str, HandleTarget] | None = None,
) -> dict[tuple[str, str], Tally]:
    """Aggregate contacts per (group, month); FCR is credited to the contact's own group.

    Args:
        contacts: the contacts.
        fcr: `first_contact_resolution(contacts, ...)`, aligned with `contacts`.
        tz: the site's time zone, which decides the month of each contact.
        group_of: the group a contact counts for (agent by default; a team lookup for
            team figures). Contacts whose group is None are left out.
        targets: handle-time bands per queue, to count too-short and too-long calls.
    """
    tallies: dict[tuple[str, str], Tally] = {}
    targets = targets or {}
    month_cache: dict[int, str] = {}
    for contact, outcome in zip(contacts, fcr, strict=True):
        group = group_of(contact)
        if group is None:
            continue
        # Every zone offset is a whole number of quarter hours, so a month boundary in
        # the site's zone falls on a UTC quarter-hour: cache the month per quarter-hour.
        bucket = int(contact.started_at.timestamp() // 900)
        month = month_cache.get(bucket)
        if month is None:
            month = month_cache[bucket] = str(Period.of(contact.started_at, tz))
        tally = tallies.get((group, month))
        if tally is None:
            tally = tallies[(group, month)] = Tally()
        _add(tally, contact, outcome, targets.get(contact.queue or ""))
    return tallies


def _add(tally: Tally, contact: Contact, outcome: bool | None, target: HandleTarget | None) -> None:
    tally.contacts += 1
    if outcome is not None:
        tally.fcr_eligible += 1
        tally.fcr_resolved += outcome
    if contact.transfers is not None:
        tally.transfer_known += 1
        tally.transferred += contact.transfers >= 1
    handle = contact.handle_seconds
    if handle is not None:
        tally.handle_n += 1
        tally.handle_sum += handle
        tally.handle_sq_sum += handle * handle
        band = target.classify(handle) if target is not None else None
        tally.handle_banded += band is not None
        tally.handle_short += band is HandleBand.SHORT
        tally.handle_long += band is HandleBand.LONG
    if contact.resolved is not None:
        tally.declared_n += 1
        tally.declared_resolved += contact.resolved
