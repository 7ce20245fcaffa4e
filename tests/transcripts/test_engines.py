"""The faster-whisper path end to end with a random-weight model, and engine loading."""

import importlib.util
import json
from pathlib import Path

import pytest

from transcripts.asr import AsrConfig, config_from_env, load_engine
from transcripts.errors import EngineError
from transcripts.format import parse_transcript, transcript_to_dict

from .conftest import STEREO, TINY_MODEL

LEFT_SPEECH_END = 4.7  # seconds: where the left (longer) sentence of the stereo clip ends
RIGHT_SPEECH_END = 2.6  # the right channel's sentence is over by then


def test_stereo_clip_gives_both_speakers_merged_in_time_order(tiny_engine):
    transcript = tiny_engine.transcribe_file(STEREO, call_id="c-1")

    speakers = {s.speaker for s in transcript.segments}
    assert speakers == {"agent", "customer"}
    starts = [(s.start, s.end) for s in transcript.segments]
    assert starts == sorted(starts)
    assert transcript.duration == pytest.approx(5.0)
    assert transcript.call_id == "c-1"
    for seg in transcript.segments:
        assert 0 <= seg.start <= seg.end <= 5.0
        assert seg.words, "word timestamps are requested"
    # VAD keeps each channel's segments within that channel's speech.
    customer = [s for s in transcript.segments if s.speaker == "customer"]
    agent = [s for s in transcript.segments if s.speaker == "agent"]
    assert max(s.end for s in customer) <= RIGHT_SPEECH_END + 0.5
    assert max(s.end for s in agent) > RIGHT_SPEECH_END + 1.0
    assert max(s.end for s in agent) <= LEFT_SPEECH_END + 0.5


def test_agent_channel_setting_swaps_the_speakers(tiny_engine):
    left = tiny_engine.transcribe_file(STEREO, call_id="c", agent_channel="left")
    right = tiny_engine.transcribe_file(STEREO, call_id="c", agent_channel="right")
    swap = {"agent": "customer", "customer": "agent"}
    assert sorted((s.start, s.end, swap[s.speaker]) for s in left.segments) == sorted(
        (s.start, s.end, s.speaker) for s in right.segments
    )


def test_transcript_round_trips_through_the_json_format(tiny_engine):
    transcript = tiny_engine.transcribe_file(STEREO, call_id="c-2")
    data = json.loads(json.dumps(transcript_to_dict(transcript)))
    assert parse_transcript(data) == transcript


def test_engine_is_loaded_once_per_config(tiny_config, tiny_engine):
    assert load_engine(tiny_config) is tiny_engine
    assert tiny_engine.name == f"faster-whisper/{TINY_MODEL.name}"


def test_missing_model_directory_names_the_setting(tmp_path):
    with pytest.raises(EngineError, match="QM_WHISPER_MODEL") as info:
        load_engine(AsrConfig(model=str(tmp_path / "no-such-model")))
    assert "local" in str(info.value)


def test_unloadable_model_names_the_setting_and_how_to_provide_one(tmp_path: Path):
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / "model.bin").write_bytes(b"not a model")
    with pytest.raises(EngineError, match="QM_WHISPER_MODEL: cannot load") as info:
        load_engine(AsrConfig(model=str(broken)))
    assert "CTranslate2 model directory" in str(info.value)


def test_model_name_without_download_fails_with_the_setting():
    with pytest.raises(EngineError, match="QM_WHISPER_MODEL"):
        load_engine(AsrConfig(model="tiny", local_files_only=True, download_root="/nonexistent"))


@pytest.mark.parametrize(
    ("field", "value", "setting"),
    [("engine", "kaldi", "QM_ASR_ENGINE"), ("language", "fr", "QM_ASR_LANGUAGE")],
)
def test_invalid_settings_are_named(field, value, setting):
    with pytest.raises(EngineError, match=setting):
        AsrConfig(**{field: value})


def test_config_from_environment():
    config = config_from_env(
        {
            "QM_ASR_ENGINE": "pocketsphinx",
            "QM_WHISPER_MODEL": "base",
            "QM_ASR_LANGUAGE": "en",
            "QM_ASR_BEAM_SIZE": "3",
            "QM_ASR_VAD": "off",
        }
    )
    assert (config.engine, config.model, config.language, config.beam_size, config.vad) == (
        "pocketsphinx",
        "base",
        "en",
        3,
        False,
    )
    with pytest.raises(EngineError, match="QM_ASR_BEAM_SIZE"):
        config_from_env({"QM_ASR_BEAM_SIZE": "five"})


def test_pocketsphinx_refuses_chinese():
    with pytest.raises(EngineError, match="English model only"):
        load_engine(AsrConfig(engine="pocketsphinx", language="zh"))


def test_openai_whisper_engine_names_what_is_missing(tmp_path):
    # openai-whisper is an optional extra: without it the error says how to install it;
    # with it, a missing checkpoint names the model setting. Neither case may pass silently.
    config = AsrConfig(engine="openai-whisper", model=str(tmp_path / "missing.pt"))
    if importlib.util.find_spec("whisper") is None:
        with pytest.raises(EngineError, match=r"pip install \.\[openai-whisper\]"):
            load_engine(config)
    else:
        with pytest.raises(EngineError, match="QM_WHISPER_MODEL"):
            load_engine(config)
