"""faster-whisper (CTranslate2): the default engine. int8 on CPU, float16 on CUDA."""

from pathlib import Path
from typing import Any

from transcripts.engines.base import AsrConfig, AsrEngine, ChannelResult, Samples
from transcripts.errors import EngineError
from transcripts.format import Segment, Word

# Merge pauses shorter than this (ms) into one speech span: shorter gaps are breaths.
VAD_MIN_SILENCE_MS = 500


def whisper_model_help(engine: str) -> str:
    """How to provide a Whisper model, for error messages."""
    if engine == "openai-whisper":
        return (
            "Set QM_WHISPER_MODEL to a model name (tiny, base, small, medium, large-v3, turbo; "
            "downloaded once to ~/.cache/whisper where the site allows) or to the path of a "
            "downloaded .pt checkpoint."
        )
    return (
        "Set QM_WHISPER_MODEL to a model name (tiny, base, small, medium, large-v3...; "
        "downloaded once from huggingface.co where the site allows) or to a local "
        "CTranslate2 model directory, e.g. a copy of Systran/faster-whisper-small made on a "
        "machine with access, or one converted with ct2-transformers-converter. "
        "Or set QM_ASR_ENGINE=pocketsphinx for the offline, low-accuracy English fallback."
    )


class FasterWhisperEngine(AsrEngine):
    """Whisper through CTranslate2, with Silero VAD and word timestamps."""

    engine_name = "faster-whisper"

    def __init__(self, config: AsrConfig) -> None:
        super().__init__(config)
        from faster_whisper import WhisperModel
        from faster_whisper.utils import available_models

        model = config.model
        local = Path(model).expanduser()
        if local.is_dir():
            model = str(local)
        elif model not in available_models() and "/" not in model:
            raise EngineError(
                f"QM_WHISPER_MODEL: {model!r} is neither a local model directory nor a known "
                f"model name. {whisper_model_help(self.engine_name)}"
            )
        device = config.device
        compute_type = config.compute_type
        if compute_type == "auto":
            compute_type = "float16" if device == "cuda" else "int8"
        try:
            self.model = WhisperModel(
                model,
                device=device,
                compute_type=compute_type,
                cpu_threads=config.cpu_threads,
                download_root=config.download_root,
                local_files_only=config.local_files_only,
            )
        except Exception as exc:  # hub, file and CTranslate2 errors all mean "no model"
            raise EngineError(
                f"QM_WHISPER_MODEL: cannot load faster-whisper model {config.model!r} "
                f"(device {device}, compute type {compute_type}): {_first_line(exc)}. "
                f"{whisper_model_help(self.engine_name)}"
            ) from exc

    def transcribe_channel(self, samples: Samples, *, language: str | None) -> ChannelResult:
        """Transcribe one 16 kHz channel (see `AsrEngine.transcribe_channel`)."""
        cfg = self.config
        options: dict[str, Any] = {
            "language": language,
            "task": "transcribe",
            "beam_size": cfg.beam_size,
            "temperature": list(cfg.temperature),
            "initial_prompt": cfg.initial_prompt,
            "hotwords": cfg.hotwords,
            "word_timestamps": True,
            "vad_filter": cfg.vad,
            "vad_parameters": {"min_silence_duration_ms": VAD_MIN_SILENCE_MS},
            # Conditioning on the previous window's text is what lets one hallucination
            # repeat itself across a whole call.
            "condition_on_previous_text": False,
        }
        try:
            segments, info = self.model.transcribe(samples, **options)
            result = tuple(_segment(s) for s in segments)
        except Exception as exc:
            raise EngineError(f"faster-whisper failed: {_first_line(exc)}") from exc
        return ChannelResult(tuple(s for s in result if s.text), info.language)


def _segment(raw: Any) -> Segment:
    words = tuple(
        Word(w.word.strip(), round(float(w.start), 3), round(float(w.end), 3), float(w.probability))
        for w in (raw.words or ())
        if w.word.strip()
    )
    start, end = round(float(raw.start), 3), round(float(raw.end), 3)
    return Segment("unknown", start, max(start, end), raw.text.strip(), words or None)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
