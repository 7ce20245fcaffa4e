"""Choosing and loading an ASR engine; one loaded model per configuration and process.

Loading a Whisper model takes seconds and hundreds of MB, so `load_engine` keeps the
engines it has loaded, keyed by their (hashable) `AsrConfig`: a worker that transcribes
many calls loads its model once.
"""

import os
import threading
from collections.abc import Mapping

from transcripts.engines.base import AsrConfig, AsrEngine, ChannelResult
from transcripts.errors import EngineError

__all__ = (
    "AsrConfig",
    "AsrEngine",
    "ChannelResult",
    "clear_engines",
    "config_from_env",
    "load_engine",
)

_engines: dict[AsrConfig, AsrEngine] = {}
_lock = threading.Lock()


def load_engine(config: AsrConfig) -> AsrEngine:
    """The engine for `config`, loaded on first use and then reused in this process.

    Raises:
        EngineError: naming the setting to change (``QM_WHISPER_MODEL``...) and how to
            provide a model, when the engine or its model cannot be loaded.
    """
    with _lock:
        engine = _engines.get(config)
        if engine is None:
            engine = _create(config)
            _engines[config] = engine
        return engine


def clear_engines() -> None:
    """Forget the loaded engines (their memory is freed once no caller holds them)."""
    with _lock:
        _engines.clear()


def _create(config: AsrConfig) -> AsrEngine:
    if config.engine == "faster-whisper":
        from transcripts.engines.faster_whisper import FasterWhisperEngine

        return FasterWhisperEngine(config)
    if config.engine == "openai-whisper":
        from transcripts.engines.openai_whisper import OpenAIWhisperEngine

        return OpenAIWhisperEngine(config)
    from transcripts.engines.pocketsphinx import PocketsphinxEngine

    return PocketsphinxEngine(config)


def config_from_env(environ: Mapping[str, str] | None = None, **overrides: object) -> AsrConfig:
    """An `AsrConfig` from ``QM_ASR_*`` / ``QM_WHISPER_MODEL`` variables, then `overrides`.

    Variables: QM_ASR_ENGINE, QM_WHISPER_MODEL, QM_ASR_DEVICE, QM_ASR_COMPUTE_TYPE,
    QM_ASR_LANGUAGE, QM_ASR_BEAM_SIZE, QM_ASR_INITIAL_PROMPT, QM_ASR_HOTWORDS, QM_ASR_VAD.

    Raises:
        EngineError: naming the variable whose value is invalid.
    """
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    names = {
        "engine": "QM_ASR_ENGINE",
        "model": "QM_WHISPER_MODEL",
        "device": "QM_ASR_DEVICE",
        "compute_type": "QM_ASR_COMPUTE_TYPE",
        "language": "QM_ASR_LANGUAGE",
        "initial_prompt": "QM_ASR_INITIAL_PROMPT",
        "hotwords": "QM_ASR_HOTWORDS",
    }
    for field, var in names.items():
        if env.get(var):
            values[field] = env[var]
    if env.get("QM_ASR_BEAM_SIZE"):
        try:
            values["beam_size"] = int(env["QM_ASR_BEAM_SIZE"])
        except ValueError as exc:
            raise EngineError(
                f"QM_ASR_BEAM_SIZE: not a whole number: {env['QM_ASR_BEAM_SIZE']!r}"
            ) from exc
    if env.get("QM_ASR_VAD"):
        values["vad"] = env["QM_ASR_VAD"].strip().lower() not in ("0", "false", "no", "off")
    values.update(overrides)
    return AsrConfig(**values)  # type: ignore[arg-type]
