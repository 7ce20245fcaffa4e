from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scoring.period import MAX_YEAR, MIN_YEAR, Period

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")


def test_parse_and_print_round_trip() -> None:
    period = Period.parse("2026-10")
    assert period == Period(2026, 10)
    assert str(period) == "2026-10"
    assert str(Period(1999, 1)) == "1999-01"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("March", "is not a month written as YYYY-MM"),
        ("2026-1", "is not a month written as YYYY-MM"),
        ("2026-10-01", "is not a month written as YYYY-MM"),
        ("2026/10", "is not a month written as YYYY-MM"),
        (" 2026-10", "is not a month written as YYYY-MM"),
        ("２０２６-10", "is not a month written as YYYY-MM"),
        ("", "is not a month written as YYYY-MM"),
        ("2026-00", "month 0 is not between 01 and 12"),
        ("2026-13", "month 13 is not between 01 and 12"),
        ("0224-03", f"year 224 is not between {MIN_YEAR} and {MAX_YEAR}"),
        ("3000-01", f"year 3000 is not between {MIN_YEAR} and {MAX_YEAR}"),
    ],
)
def test_parse_refuses_anything_but_a_month(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        Period.parse(text)
    assert repr(text) in str(raised.value)


def test_constructor_checks_too() -> None:
    with pytest.raises(ValueError, match="month 13"):
        Period(2026, 13)


def test_next_and_previous_cross_the_year() -> None:
    assert Period(2025, 12).next() == Period(2026, 1)
    assert Period(2026, 1).previous() == Period(2025, 12)
    assert Period(2026, 5).next() == Period(2026, 6)
    assert Period(2026, 5).previous() == Period(2026, 4)
    assert Period(2026, 1).previous().next() == Period(2026, 1)


def test_order_follows_time() -> None:
    assert Period(2025, 12) < Period(2026, 1) < Period(2026, 2)
    assert max(Period(2026, 2), Period(2025, 12)) == Period(2026, 2)


def test_range_includes_both_ends() -> None:
    months = [str(p) for p in Period.range(Period(2025, 11), Period(2026, 2))]
    assert months == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert list(Period.range(Period(2026, 2), Period(2026, 2))) == [Period(2026, 2)]
    assert list(Period.range(Period(2026, 3), Period(2026, 2))) == []
    # The last month of the range has no successor; it is still included.
    last = Period(MAX_YEAR, 12)
    assert list(Period.range(last, last)) == [last]


def test_days_know_month_lengths() -> None:
    feb = Period(2024, 2).days()
    assert (feb[0], feb[-1], len(feb)) == (date(2024, 2, 1), date(2024, 2, 29), 29)
    assert len(Period(2025, 2).days()) == 28
    dec = Period(2025, 12).days()
    assert (dec[-1], len(dec)) == (date(2025, 12, 31), 31)


def test_bounds_in_utc() -> None:
    start, end = Period(2025, 12).bounds(UTC)
    assert start == datetime(2025, 12, 1, tzinfo=UTC)
    assert end == datetime(2026, 1, 1, tzinfo=UTC)


def test_bounds_in_shanghai_are_local_midnights() -> None:
    start, end = Period(2026, 10).bounds(SHANGHAI)
    assert start.utcoffset() == timedelta(hours=8)
    assert start == datetime(2026, 9, 30, 16, tzinfo=UTC)
    assert end == datetime(2026, 10, 31, 16, tzinfo=UTC)


def test_bounds_across_a_daylight_saving_change() -> None:
    # Europe/London moves from GMT to BST on 2026-03-29: March is an hour short.
    start, end = Period(2026, 3).bounds(LONDON)
    assert start == datetime(2026, 3, 1, tzinfo=UTC)
    assert end == datetime(2026, 3, 31, 23, tzinfo=UTC)
    # (Subtracting two datetimes of one zone gives wall-clock time; elapsed time is in UTC.)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(days=31, hours=-1)
    # ... and October an hour long (back to GMT on 2026-10-25).
    start, end = Period(2026, 10).bounds(LONDON)
    assert start == datetime(2026, 9, 30, 23, tzinfo=UTC)
    assert end == datetime(2026, 11, 1, tzinfo=UTC)


def test_bounds_of_the_last_month() -> None:
    _, end = Period(MAX_YEAR, 12).bounds(UTC)
    assert end == datetime(MAX_YEAR + 1, 1, 1, tzinfo=UTC)


def test_of_at_the_midnight_boundary() -> None:
    # 2026-10-31 16:00 UTC is midnight of 1 November in Shanghai.
    before = datetime(2026, 10, 31, 15, 59, 59, 999999, tzinfo=UTC)
    at = datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert Period.of(before, SHANGHAI) == Period(2026, 10)
    assert Period.of(at, SHANGHAI) == Period(2026, 11)
    assert Period.of(at, UTC) == Period(2026, 10)
    # New Year's Eve in London (GMT) and UTC agree.
    assert Period.of(datetime(2026, 1, 1, tzinfo=UTC), LONDON) == Period(2026, 1)
    assert Period.of(datetime(2025, 12, 31, 23, 59, tzinfo=UTC), LONDON) == Period(2025, 12)


def test_of_agrees_with_bounds() -> None:
    period = Period(2026, 3)
    start, end = period.bounds(LONDON)
    assert Period.of(start, LONDON) == period
    assert Period.of(end - timedelta(microseconds=1), LONDON) == period
    assert Period.of(end, LONDON) == period.next()


def test_of_day() -> None:
    assert Period.of_day(date(2026, 12, 31)) == Period(2026, 12)
