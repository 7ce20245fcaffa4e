"""The engine interface: settings, one channel in, segments out; files and stereo on top."""

import dataclasses
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from transcripts.audio import AudioLimits, DecodedAudio, load_audio
from transcripts.channels import downmix, is_dual_mono, is_silent, merge_segments, speakers_for
from transcripts.errors import EngineError
from transcripts.format import Segment, Transcript

ENGINES = ("faster-whisper", "openai-whisper", "pocketsphinx")
LANGUAGES = ("auto", "en", "zh")
# Whisper's default fallback schedule: retry a window at a higher temperature when the
# output looks like a loop (compression ratio) or is improbable.
DEFAULT_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class AsrConfig:
    """How to transcribe; hashable, so one loaded engine per distinct config and process.

    Attributes:
        engine: ``faster-whisper`` (default), ``openai-whisper`` or ``pocketsphinx``
            (``QM_ASR_ENGINE``).
        model: a Whisper size or hub name (``small``, ``large-v3``...) or a local model
            directory / ``.pt`` file (``QM_WHISPER_MODEL``). Ignored by pocketsphinx.
        device: ``cpu``, ``cuda`` or ``auto`` (``QM_ASR_DEVICE``).
        compute_type: CTranslate2 compute type; ``auto`` is int8 on CPU and float16 on CUDA
            (``QM_ASR_COMPUTE_TYPE``).
        language: ``auto``, ``en`` or ``zh`` (``QM_ASR_LANGUAGE``).
        beam_size: 1 is greedy decoding.
        initial_prompt: text that primes the decoder: product names, hot words.
        hotwords: faster-whisper's hot-word prefix (ignored by the other engines).
        vad: skip non-speech with a voice-activity detector before decoding.
        temperature: the decoding temperature schedule; ``(0.0,)`` disables fallback.
        redact: replace card numbers, CVVs and ID numbers before returning a transcript.
        cpu_threads: 0 lets the engine decide.
        download_root: where downloaded models are cached.
        local_files_only: never contact a model hub.
    """

    engine: str = "faster-whisper"
    model: str = "small"
    device: str = "cpu"
    compute_type: str = "auto"
    language: str = "auto"
    beam_size: int = 5
    initial_prompt: str | None = None
    hotwords: str | None = None
    vad: bool = True
    temperature: tuple[float, ...] = DEFAULT_TEMPERATURES
    redact: bool = True
    cpu_threads: int = 0
    download_root: str | None = None
    local_files_only: bool = False

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise EngineError(
                f"QM_ASR_ENGINE: unknown engine {self.engine!r}; use one of {', '.join(ENGINES)}"
            )
        if self.language not in LANGUAGES:
            raise EngineError(
                f"QM_ASR_LANGUAGE: {self.language!r} is not one of {', '.join(LANGUAGES)}"
            )
        if self.beam_size < 1:
            raise EngineError(f"beam size must be at least 1, got {self.beam_size}")
        if not self.temperature:
            raise EngineError("the temperature schedule is empty")

    @property
    def fixed_language(self) -> str | None:
        """The language to force, or None to detect it per channel."""
        return None if self.language == "auto" else self.language


@dataclass(frozen=True, slots=True)
class ChannelResult:
    """What an engine heard on one channel: segments with speaker ``unknown``."""

    segments: tuple[Segment, ...]
    language: str | None = None


class AsrEngine(ABC):
    """A loaded ASR model. Subclasses implement `transcribe_channel`."""

    #: Short engine name, e.g. ``faster-whisper``.
    engine_name: str = ""

    def __init__(self, config: AsrConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        """Engine and model, e.g. ``faster-whisper/small``; stored as the transcript's source."""
        model = Path(self.config.model).name if self.uses_model else ""
        return f"{self.engine_name}/{model}" if model else self.engine_name

    @property
    def uses_model(self) -> bool:
        """Whether `AsrConfig.model` selects this engine's model."""
        return True

    @abstractmethod
    def transcribe_channel(self, samples: Samples, *, language: str | None) -> ChannelResult:
        """Transcribe one 16 kHz mono channel.

        Args:
            samples: float32 samples in [-1, 1] at 16 kHz.
            language: ``en``, ``zh``, or None to detect.
        """

    def transcribe_file(
        self,
        path: Path,
        *,
        call_id: str,
        agent_channel: str = "left",
        limits: AudioLimits | None = None,
    ) -> Transcript:
        """Validate, decode and transcribe a recording into a speaker-labelled transcript.

        Args:
            path: the recording (WAV, MP3, FLAC, OGG/Opus, M4A; 8-48 kHz; mono or stereo).
            call_id: stored in the transcript.
            agent_channel: ``left`` or ``right``: the agent's channel of a stereo recording.
            limits: caps checked before decoding.

        Raises:
            AudioError: the file was rejected or could not be decoded.
            EngineError: the engine failed.
        """
        audio = load_audio(path, limits)
        return self.transcribe_audio(audio, call_id=call_id, agent_channel=agent_channel)

    def transcribe_audio(
        self, audio: DecodedAudio, *, call_id: str, agent_channel: str = "left"
    ) -> Transcript:
        """Transcribe decoded audio: each channel on its own, merged by time, redacted."""
        channels = audio.channels
        if len(channels) == 2 and is_dual_mono(channels[0], channels[1]):
            channels = (downmix(channels),)
        try:
            speakers = speakers_for(len(channels), agent_channel)
        except ValueError as exc:
            raise EngineError(str(exc)) from exc
        per_channel: list[tuple[Segment, ...]] = []
        languages: Counter[str] = Counter()
        for speaker, samples in zip(speakers, channels, strict=True):
            # An empty channel (the other party on hold, a one-sided recording) costs nothing
            # and cannot produce invented text.
            if is_silent(samples, audio.sample_rate):
                continue
            result = self.transcribe_channel(samples, language=self.config.fixed_language)
            per_channel.append(tuple(_within(s, speaker, audio.duration) for s in result.segments))
            if result.language and result.segments:
                languages[result.language] += len(result.segments)
        transcript = Transcript(
            call_id=call_id,
            language=self._transcript_language(languages),
            duration=round(audio.duration, 3),
            segments=merge_segments(per_channel),
        )
        if self.config.redact:
            from transcripts.redact import redact_transcript

            transcript = redact_transcript(transcript)
        return transcript

    def _transcript_language(self, detected: Counter[str]) -> str:
        if self.config.fixed_language:
            return self.config.fixed_language
        # Transcripts are en or zh; any detected Chinese variety counts as zh.
        top = detected.most_common(1)[0][0] if detected else "en"
        return "zh" if top in ("zh", "yue") else "en"


def _within(segment: Segment, speaker: str, duration: float) -> Segment:
    # Whisper can place a timestamp past the end of a short final window; no time in a
    # transcript may lie outside the recording.
    def clamp(t: float) -> float:
        return round(min(max(t, 0.0), duration), 3)

    words = segment.words
    if words is not None:
        words = tuple(dataclasses.replace(w, start=clamp(w.start), end=clamp(w.end)) for w in words)
    return dataclasses.replace(
        segment, speaker=speaker, start=clamp(segment.start), end=clamp(segment.end), words=words
    )
