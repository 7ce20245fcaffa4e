"""Everything the call page shows: transcript, results anchored in it, stages, metrics."""

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from qm.domain.calls.status import PipelineStatus, StageView, handle_time, stage_views
from qm.domain.calls.visibility import visible_call
from qm.domain.stored_transcripts import current_transcript, transcript_segments
from qm.models import (
    Agent,
    AsrAccuracy,
    Call,
    CallMetrics,
    Customer,
    KeyPointResult,
    ResultKind,
    Stage,
    Transcript,
    User,
)


@dataclass(frozen=True, slots=True)
class SegmentView:
    """One utterance, with an anchor id and the checks whose evidence lies in it."""

    position: int
    anchor: str
    speaker: str
    start: float
    end: float
    text: str
    marks: list[KeyPointResult] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ResultView:
    """A key-point or forbidden-phrase result, linked to the segment holding its evidence."""

    result: KeyPointResult
    anchor: str | None

    @property
    def outcome(self) -> str:
        """Key points: hit, miss or uncertain. Forbidden phrases: found, absent or uncertain."""
        if self.result.uncertain:
            return "uncertain"
        if self.result.kind == ResultKind.FORBIDDEN:
            return "found" if self.result.hit else "absent"
        return "hit" if self.result.hit else "miss"


@dataclass(frozen=True, slots=True)
class CheckedWith:
    """Which script version produced the call's key-point results, and when.

    `pending`: the call is marked for a re-check that has not run yet (the results shown
    are still those of this version).
    """

    script_key: str
    script_version: int
    checked_at: datetime | None
    pending: bool


def checked_with(metrics: CallMetrics | None, stages: list[StageView]) -> CheckedWith | None:
    """What `CallDetail.checked_with` says: None until a script version checked the call."""
    if metrics is None or metrics.script_key is None or metrics.script_version is None:
        return None
    keypoints = next((s for s in stages if s.stage == Stage.KEYPOINTS), None)
    pending = keypoints is None or keypoints.status == "pending"
    return CheckedWith(metrics.script_key, metrics.script_version, metrics.checked_at, pending)


@dataclass(frozen=True, slots=True)
class CallDetail:
    """Everything the call page shows."""

    call: Call
    agent: Agent | None
    customer: Customer | None
    handle_seconds: float | None
    metrics: CallMetrics | None
    transcript: Transcript | None
    segments: list[SegmentView]
    # The engine's measured accuracy, once a reviewer has corrected its transcript.
    asr_accuracy: list[AsrAccuracy]
    key_points: list[ResultView]
    forbidden: list[ResultView]
    stages: list[StageView]
    status: PipelineStatus
    # The script version behind the key-point results ("Checked with script X version N").
    checked_with: CheckedWith | None = None


def _find_anchor(segments: list[SegmentView], result: KeyPointResult) -> str | None:
    """The segment holding `result`'s evidence: the one spanning its start time.

    Prefers a segment of the result's speaker, since stereo channels overlap in time.
    """
    if result.start is None or not segments:
        return None
    spanning = [s for s in segments if s.start - 0.05 <= result.start <= s.end + 0.05]
    same_speaker = [s for s in spanning if s.speaker == result.speaker]
    for candidates in (same_speaker, spanning):
        if candidates:
            return candidates[0].anchor
    # No segment spans it (times rounded differently): the last one starting before it.
    earlier = [s for s in segments if s.start <= result.start]
    for candidates in ([s for s in earlier if s.speaker == result.speaker], earlier):
        if candidates:
            return candidates[-1].anchor
    return segments[0].anchor


def get_call_detail(session: Session, call_id: str, viewer: User) -> CallDetail:
    """The call with its people, transcript, check results, metrics and pipeline stages.

    Raises:
        NotFound: no call has this id, or `viewer` may not see it (the same error, so
            that a hidden call cannot be told from a missing one).
    """
    call = visible_call(session, call_id, viewer)
    transcript = current_transcript(session, call_id)
    segments: list[SegmentView] = []
    if transcript is not None:
        segments = [
            SegmentView(s.position, f"seg-{s.position}", s.speaker, s.start, s.end, s.text)
            for s in transcript_segments(session, transcript.id)
        ]
    results = session.exec(
        select(KeyPointResult)
        .where(col(KeyPointResult.call_id) == call_id)
        .order_by(col(KeyPointResult.id))
    ).all()
    views = [ResultView(r, _find_anchor(segments, r)) for r in results]
    by_anchor = {s.anchor: s for s in segments}
    for view in views:
        # Only evidence that was actually found is marked in the transcript.
        if view.anchor and view.result.hit:
            by_anchor[view.anchor].marks.append(view.result)
    metrics = session.get(CallMetrics, call_id)
    stages, status = stage_views(session, call_id)
    return CallDetail(
        call=call,
        agent=session.get(Agent, call.agent_id),
        customer=session.get(Customer, call.customer_id) if call.customer_id else None,
        handle_seconds=handle_time(call, metrics),
        metrics=metrics,
        transcript=transcript,
        segments=segments,
        asr_accuracy=list(
            session.exec(
                select(AsrAccuracy)
                .where(col(AsrAccuracy.call_id) == call_id)
                .order_by(col(AsrAccuracy.measured_at))
            ).all()
        ),
        key_points=[v for v in views if v.result.kind != ResultKind.FORBIDDEN],
        forbidden=[v for v in views if v.result.kind == ResultKind.FORBIDDEN],
        stages=stages,
        status=status,
        checked_with=checked_with(metrics, stages),
    )
