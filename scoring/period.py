"""Calendar months, the periods that scorecards, training plans and the demo are cut into.

DESIGN.md: a period is a calendar month in the site's time zone and a contact belongs to
the month in which it started. The string form "YYYY-MM" is what is stored and printed;
`Period` is for parsing it once and doing the month arithmetic in one place.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Self

# Years outside this range are typing mistakes ("0224-03", "20245-01"), not call data.
MIN_YEAR = 1900
MAX_YEAR = 2999

_FORM = re.compile(r"(\d{4})-(\d{2})", re.ASCII)


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """One calendar month; ordered by time, printed as "YYYY-MM".

    Raises:
        ValueError: when the month is not 1-12 or the year is outside MIN_YEAR-MAX_YEAR.
    """

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month {self.month} is not between 01 and 12")
        if not MIN_YEAR <= self.year <= MAX_YEAR:
            raise ValueError(f"year {self.year} is not between {MIN_YEAR} and {MAX_YEAR}")

    @classmethod
    def parse(cls, text: str) -> Self:
        """The month written as "YYYY-MM" (exactly: "2026-1" and "2026-01-05" are refused).

        Raises:
            ValueError: naming the text and the form expected.
        """
        found = _FORM.fullmatch(text)
        if found is None:
            raise ValueError(f"{text!r} is not a month written as YYYY-MM")
        try:
            return cls(int(found[1]), int(found[2]))
        except ValueError as error:
            raise ValueError(f"{text!r} is not a month: {error}") from None

    @classmethod
    def of(cls, instant: datetime, tz: tzinfo) -> Self:
        """The month in which `instant` (an aware datetime) falls in the zone `tz`."""
        local = instant.astimezone(tz)
        return cls(local.year, local.month)

    @classmethod
    def of_day(cls, day: date) -> Self:
        """The month of a calendar day (a mystery shop's date, the demo's "today")."""
        return cls(day.year, day.month)

    @classmethod
    def range(cls, first: Self, last: Self) -> Iterator[Self]:
        """Every month from `first` to `last`, both included, oldest first."""
        period = first
        while period <= last:
            yield period
            if period == last:
                return
            period = period.next()

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Self:
        """The month after this one."""
        if self.month == 12:
            return type(self)(self.year + 1, 1)
        return type(self)(self.year, self.month + 1)

    def previous(self) -> Self:
        """The month before this one."""
        if self.month == 1:
            return type(self)(self.year - 1, 12)
        return type(self)(self.year, self.month - 1)

    def first_day(self) -> date:
        """The 1st of the month."""
        return date(self.year, self.month, 1)

    def days(self) -> list[date]:
        """Every day of the month, in order."""
        first = self.first_day()
        after = date(self.year + self.month // 12, self.month % 12 + 1, 1)
        return [first + timedelta(days=i) for i in range((after - first).days)]

    def bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """The first instant of the month and of the next one, both in the zone `tz`.

        A contact belongs to the month when start <= started_at < end. The ends are
        local midnights, so a month with a daylight-saving change is an hour shorter or
        longer than its days times 24 hours.
        """
        start = datetime(self.year, self.month, 1, tzinfo=tz)
        # Not self.next(): the month after MAX_YEAR-12 still has a first instant.
        end = datetime(self.year + self.month // 12, self.month % 12 + 1, 1, tzinfo=tz)
        return start, end
