"""The call list's query string: parsed into `CallFilters`, and rebuilt for paging links.

The HTML filter form and `GET /api/calls` take the same parameters:

| parameter          | meaning                                                   |
|--------------------|-----------------------------------------------------------|
| `agent`            | agent id                                                  |
| `queue`, `reason`  | exact queue id / call reason                              |
| `from`, `to`       | first and last day (YYYY-MM-DD) in the site's time zone   |
| `status`           | pipeline status: pending, done or failed                  |
| `compliance_below` | compliance under this percentage (0-100)                  |
| `critical`         | `yes`: a critical key point was missed; `no`: none was    |
| `q`                | the start of the call id or customer id, part of the      |
|                    | customer name, or part of a line of the transcript (2+    |
|                    | characters; see `qm.domain.calls.search`)                 |
| `missed`           | a key point's item id: calls on which it was missed       |
| `team`             | team id: calls of the agents in that team                 |
| `forbidden`        | a forbidden phrase's item id: calls on which it was said  |
| `page`             | 1-based page number, at most 100,000                      |

Empty values mean "any", as an untouched form field submits them. Every value is checked
against `qm.domain.bounds` (text at most 200 characters without control characters, days
from 1970 to 2100) and refused with a ValidationFailed naming the parameter, so that no
input reaches the database that it could choke on.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol
from urllib.parse import urlencode

from qm.domain.bounds import (
    EARLIEST_DAY,
    LATEST_DAY,
    MAX_AGENT_ID,
    MAX_PAGE,
    MAX_QUERY_TEXT,
    MAX_QUEUE_ID,
    normalize,
    text_problem,
)
from qm.domain.calls.listing import CallFilters
from qm.domain.calls.status import PipelineStatus
from qm.errors import ValidationFailed
from qm.i18n import gettext as _


class MultiMapping(Protocol):
    """A query string's parameters, where a name may occur several times."""

    def getall(self, key: str, default: list[str]) -> list[str]:
        """Every value given for `key`, in order; `default` when there is none."""
        ...


FILTER_KEYS = (
    "agent",
    "queue",
    "reason",
    "from",
    "to",
    "status",
    "compliance_below",
    "critical",
    "q",
    "missed",
    "team",
    "forbidden",
)
SOURCE = "query"  # the "file" named in a ValidationFailed about a query parameter
MAX_ITEM_ID = 100  # the key-point item id column (`missed`, `forbidden`)
MAX_TEAM_ID = 64  # the team id column
# The longest value of each parameter: the column widths for ids, else MAX_QUERY_TEXT.
MAX_LENGTH = {
    "agent": MAX_AGENT_ID,
    "queue": MAX_QUEUE_ID,
    "missed": MAX_ITEM_ID,
    "team": MAX_TEAM_ID,
    "forbidden": MAX_ITEM_ID,
    "page": 20,
}


@dataclass(frozen=True, slots=True)
class CallQuery:
    """A parsed call-list query: the filters, the page, and the raw values to echo back."""

    filters: CallFilters
    page: int
    values: dict[str, str]

    def url(self, path: str, page: int) -> str:
        """`path` with the same filters and another page number."""
        return f"{path}?{urlencode({**self.values, 'page': str(page)})}"


def _value(params: Mapping[str, str], name: str) -> str:
    """The parameter, normalised and checked as one-line text; "" when absent or blank."""
    raw = normalize(params.get(name) or "")
    problem = text_problem(raw, MAX_LENGTH.get(name, MAX_QUERY_TEXT))
    if problem is not None:
        raise ValidationFailed(SOURCE, None, name, problem)
    return raw


def _date(name: str, raw: str) -> date:
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            SOURCE, None, name, _("%(raw)s is not a date (YYYY-MM-DD)", raw=repr(raw))
        ) from None
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValidationFailed(
            SOURCE,
            None,
            name,
            _(
                "must be a day from %(earliest_day)s to %(latest_day)s",
                earliest_day=EARLIEST_DAY,
                latest_day=LATEST_DAY,
            ),
        )
    return day


def _percent(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed(
            SOURCE, None, name, _("%(raw)s is not a number", raw=repr(raw))
        ) from None
    if not 0 <= value <= 100:
        raise ValidationFailed(SOURCE, None, name, _("must be a percentage from 0 to 100"))
    return value / 100


def _page(raw: str) -> int:
    try:
        page = int(raw)
    except ValueError:
        raise ValidationFailed(
            SOURCE, None, "page", _("%(raw)s is not a page number", raw=repr(raw))
        ) from None
    if page < 1:
        raise ValidationFailed(SOURCE, None, "page", _("pages are numbered from 1"))
    if page > MAX_PAGE:
        raise ValidationFailed(
            SOURCE, None, "page", _("must be %(max_page)s or less", max_page=format(MAX_PAGE, ","))
        )
    return page


def _critical(raw: str) -> bool:
    if raw not in ("yes", "no"):
        raise ValidationFailed(SOURCE, None, "critical", _("must be yes or no"))
    return raw == "yes"


def _status(raw: str) -> PipelineStatus:
    try:
        return PipelineStatus(raw)
    except ValueError:
        choices = ", ".join(s.value for s in PipelineStatus)
        raise ValidationFailed(
            SOURCE, None, "status", _("must be one of %(choices)s", choices=choices)
        ) from None


def refuse_repeats(query: MultiMapping) -> None:
    """Refuse a parameter given more than once (`?agent=a&agent=b`): which one should count
    would be a guess, and the page and the API would guess differently."""
    for name in (*FILTER_KEYS, "page"):
        if len(query.getall(name, [])) > 1:
            raise ValidationFailed(SOURCE, None, name, _("is given more than once; give it once"))


def parse_call_query(params: Mapping[str, str]) -> CallQuery:
    """Parse the call-list parameters; raises ValidationFailed naming a bad one."""
    values = {k: v for k in FILTER_KEYS if (v := _value(params, k))}
    filters = CallFilters(
        agent=values.get("agent"),
        queue=values.get("queue"),
        reason=values.get("reason"),
        date_from=_date("from", values["from"]) if "from" in values else None,
        date_to=_date("to", values["to"]) if "to" in values else None,
        status=_status(values["status"]) if "status" in values else None,
        compliance_below=(
            _percent("compliance_below", values["compliance_below"])
            if "compliance_below" in values
            else None
        ),
        critical_failed=_critical(values["critical"]) if "critical" in values else None,
        search=values.get("q"),
        missed=values.get("missed"),
        team=values.get("team"),
        forbidden=values.get("forbidden"),
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise ValidationFailed(SOURCE, None, "to", _("the last day comes before the first"))
    raw_page = _value(params, "page")
    page = _page(raw_page) if raw_page else 1
    return CallQuery(filters=filters, page=page, values=values)
