"""Transcript correction in the browser: `GET`/`POST /calls/{call_id}/transcript/edit`.

The page lists every segment of the call's current transcript with its time, a speaker
select (agent or customer) and its text. Saving stores a correction through the same
door as `qm transcript correct` and `PUT /api/calls/{call_id}/transcript`
(`store_correction`: redacted before storage, the engine's WER measured against it, the
call's key points and metrics reset), then hands the call to the re-check worker and
redirects to the call page, which shows the WER just recorded.

A correction fixes words and speakers only: the segments and their times are the
recording's, so a form with other times, more segments or a segment missing is refused,
as is one made from a transcript that has been replaced since the page was opened.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect, Template
from sqlmodel import Session

from qm.auth import requires_role
from qm.domain.calls.visibility import visible_call
from qm.domain.corrections import store_correction
from qm.domain.stored_transcripts import current_transcript, transcript_segments
from qm.errors import Conflict, NotFound, ValidationFailed, http_status
from qm.i18n import N_, gettext
from qm.models import Call, Role, Segment, Transcript, User
from qm.web.rechecks import recheck_after_response
from transcripts.errors import TranscriptFormatError
from transcripts.format import Transcript as TranscriptDoc
from transcripts.format import parse_transcript

# The "file" a refusal names: the form the reviewer sent.
FORM = "correction form"
# The speakers a reviewer may choose: a correction says who spoke ("unknown" is what an
# engine answers when it cannot tell).
SPEAKERS = ("agent", "customer")
NO_TRANSCRIPT = N_("call {call_id!r} has no transcript to correct")
STALE = N_(
    "the transcript was replaced since this page was opened (another correction or a "
    "new transcription); reload the page and correct the current one"
)
TIMES_CHANGED = N_("segment times are the recording's and cannot be changed")
TOO_MANY = N_("the transcript has {count} segment(s); a correction cannot add segments")
MISSING = N_("is missing: every segment of the transcript must be sent")
EMPTY = N_("is empty: every segment needs text")
BAD_SPEAKER = N_("must be agent or customer, got {value!r}")
SEGMENT_FIELDS = ("speaker", "text", "start", "end")
BAD_TRANSCRIPT_ID = N_("must be the id of the transcript being corrected")


@dataclass(frozen=True, slots=True)
class EditRow:
    """One segment as the form shows it: stored times, speaker and text as last entered."""

    position: int
    start: float
    end: float
    speaker: str
    text: str


def _field(name: str, position: int) -> str:
    return f"{name}-{position}"


def _rows(segments: Sequence[Segment], form: Mapping[str, str] | None = None) -> list[EditRow]:
    """The form's rows: the stored segments, with what the reviewer sent when re-shown."""
    sent = form or {}
    return [
        EditRow(
            s.position,
            s.start,
            s.end,
            sent.get(_field("speaker", s.position), s.speaker),
            sent.get(_field("text", s.position), s.text),
        )
        for s in segments
    ]


def _beyond(name: str, count: int) -> bool:
    """True for a segment field (`text-7`) of a segment past the transcript's `count`."""
    kind, dash, index = name.partition("-")
    if kind not in SEGMENT_FIELDS or not dash or not index.isdigit():
        return False
    # An index longer than any the transcript has is not worth converting.
    return len(index) > len(str(count)) or int(index) >= count


def _same_time(sent: str | None, stored: float) -> bool:
    try:
        return sent is not None and float(sent) == stored
    except ValueError:
        return False


def correction_from_form(
    form: Mapping[str, str], transcript: Transcript, segments: Sequence[Segment]
) -> TranscriptDoc:
    """The corrected transcript the form describes, checked against the stored one.

    Segments keep their stored times; a segment whose text is unchanged keeps its word
    timings, an edited one loses them (the words no longer match the times).

    Raises:
        Conflict: the form was made from a transcript that is no longer the current one.
        ValidationFailed: naming the field: a time changed, a segment added or missing,
            empty text, a speaker other than agent or customer, or text the transcript
            format refuses (too long, control characters).
    """
    if form.get("transcript_id") != str(transcript.id):
        if not form.get("transcript_id", "").isdigit():
            raise ValidationFailed(FORM, None, "transcript_id", gettext(BAD_TRANSCRIPT_ID))
        raise Conflict(gettext(STALE))
    for name in form:
        if _beyond(name, len(segments)):
            raise ValidationFailed(FORM, None, name, gettext(TOO_MANY).format(count=len(segments)))
    raw: list[dict[str, Any]] = []
    for seg in segments:
        fields = {name: _field(name, seg.position) for name in SEGMENT_FIELDS}
        for key in fields.values():
            if key not in form:
                raise ValidationFailed(FORM, None, key, gettext(MISSING))
        for name, stored in (("start", seg.start), ("end", seg.end)):
            if not _same_time(form[fields[name]], stored):
                raise ValidationFailed(FORM, None, fields[name], gettext(TIMES_CHANGED))
        speaker = form[fields["speaker"]]
        if speaker not in SPEAKERS:
            raise ValidationFailed(
                FORM, None, fields["speaker"], gettext(BAD_SPEAKER).format(value=speaker[:40])
            )
        # A textarea sends line breaks as CRLF; an utterance is one line of words.
        text = " ".join(form[fields["text"]].split())
        if not text:
            raise ValidationFailed(FORM, None, fields["text"], gettext(EMPTY))
        entry: dict[str, Any] = {
            "speaker": speaker,
            "start": seg.start,
            "end": seg.end,
            "text": text,
        }
        if text == seg.text and seg.words is not None:
            entry["words"] = seg.words
        raw.append(entry)
    document = {
        "call_id": transcript.call_id,
        "language": transcript.language,
        "duration": transcript.duration,
        "segments": raw,
    }
    try:
        # The transcript format's own checks (text length, control characters).
        parsed = parse_transcript(document, source=FORM)
    except TranscriptFormatError as exc:
        # "segments[3].text" is the form's "text-3".
        position, _, name = exc.field.removeprefix("segments[").partition("].")
        field = _field(name, int(position)) if position.isdigit() and name else exc.field
        raise ValidationFailed(FORM, None, field, exc.message) from None
    return parsed


def _call_url(call: Call) -> str:
    return f"/calls/{quote(call.id, safe='')}"


def _page(
    call: Call,
    transcript: Transcript,
    rows: list[EditRow],
    *,
    error: str | None = None,
    status: int = 200,
) -> Template:
    context = {
        "call": call,
        "call_url": _call_url(call),
        "transcript": transcript,
        "rows": rows,
        "speakers": SPEAKERS,
        "error": error,
    }
    return Template(template_name="corrections/edit.html", context=context, status_code=status)


def _current(session: Session, call: Call) -> tuple[Transcript, list[Segment]]:
    transcript = current_transcript(session, call.id)
    if transcript is None:
        raise NotFound(gettext(NO_TRANSCRIPT).format(call_id=call.id))
    return transcript, transcript_segments(session, transcript.id)


class CorrectionController(Controller):
    """A reviewer corrects a call's transcript in the browser."""

    path = "/calls/{call_id:str}/transcript/edit"
    guards = [requires_role(Role.REVIEWER, Role.MANAGER, Role.ADMIN)]  # noqa: RUF012
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def edit(
        self,
        call_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> Template:
        """The correction form: every segment with its time, speaker and text."""
        call = visible_call(db, call_id, request.user)
        transcript, segments = _current(db, call)
        return _page(call, transcript, _rows(segments))

    @post("/", sync_to_thread=True)
    def save(
        self,
        call_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: URLEncodedBody[dict[str, str]],
    ) -> Redirect | Template:
        """Store the correction and re-check the call; a refused form is shown again with
        the reason and what was typed, and nothing is stored."""
        # A POST's session holds the write lock from its start (qm.app): this reads, then
        # writes the transcript and the audit log, while the re-check worker may be
        # writing results of this very call.
        call = visible_call(db, call_id, request.user)
        transcript, segments = _current(db, call)
        try:
            doc = correction_from_form(data, transcript, segments)
            store_correction(db, call.id, doc, reviewer=request.user.username, source="web form")
        except (Conflict, ValidationFailed) as exc:
            # Both are raised before anything is written.
            status = http_status(exc)[0]
            rows = _rows(segments, None if isinstance(exc, Conflict) else data)
            return _page(call, transcript, rows, error=str(exc), status=status)
        url = _call_url(call)
        return Redirect(
            url,
            status_code=303,
            background=recheck_after_response(request.app.state, call_ids=[call_id]),
        )
