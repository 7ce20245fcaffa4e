"""Reviewers' decisions on a call's automatic key-point results: confirm, or say hit / miss.

A decision is stored as a new `KeyPointOverride` row with the machine's answer at the
time (`auto_hit`, None when it was uncertain), the evidence span the reviewer chose and
why; the newest row per call and key point counts and the older ones are its history.
Each decision also appends one audit event. The rows are kept apart from the results,
so when a re-check deletes and rewrites a call's `KeyPointResult` rows the reviewer's
decision is still there, and it is still shown.

Rules where DESIGN.md leaves room:
- Reviewers, admins and managers (a manager only for the agents of the teams they
  manage) decide; an agent never does. A call the actor may not see is NotFound.
- Only key points are decided here (forbidden phrases are not), and only those the call
  was checked for: an item the call has no result for is NotFound.
- A span is both ends or neither, with 0 <= start <= end <= the transcript's length;
  its text is copied from the stored transcript, which was redacted before it was stored.
- Saying the machine was wrong (its answer was certain and differs) needs a comment;
  confirming it, or deciding an uncertain point, does not.
- A decision answers the linked items of the decider's own draft evaluations of the call
  (a new version, the decision as the reason); a draft started later is prefilled from
  it (`qm.domain.evaluations.commands._prefill`).
- A decision that corrects the checker teaches it (`qm.domain.exemplars.learn`): the
  next calls checked with the script match against the line it was about.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from qm.domain.audit import record
from qm.domain.calls.visibility import visible_call
from qm.domain.evaluations.queries import managed_teams
from qm.domain.exemplars import learn
from qm.domain.stored_transcripts import current_transcript, transcript_segments
from qm.errors import Forbidden, NotFound, ValidationFailed
from qm.i18n import N_
from qm.i18n import gettext as _
from qm.models import (
    Agent,
    Evaluation,
    EvaluationForm,
    EvaluationKind,
    EvaluationState,
    KeyPointExemplar,
    KeyPointOverride,
    KeyPointResult,
    ResultKind,
    Role,
    Segment,
    User,
)

DECIDERS = (Role.ADMIN, Role.MANAGER, Role.REVIEWER)
MAX_COMMENT = 2000  # characters
MAX_EVIDENCE = 2000  # characters of transcript text copied as the evidence
# Times are rounded by engines and imports; a span this far past the end still fits.
SPAN_SLACK_SECONDS = 0.5

# Messages people read, in one place for the translation catalogs.
ONLY_REVIEWERS = N_("only reviewers, managers and admins can decide key points")
NO_SUCH_KEY_POINT = N_("call {call_id!r} has no key point {item_id!r}")
BOTH_ENDS = N_("give both start and end of the evidence span, or neither")
NOT_A_TIME = N_("expected a number of seconds from the start of the call")
SPAN_ORDER = N_("the span must not end before it starts")
SPAN_OUTSIDE = N_("the span must lie within the call (0 to {duration:.1f} s)")
NO_TRANSCRIPT = N_("the call has no transcript to take evidence from")
COMMENT_TOO_LONG = N_("at most %(max)s characters")
COMMENT_NEEDED = N_("say why the automatic answer is wrong")
NOT_A_BOOL = N_("expected true (hit) or false (miss)")
DECIDED = "key point {item} decided: {outcome}"
# Form item types a key point answers (yes or no), as scoring.forms.prefill_answers fills.
LINKED_TYPES = ("yes_no", "partial")


@dataclass(frozen=True, slots=True)
class OverrideView:
    """One reviewer decision on one key point, with the reviewer's name."""

    id: int
    call_id: str
    item_id: str
    hit: bool
    start: float | None
    end: float | None
    evidence: str
    comment: str
    auto_hit: bool | None
    reviewer_id: int
    reviewer: str
    created_at: datetime
    # What the decision taught the checker (`qm.domain.exemplars`): True a line that says
    # the key point, False a line that does not, None nothing.
    taught: bool | None = None

    @property
    def confirmed(self) -> bool:
        """True when the reviewer agreed with a certain automatic answer."""
        return self.auto_hit is not None and self.hit == self.auto_hit

    @property
    def outcome(self) -> str:
        """ "hit" or "miss", the reviewer's answer."""
        return "hit" if self.hit else "miss"


def _view(row: KeyPointOverride, reviewer: str, taught: bool | None = None) -> OverrideView:
    return OverrideView(
        id=row.id or 0,
        call_id=row.call_id,
        item_id=row.item_id,
        hit=row.hit,
        start=row.start,
        end=row.end,
        evidence=row.evidence,
        comment=row.comment,
        auto_hit=row.auto_hit,
        reviewer_id=row.reviewer_id,
        reviewer=reviewer,
        created_at=row.created_at,
        taught=taught,
    )


def _rows(session: Session, call_id: str, item_id: str | None = None) -> list[OverrideView]:
    """The call's decisions (of one item, when given), oldest first."""
    query = (
        select(KeyPointOverride, User.username, KeyPointExemplar.positive)
        .join(User, col(User.id) == col(KeyPointOverride.reviewer_id))
        .outerjoin(KeyPointExemplar, col(KeyPointExemplar.override_id) == col(KeyPointOverride.id))
        .where(col(KeyPointOverride.call_id) == call_id)
        .order_by(col(KeyPointOverride.id))
    )
    if item_id is not None:
        query = query.where(col(KeyPointOverride.item_id) == item_id)
    return [_view(*found) for found in session.exec(query).all()]


def current_overrides(session: Session, call_id: str) -> dict[str, OverrideView]:
    """The decision that counts for each decided key point of the call (the newest).

    The caller has checked that the call may be seen.
    """
    return {view.item_id: view for view in _rows(session, call_id)}


def override_history(
    session: Session, call_id: str, item_id: str | None = None
) -> list[OverrideView]:
    """Every decision on the call's key points (or on one of them), newest first."""
    return list(reversed(_rows(session, call_id, item_id)))


def may_decide(session: Session, actor: User, agent_id: str) -> bool:
    """Whether `actor` may decide key points of calls of agent `agent_id`."""
    if actor.role not in DECIDERS:
        return False
    if actor.role == Role.MANAGER:
        agent = session.get(Agent, agent_id)
        return agent is not None and agent.team_id in managed_teams(session, actor)
    return True


def _time(where: str, field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationFailed(where, None, field, _(NOT_A_TIME))
    return float(value)


def _span_text(segments: Sequence[Segment], start: float, end: float) -> str:
    """The text of the segments the span touches, in order (a point picks its segment)."""
    touched = [
        s.text
        for s in segments
        if (s.start < end and s.end > start) or (start == end and s.start <= start <= s.end)
    ]
    return " ".join(touched)[:MAX_EVIDENCE]


def _evidence(
    session: Session, call_id: str, where: str, start: object, end: object
) -> tuple[float | None, float | None, str]:
    """The checked span and its transcript text; (None, None, "") when no span is given."""
    if start is None and end is None:
        return None, None, ""
    if start is None or end is None:
        raise ValidationFailed(where, None, "start" if start is None else "end", _(BOTH_ENDS))
    first, last = _time(where, "start", start), _time(where, "end", end)
    if last < first:
        raise ValidationFailed(where, None, "end", _(SPAN_ORDER))
    transcript = current_transcript(session, call_id)
    segments = transcript_segments(session, transcript.id) if transcript else []
    if transcript is None or not segments:
        raise ValidationFailed(where, None, "start", _(NO_TRANSCRIPT))
    duration = max([transcript.duration or 0.0, *(s.end for s in segments)])
    if first < 0 or last > duration + SPAN_SLACK_SECONDS:
        field = "start" if first < 0 else "end"
        raise ValidationFailed(where, None, field, _(SPAN_OUTSIDE).format(duration=duration))
    return first, last, _span_text(segments, first, last)


def override_key_point(
    session: Session,
    *,
    call_id: str,
    item_id: str,
    hit: bool,
    start: float | None = None,
    end: float | None = None,
    comment: str,
    actor: User,
) -> OverrideView:
    """Record `actor`'s decision on one key point of a call (see the module's rules).

    Args:
        hit: the reviewer's answer: the agent did (True) or did not (False) say it.
        start, end: the evidence span the reviewer chose, in seconds (optional).
        comment: why; required when the answer contradicts a certain automatic one.

    Raises:
        NotFound: no such call, the actor may not see it, or it has no such key point.
        Forbidden: the actor is not a reviewer, admin or manager of the agent's team.
        ValidationFailed: naming the field (`hit`, `start`, `end` or `comment`).
    """
    call = visible_call(session, call_id, actor)
    if not may_decide(session, actor, call.agent_id):
        raise Forbidden(_(ONLY_REVIEWERS))
    result = session.exec(
        select(KeyPointResult).where(
            col(KeyPointResult.call_id) == call.id,
            col(KeyPointResult.kind) == ResultKind.KEY_POINT,
            col(KeyPointResult.item_id) == item_id,
        )
    ).first()
    if result is None:
        raise NotFound(_(NO_SUCH_KEY_POINT).format(call_id=call.id, item_id=item_id))
    where = f"key point {item_id} of call {call.id}"
    if not isinstance(hit, bool):
        raise ValidationFailed(where, None, "hit", _(NOT_A_BOOL))
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise ValidationFailed(where, None, "comment", _(COMMENT_TOO_LONG, max=MAX_COMMENT))
    text = comment.strip()
    auto_hit = None if result.uncertain else result.hit
    if auto_hit is not None and hit != auto_hit and not text:
        raise ValidationFailed(where, None, "comment", _(COMMENT_NEEDED))
    first, last, evidence = _evidence(session, call.id, where, start, end)
    previous = current_overrides(session, call.id).get(item_id)
    row = KeyPointOverride(
        call_id=call.id,
        item_id=item_id,
        hit=hit,
        start=first,
        end=last,
        evidence=evidence,
        comment=text,
        auto_hit=auto_hit,
        reviewer_id=actor.id or 0,
    )
    session.add(row)
    session.flush()
    learn(session, row, result)
    record(
        session,
        actor=actor.username,
        action="keypoint.override",
        entity="call",
        entity_id=call.id,
        detail={
            "item": item_id,
            "override": row.id,
            "auto_hit": auto_hit,
            "old": None if previous is None else {"hit": previous.hit, "by": previous.reviewer},
            "new": {"hit": hit, "start": first, "end": last},
            "comment": text,
        },
    )
    taught = session.exec(
        select(KeyPointExemplar.positive).where(col(KeyPointExemplar.override_id) == row.id)
    ).first()
    view = _view(row, actor.username, taught)
    _carry_into_drafts(session, view, actor)
    return view


def _carry_into_drafts(session: Session, view: OverrideView, actor: User) -> None:
    """Answer the linked items of the actor's own draft evaluations of the call as decided.

    A draft is prefilled when it starts; a decision taken afterwards, while the form is
    open beside the transcript, is the reviewer's newer answer and goes into it as a new
    version with the decision as the reason (the machine's `auto` stays as it was). Other
    reviewers' drafts and evaluations past draft are left alone.
    """
    # Imported here: the evaluation commands read decisions (`current_overrides`) when
    # they prefill a draft, so a module-level import would be circular.
    from qm.domain.evaluations import commands
    from qm.domain.evaluations.forms import parsed_form

    drafts = session.exec(
        select(Evaluation).where(
            col(Evaluation.call_id) == view.call_id,
            col(Evaluation.reviewer_id) == actor.id,
            col(Evaluation.kind) == EvaluationKind.STANDARD,
            col(Evaluation.state) == EvaluationState.DRAFT,
        )
    ).all()
    answer = "yes" if view.hit else "no"
    why = DECIDED.format(item=view.item_id, outcome=view.outcome)
    if view.comment:
        why = f"{why}: {view.comment}"
    for draft in drafts:
        form_row = session.get(EvaluationForm, draft.form_id)
        if form_row is None:  # the foreign key makes this impossible
            continue
        changes = {
            item.id: {"answer": answer}
            for item in parsed_form(form_row).items().values()
            if item.key_point == view.item_id
            and item.type in LINKED_TYPES
            and draft.answers.get(item.id, {}).get("answer") != answer
        }
        if changes:
            commands.save_answers(
                session,
                draft.id or 0,
                actor=actor,
                version=draft.version,
                answers=changes,
                why=why[: commands.MAX_COMMENT],
            )
