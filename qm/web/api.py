"""The JSON API over calls: `GET /api/calls` (filtered, paged) and `GET /api/calls/{id}`.

Times are ISO-8601 in UTC; shares (compliance, key-point scores) are in [0, 1]. The list
takes the same query parameters as the call-list page (see `qm.web.call_query`).
"""

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter, QueryParameter
from sqlmodel import Session

from qm.domain.calls import detail, listing
from qm.domain.calls.search import SearchHit
from qm.models import User
from qm.settings import Settings
from qm.web.call_query import parse_call_query, refuse_repeats


def call_row_json(row: listing.CallRow) -> dict[str, Any]:
    """One call of the list as JSON."""
    return {
        "call_id": row.call_id,
        "started_at": row.started_at.isoformat(),
        "agent": {"id": row.agent_id, "name": row.agent_name},
        "customer": (
            {"id": row.customer_id, "name": row.customer_name} if row.customer_id else None
        ),
        "queue": row.queue,
        "reason": row.reason,
        "handle_seconds": row.handle_seconds,
        "transfers": row.transfers,
        "compliance": row.compliance,
        "critical_failed": row.critical_failed,
        "status": row.status.value,
        # The transcript line that `q` matched (the first one), or null.
        "match": search_hit_json(row.match) if row.match else None,
    }


def search_hit_json(hit: SearchHit) -> dict[str, Any]:
    """A matched transcript line: its segment, start and text cut around the match."""
    return {
        "segment": hit.anchor,
        "start": hit.start,
        "before": hit.before,
        "text": hit.text,
        "after": hit.after,
    }


def _result_json(view: detail.ResultView) -> dict[str, Any]:
    r = view.result
    return {
        "item_id": r.item_id,
        "label": r.label,
        "outcome": view.outcome,
        "hit": r.hit,
        "uncertain": r.uncertain,
        "required": r.required,
        "critical": r.critical,
        "weight": r.weight,
        "start": r.start,
        "end": r.end,
        "speaker": r.speaker,
        "evidence": r.evidence,
        "segment": view.anchor,
        "score": r.score,
        "method": r.method,
        "note": r.note,
    }


def call_detail_json(d: detail.CallDetail) -> dict[str, Any]:
    """Everything the call page shows, as JSON."""
    c, m = d.call, d.metrics
    return {
        "call_id": c.id,
        "started_at": c.started_at.isoformat(),
        "agent": {"id": c.agent_id, "name": d.agent.name if d.agent else c.agent_id},
        "customer": (
            {"id": c.customer_id, "name": d.customer.name if d.customer else c.customer_id}
            if c.customer_id
            else None
        ),
        "queue": c.queue,
        "reason": c.reason,
        "talk_seconds": c.talk_seconds,
        "hold_seconds": c.hold_seconds,
        "wrap_seconds": c.wrap_seconds,
        "transfers": c.transfers,
        "resolved": c.resolved,
        "status": d.status.value,
        # Which script version produced the key-point results (null until checked).
        "checked_with": (
            {
                "script_key": d.checked_with.script_key,
                "script_version": d.checked_with.script_version,
                "checked_at": d.checked_with.checked_at.isoformat()
                if d.checked_with.checked_at
                else None,
                "recheck_pending": d.checked_with.pending,
            }
            if d.checked_with
            else None
        ),
        "metrics": {
            "handle_seconds": d.handle_seconds,
            "transferred": m.transferred if m else None,
            "compliance": m.compliance if m else None,
            "critical_failed": m.critical_failed if m else None,
            "uncertain_items": m.uncertain_items if m else None,
            "courtesy": m.courtesy if m else None,
        },
        "transcript": (
            {
                "kind": d.transcript.kind,
                "language": d.transcript.language,
                "duration": d.transcript.duration,
                "source": d.transcript.source,
                "segments": [
                    {
                        "id": s.anchor,
                        "speaker": s.speaker,
                        "start": s.start,
                        "end": s.end,
                        "text": s.text,
                    }
                    for s in d.segments
                ],
            }
            if d.transcript
            else None
        ),
        "key_points": [_result_json(v) for v in d.key_points],
        "forbidden": [_result_json(v) for v in d.forbidden],
        "stages": [
            {
                "stage": s.stage,
                "status": s.status,
                "detail": s.detail,
                "attempts": s.attempts,
                "updated_at": s.updated_at.isoformat() if s.updated_at else None,
            }
            for s in d.stages
        ],
    }


# The list's query parameters, documented in the OpenAPI schema. They are declared as
# text on purpose: `parse_call_query` checks every value and answers a 422 problem naming
# the parameter, the same way the call-list page does.
Agent = Annotated[str | None, Parameter(description="Agent id.")]
QueueId = Annotated[str | None, Parameter(description="Queue id.")]
Reason = Annotated[str | None, Parameter(description="Call reason (exact).")]
From = Annotated[
    str | None,
    QueryParameter(name="from", description="First day, YYYY-MM-DD in the site's time zone."),
]
To = Annotated[
    str | None,
    QueryParameter(name="to", description="Last day, YYYY-MM-DD in the site's time zone."),
]
Status = Annotated[
    str | None,
    QueryParameter(name="status", description="Pipeline status: pending, done or failed."),
]
ComplianceBelow = Annotated[
    str | None, Parameter(description="Compliance under this percentage (0-100).")
]
Critical = Annotated[
    str | None, Parameter(description="yes: a critical key point was missed; no: none was.")
]
Search = Annotated[
    str | None,
    Parameter(
        description="The start of the call id or customer id, part of the customer name, "
        "or part of a line of the transcript (2+ characters); case ignored; <= 200 chars."
    ),
]
Missed = Annotated[
    str | None, Parameter(description="A key point's item id: calls on which it was missed.")
]
PageNumber = Annotated[str | None, Parameter(description="1-based page number (<= 100,000).")]
TeamId = Annotated[str | None, Parameter(description="Team id: calls of its agents.")]
Forbidden = Annotated[
    str | None, Parameter(description="A forbidden phrase's item id: calls on which it was said.")
]


class CallApiController(Controller):
    """Read-only JSON access to calls, with the same visibility rules as the pages."""

    path = "/api/calls"

    @get("/", sync_to_thread=True)
    def list_calls(
        self,
        db: NamedDependency[Session],
        request: Request[User, Any, State],
        settings: NamedDependency[Settings],
        agent: Agent = None,
        queue: QueueId = None,
        reason: Reason = None,
        date_from: From = None,
        date_to: To = None,
        pipeline_status: Status = None,
        compliance_below: ComplianceBelow = None,
        critical: Critical = None,
        q: Search = None,
        missed: Missed = None,
        team: TeamId = None,
        forbidden: Forbidden = None,
        page: PageNumber = None,
    ) -> dict[str, Any]:
        """Calls matching the filters, newest first, one page at a time."""
        given = {
            "agent": agent,
            "queue": queue,
            "reason": reason,
            "from": date_from,
            "to": date_to,
            "status": pipeline_status,
            "compliance_below": compliance_below,
            "critical": critical,
            "q": q,
            "missed": missed,
            "team": team,
            "forbidden": forbidden,
            "page": page,
        }
        refuse_repeats(request.query_params)
        query = parse_call_query({k: v for k, v in given.items() if v is not None})
        found = listing.list_calls(
            db,
            filters=query.filters,
            page=query.page,
            page_size=settings.page_size,
            viewer=request.user,
            tz=settings.tz,
        )
        return {
            "items": [call_row_json(r) for r in found.items],
            "total": found.total,
            # A search with many matches is not counted: "total" is then the number of
            # calls up to this page's end, and "has_next" says whether more follow.
            "total_is_lower_bound": found.total_is_lower_bound,
            "has_next": found.has_next,
            "page": found.page,
            "page_size": found.page_size,
            "pages": found.pages,
        }

    @get("/{call_id:str}", sync_to_thread=True)
    def get_call(
        self,
        call_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> dict[str, Any]:
        """One call with its transcript, key-point and forbidden-phrase results and stages."""
        return call_detail_json(detail.get_call_detail(db, call_id, request.user))
