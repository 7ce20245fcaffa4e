"""openai-whisper (PyTorch): an optional engine, ``pip install .[openai-whisper]``.

Its plain install pulls CUDA-only packages of several GB (triton); the README shows the
lean CPU install. Audio reaches it as a NumPy array, so its ffmpeg CLI is never needed.
With VAD on, faster-whisper's bundled Silero model picks the speech spans, which are
passed as ``clip_timestamps`` so silence is never decoded.
"""

from pathlib import Path
from typing import Any

from transcripts.engines.base import AsrConfig, AsrEngine, ChannelResult, Samples
from transcripts.engines.faster_whisper import VAD_MIN_SILENCE_MS, whisper_model_help
from transcripts.errors import EngineError
from transcripts.format import Segment, Word


class OpenAIWhisperEngine(AsrEngine):
    """The reference Whisper implementation."""

    engine_name = "openai-whisper"

    def __init__(self, config: AsrConfig) -> None:
        super().__init__(config)
        try:
            import whisper
        except ImportError as exc:
            raise EngineError(
                "QM_ASR_ENGINE=openai-whisper: the package is not installed; "
                "`pip install .[openai-whisper]` (see the README for the lean CPU install), "
                "or use QM_ASR_ENGINE=faster-whisper"
            ) from exc
        model = config.model
        is_path = model.endswith(".pt") or "/" in model
        if is_path and not Path(model).expanduser().is_file():
            raise EngineError(
                f"QM_WHISPER_MODEL: no checkpoint at {model}. "
                f"{whisper_model_help(self.engine_name)}"
            )
        device = "cuda" if config.device == "auto" else config.device
        try:
            self.model = whisper.load_model(
                str(Path(model).expanduser()) if is_path else model,
                device=device,
                download_root=config.download_root,
            )
        except Exception as exc:
            raise EngineError(
                f"QM_WHISPER_MODEL: cannot load openai-whisper model {model!r}: {exc}. "
                f"{whisper_model_help(self.engine_name)}"
            ) from exc
        self.fp16 = device == "cuda"

    def _speech_clips(self, samples: Samples) -> list[float] | None:
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        spans = get_speech_timestamps(
            samples, VadOptions(min_silence_duration_ms=VAD_MIN_SILENCE_MS)
        )
        return [t for span in spans for t in (span["start"] / 16000, span["end"] / 16000)]

    def transcribe_channel(self, samples: Samples, *, language: str | None) -> ChannelResult:
        """Transcribe one 16 kHz channel (see `AsrEngine.transcribe_channel`)."""
        cfg = self.config
        options: dict[str, Any] = {
            "language": language,
            "temperature": cfg.temperature,
            "initial_prompt": cfg.initial_prompt,
            "word_timestamps": True,
            "condition_on_previous_text": False,
            "fp16": self.fp16,
            "verbose": None,
        }
        if cfg.beam_size > 1:
            options["beam_size"] = cfg.beam_size
        if cfg.vad:
            clips = self._speech_clips(samples)
            if not clips:
                return ChannelResult((), language)
            options["clip_timestamps"] = clips
        try:
            result = self.model.transcribe(samples, **options)
        except Exception as exc:
            raise EngineError(f"openai-whisper failed: {exc}") from exc
        segments = tuple(_segment(s) for s in result["segments"] if s["text"].strip())
        return ChannelResult(segments, result.get("language"))


def _segment(raw: dict[str, Any]) -> Segment:
    words = tuple(
        Word(
            w["word"].strip(),
            round(float(w["start"]), 3),
            round(float(w["end"]), 3),
            float(w["probability"]),
        )
        for w in raw.get("words", ())
        if w["word"].strip()
    )
    start, end = round(float(raw["start"]), 3), round(float(raw["end"]), 3)
    return Segment("unknown", start, max(start, end), raw["text"].strip(), words or None)
