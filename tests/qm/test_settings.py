"""Settings: the QM_ASR_* variables reach the transcription engine's configuration."""

import pytest
from pydantic import ValidationError

from qm.settings import Settings


def test_asr_settings_become_the_engine_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QM_ASR_ENGINE", "pocketsphinx")
    monkeypatch.setenv("QM_ASR_BEAM_SIZE", "1")
    monkeypatch.setenv("QM_ASR_INITIAL_PROMPT", "Harper Valley National Bank")
    monkeypatch.setenv("QM_ASR_HOTWORDS", "overdraft")
    monkeypatch.setenv("QM_ASR_VAD", "false")
    monkeypatch.setenv("QM_ASR_LANGUAGE", "en")
    config = Settings().asr_config()
    assert config.engine == "pocketsphinx"
    assert config.beam_size == 1
    assert config.initial_prompt == "Harper Valley National Bank"
    assert config.hotwords == "overdraft"
    assert config.vad is False
    assert config.language == "en"


def test_command_overrides_win_and_none_keeps_the_setting() -> None:
    settings = Settings(whisper_model="base", asr_beam_size=3)
    config = settings.asr_config(model=None, beam_size=1, language="zh")
    assert (config.model, config.beam_size, config.language) == ("base", 1, "zh")
    assert config.compute_type == "auto" and config.vad is True


def test_out_of_range_beam_size_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QM_ASR_BEAM_SIZE", "0")
    with pytest.raises(ValidationError, match="asr_beam_size"):
        Settings()
