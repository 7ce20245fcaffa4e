"""Call pages: the filtered call list and the call page (transcript, key points, metrics)."""

from typing import Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlmodel import Session

from qm.domain.calls import listing
from qm.domain.calls.detail import get_call_detail
from qm.domain.calls.status import PipelineStatus
from qm.models import User
from qm.settings import Settings
from qm.web.call_query import parse_call_query, refuse_repeats

COURTESY_LABELS = {
    "polite_count": "Polite forms",
    "empathy_count": "Empathy phrases",
    "forbidden_count": "Forbidden phrases",
    "interruptions": "Interruptions",
    "long_silences": "Long silences",
    "longest_silence": "Longest silence (s)",
    "agent_utterances": "Agent turns",
    "customer_name_used": "Used the customer's name",
}


def courtesy_rows(courtesy: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """The courtesy sub-measures worth a table row: labelled, scalar ones first.

    Lists and nested details (e.g. the phrases found) are left to the JSON API.
    """
    if not courtesy:
        return []
    scalar = {k: v for k, v in courtesy.items() if isinstance(v, bool | int | float | str)}
    known = [(label, scalar[k]) for k, label in COURTESY_LABELS.items() if k in scalar]
    other = [
        (k.replace("_", " ").capitalize(), v)
        for k, v in sorted(scalar.items())
        if k not in COURTESY_LABELS
    ]
    return known + other


class CallController(Controller):
    """The reviewer's view of calls."""

    path = "/calls"
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def list_calls(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
    ) -> Template:
        """The call list with its filter form, counts and paging links."""
        refuse_repeats(request.query_params)
        query = parse_call_query(request.query_params)
        viewer = request.user
        page = listing.list_calls(
            db,
            filters=query.filters,
            page=query.page,
            page_size=settings.page_size,
            viewer=viewer,
            tz=settings.tz,
        )
        context = {
            "page": page,
            "query": query,
            "options": listing.filter_options(db, viewer),
            "statuses": [s.value for s in PipelineStatus],
            "previous_url": query.url("/calls", page.page - 1) if page.has_previous else None,
            "next_url": query.url("/calls", page.page + 1) if page.has_next else None,
        }
        return Template(template_name="calls/list.html", context=context)

    @get("/{call_id:str}", sync_to_thread=True)
    def get_call(
        self,
        call_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> Template:
        """The call page: manifest fields, metrics, transcript with key-point evidence, stages."""
        detail = get_call_detail(db, call_id, request.user)
        courtesy = detail.metrics.courtesy if detail.metrics else None
        context = {"d": detail, "courtesy": courtesy_rows(courtesy)}
        return Template(template_name="calls/detail.html", context=context)
