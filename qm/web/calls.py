"""Call pages: the filtered call list and the call page (transcript, key points, metrics)."""

from collections import defaultdict
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter, URLEncodedBody
from litestar.response import Redirect, Template
from sqlmodel import Session

from qm.domain.bounds import MAX_ROW_ID
from qm.domain.calls import listing
from qm.domain.calls.audio import call_recording, has_recording
from qm.domain.calls.detail import get_call_detail
from qm.domain.calls.status import PipelineStatus
from qm.domain.calls.timeline import build_timeline
from qm.domain.overrides import (
    OverrideView,
    may_decide,
    override_history,
    override_key_point,
)
from qm.errors import ValidationFailed
from qm.i18n import N_
from qm.i18n import gettext as _
from qm.models import User
from qm.settings import Settings
from qm.web.byte_ranges import file_response
from qm.web.call_query import parse_call_query, refuse_repeats
from qm.web.evaluations_pages import call_evaluations

# Translated where they are shown (`_(label)` in the call page).
COURTESY_LABELS = {
    "polite_count": N_("Polite forms"),
    "empathy_count": N_("Empathy phrases"),
    "forbidden_count": N_("Forbidden phrases"),
    "interruptions": N_("Interruptions"),
    "long_silences": N_("Long silences"),
    "longest_silence": N_("Longest silence (s)"),
    "agent_utterances": N_("Agent turns"),
    "customer_name_used": N_("Used the customer's name"),
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


EvaluationQuery = Annotated[
    int | None,
    Parameter(ge=1, le=MAX_ROW_ID, description="The evaluation whose form to open."),
]


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
        evaluation: EvaluationQuery = None,
    ) -> Template:
        """The call page: manifest fields, metrics, the player and timeline, the transcript
        with key-point evidence and the reviewers' decisions, the evaluation form, stages."""
        viewer = request.user
        detail = get_call_detail(db, call_id, viewer)
        call = detail.call
        courtesy = detail.metrics.courtesy if detail.metrics else None
        evaluations = call_evaluations(db, call, viewer, evaluation)
        # A calibration evaluation is scored blind: reviewers' decisions stay hidden.
        blind = evaluations.panel is not None and evaluations.panel.blind
        # Every decision, newest first: the first per key point counts, the rest is history.
        overrides: dict[str, OverrideView] = {}
        history: dict[str, list[OverrideView]] = defaultdict(list)
        for view in [] if blind else override_history(db, call.id):
            if view.item_id in overrides:
                history[view.item_id].append(view)
            else:
                overrides[view.item_id] = view
        duration = detail.transcript.duration if detail.transcript else None
        context = {
            "d": detail,
            "courtesy": courtesy_rows(courtesy),
            "timeline": build_timeline(detail.segments, duration),
            "has_audio": call.purged_at is None and has_recording(call.audio_path),
            "overrides": overrides,
            "override_history": history,
            "may_decide": not blind and may_decide(db, viewer, call.agent_id),
            "ev": evaluations,
        }
        return Template(template_name="calls/detail.html", context=context)

    @get("/{call_id:str}/audio", sync_to_thread=True)
    def get_audio(
        self,
        call_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> Response[Any]:
        """The call's recording, whole or the byte range asked for (so the player can seek)."""
        recording = call_recording(db, call_id, request.user)
        return file_response(
            recording.path,
            size=recording.size,
            media_type=recording.media_type,
            range_header=request.headers.get("range"),
            # Personal data: kept by this browser only, checked again on every use.
            headers={"Cache-Control": "private, no-cache", "Content-Disposition": "inline"},
        )

    @post("/{call_id:str}/keypoints/{item_id:str}/override", sync_to_thread=True, status_code=303)
    def override(
        self,
        call_id: FromPath[str],
        item_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: URLEncodedBody[dict[str, str]],
    ) -> Redirect:
        """A reviewer's decision on one key point, from the form beside it."""
        where = f"key point {item_id} of call {call_id}"
        hit = {"true": True, "false": False}.get(data.get("hit", ""))
        if hit is None:
            raise ValidationFailed(where, None, "hit", _("choose hit or miss"))
        view = override_key_point(
            db,
            call_id=call_id,
            item_id=item_id,
            hit=hit,
            start=_seconds(data.get("start"), where, "start"),
            end=_seconds(data.get("end"), where, "end"),
            comment=data.get("comment", ""),
            actor=request.user,
        )
        anchor = quote(f"kp-key_point-{view.item_id}", safe="")
        # Back to the page as it was: with the evaluation form open, if it was.
        opened = data.get("evaluation", "")
        query = f"?evaluation={opened}" if opened.isascii() and opened.isdigit() else ""
        return Redirect(
            f"/calls/{quote(view.call_id, safe='')}{query[:20]}#{anchor}", status_code=303
        )


def _seconds(raw: str | None, where: str, field: str) -> float | None:
    """A posted time in seconds; None when left empty."""
    if raw is None or raw.strip() == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise ValidationFailed(where, None, field, _("expected a number of seconds")) from None
