"""`GET` and `PUT /api/calls/{call_id}/transcript`: a call's transcript as DESIGN.md's JSON.

PUT stores a reviewer's correction (reviewers, managers and admins): the same domain
function as `qm transcript correct`, so it is redacted before it is stored, the engine's
accuracy is measured against it and the call's key points are checked again.
"""

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, put
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import Body, FromPath
from sqlmodel import Session

from qm.auth import requires_role
from qm.domain.calls.visibility import visible_call
from qm.domain.corrections import store_correction
from qm.domain.stored_transcripts import current_transcript, transcript_doc
from qm.errors import NotFound, ValidationFailed
from qm.i18n import gettext as _
from qm.models import Role, User
from qm.web.rechecks import recheck_after_response
from transcripts.errors import TranscriptFormatError
from transcripts.format import parse_transcript, transcript_to_dict

BODY = "request body"  # the "file" a ValidationFailed about the body names


def _stored_json(db: Session, call_id: str) -> dict[str, Any]:
    transcript = current_transcript(db, call_id)
    if transcript is None:
        raise NotFound(_("call %(call_id)s has no transcript yet", call_id=repr(call_id)))
    body = transcript_to_dict(transcript_doc(db, transcript))
    body["kind"] = transcript.kind
    body["source"] = transcript.source
    return body


class TranscriptApiController(Controller):
    """A call's transcript, read by whoever may see the call and corrected by reviewers."""

    path = "/api/calls/{call_id:str}/transcript"

    @get("/", sync_to_thread=True)
    def get_transcript(
        self,
        call_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> dict[str, Any]:
        """The call's current transcript (the reviewer's correction when there is one),
        with its `kind` (original or corrected) and `source`."""
        call = visible_call(db, call_id, request.user)
        return _stored_json(db, call.id)

    @put(
        "/",
        sync_to_thread=True,
        guards=[requires_role(Role.REVIEWER, Role.MANAGER, Role.ADMIN)],
    )
    def put_transcript(
        self,
        call_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: Annotated[
            dict[str, Any],
            Body(description="The corrected transcript in DESIGN.md's transcript JSON."),
        ],
    ) -> Response[dict[str, Any]]:
        """Store a corrected transcript (redacted first) and answer with what was stored;
        the call's key points and metrics are checked again in the background."""
        call = visible_call(db, call_id, request.user)
        try:
            doc = parse_transcript(data, source=BODY)
        except TranscriptFormatError as exc:
            raise ValidationFailed(BODY, None, exc.field, exc.message) from None
        store_correction(db, call.id, doc, reviewer=request.user.username, source="api")
        db.flush()
        return Response(
            _stored_json(db, call.id),
            background=recheck_after_response(request.app.state, call_ids=[call.id]),
        )
