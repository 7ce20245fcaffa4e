"""The limits every value from outside must respect: query parameters, imports, path ids.

One place holds them so that the call list, the importers and the API refuse the same
things for the same reasons. They are generous for real call-center data and tight enough
that no value can overflow a date, a float or a database column further on:

| what                         | limit                                                  |
|------------------------------|--------------------------------------------------------|
| talk, hold and wrap seconds  | each 0 .. 24 h (a longer single contact is a data error) |
| transfers in one contact     | 0 .. 50                                                |
| a queue's handle-time band   | 0 .. 72 h; its FCR window 1 .. 365 days                |
| a call's start               | 1970-01-01 .. now + 1 day (clock skew, time zones)     |
| a day in a query             | 1970-01-01 .. 2100-12-31                               |
| ids (call, agent, customer)  | stripped, Unicode NFC, no control characters, <= 64/128 |
| a page number                | 1 .. 100,000                                           |
| a stored row's integer id    | 1 .. 2**31 - 1 (PostgreSQL's integer key)              |
| free text in a query         | <= 200 characters, no control characters               |
"""

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta

from qm.i18n import gettext as _

MAX_PART_SECONDS = 24 * 60 * 60.0  # each of talk, hold and wrap
# Integer primary keys are 32-bit on PostgreSQL; a larger id names nothing.
MAX_ROW_ID = 2**31 - 1
MAX_TRANSFERS = 50
# A queue's handle-time band: talk + hold + wrap, each at most MAX_PART_SECONDS.
MAX_AHT_SECONDS = 3 * MAX_PART_SECONDS
MAX_FCR_WINDOW_DAYS = 365
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(2100, 12, 31)
# How far in the future a call may start: a day covers clock skew and any time zone.
FUTURE_SLACK = timedelta(days=1)
MAX_CALL_ID = 128  # the call and customer id columns
MAX_AGENT_ID = 64  # the agent id column
MAX_QUEUE_ID = 100  # the queue id column
MAX_PAGE = 100_000
MAX_QUERY_TEXT = 200
# The earliest start a call may have (the Unix epoch, in UTC).
EARLIEST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
# Unicode's control characters (category Cc: C0, DEL and C1) and lone surrogates (Cs).
CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def latest_instant() -> datetime:
    """The latest start a call may have: now plus a day of slack."""
    return datetime.now(UTC) + FUTURE_SLACK


def control_character(value: str) -> str | None:
    """The first control character (or lone surrogate) in `value`, shown as U+XXXX, if any.

    Control characters (NUL, escape, line breaks in a one-line field, ...) have no place in
    an id or a filter; PostgreSQL refuses NUL outright and lone surrogates cannot be stored
    as UTF-8 at all.
    """
    found = CONTROL_CHARACTER.search(value)
    return None if found is None else f"U+{ord(found.group()):04X}"


def text_problem(value: str, max_length: int) -> str | None:
    """Why `value` is not acceptable one-line text of at most `max_length` characters."""
    if len(value) > max_length:
        return _("is longer than %(max)s characters", max=max_length)
    bad = control_character(value)
    if bad is not None:
        return _("contains a control character (%(bad)s)", bad=bad)
    return None


def normalize(value: str) -> str:
    """`value` in Unicode NFC and without surrounding spaces, so that the same id typed on
    two systems (composed or decomposed accents, stray spaces) is one id here."""
    value = value.strip()
    # ASCII text is always in NFC; most ids are ASCII, and imports read millions of cells.
    return value if value.isascii() else unicodedata.normalize("NFC", value).strip()
