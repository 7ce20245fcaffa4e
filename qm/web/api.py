"""The JSON API over calls: `GET /api/calls` (filtered, paged) and `GET /api/calls/{id}`.

Times are ISO-8601 in UTC; shares (compliance, key-point scores) are in [0, 1]. The list
takes the same query parameters as the call-list page (see `qm.web.call_query`).
"""

from typing import Any

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlmodel import Session

from qm.domain import calls
from qm.models import User
from qm.settings import Settings
from qm.web.call_query import parse_call_query


def call_row_json(row: calls.CallRow) -> dict[str, Any]:
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
    }


def _result_json(view: calls.ResultView) -> dict[str, Any]:
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


def call_detail_json(d: calls.CallDetail) -> dict[str, Any]:
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


class CallApiController(Controller):
    """Read-only JSON access to calls, with the same visibility rules as the pages."""

    path = "/api/calls"

    @get("/", sync_to_thread=True)
    def list_calls(
        self,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        """Calls matching the filters, newest first, one page at a time."""
        query = parse_call_query(request.query_params)
        page = calls.list_calls(
            db,
            filters=query.filters,
            page=query.page,
            page_size=settings.page_size,
            viewer=request.user,
            tz=settings.tz,
        )
        return {
            "items": [call_row_json(r) for r in page.items],
            "total": page.total,
            "page": page.page,
            "page_size": page.page_size,
            "pages": page.pages,
        }

    @get("/{call_id:str}", sync_to_thread=True)
    def get_call(
        self,
        call_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> dict[str, Any]:
        """One call with its transcript, key-point and forbidden-phrase results and stages."""
        return call_detail_json(calls.get_call_detail(db, call_id, request.user))
