"""Channel logic with synthetic stereo files: one-sided speech, swapped channels, dual mono."""

import numpy as np
import pytest

from transcripts.channels import (
    is_dual_mono,
    is_silent,
    merge_segments,
    speakers_for,
)
from transcripts.format import Segment

from .conftest import write_wav

SILENCE = np.zeros(5 * 16000, dtype=np.float32)


@pytest.mark.parametrize(("agent_channel", "speaker"), [("left", "agent"), ("right", "customer")])
def test_speech_in_the_left_channel_only(tmp_path, tiny_engine, speech, agent_channel, speaker):
    path = write_wav(tmp_path / "left.wav", [speech, SILENCE[: len(speech)]])
    transcript = tiny_engine.transcribe_file(path, call_id="c", agent_channel=agent_channel)
    assert transcript.segments
    assert {s.speaker for s in transcript.segments} == {speaker}


def test_speech_in_the_right_channel_only(tmp_path, tiny_engine, speech):
    path = write_wav(tmp_path / "right.wav", [SILENCE[: len(speech)], speech])
    transcript = tiny_engine.transcribe_file(path, call_id="c")
    assert {s.speaker for s in transcript.segments} == {"customer"}


def test_identical_channels_are_treated_as_mono(tmp_path, tiny_engine, speech):
    dual = write_wav(tmp_path / "dual.wav", [speech, speech])
    mono = write_wav(tmp_path / "mono.wav", [speech])
    louder_left = write_wav(tmp_path / "gain.wav", [speech, speech * 0.5])
    from_dual = tiny_engine.transcribe_file(dual, call_id="c")
    from_mono = tiny_engine.transcribe_file(mono, call_id="c")
    assert {s.speaker for s in from_dual.segments} == {"unknown"}
    gain = tiny_engine.transcribe_file(louder_left, call_id="c")
    assert {s.speaker for s in gain.segments} == {"unknown"}
    assert [t for s in from_dual.segments for t in (s.start, s.end)] == pytest.approx(
        [t for s in from_mono.segments for t in (s.start, s.end)], abs=0.1
    )


def test_silent_recording_gives_no_segments(tmp_path, tiny_engine):
    path = write_wav(tmp_path / "silence.wav", [SILENCE, SILENCE])
    assert tiny_engine.transcribe_file(path, call_id="c").segments == ()


def test_dual_mono_detection(speech):
    rng = np.random.default_rng(0)
    other = np.roll(speech, 16000) * 0.8
    assert is_dual_mono(speech, speech.copy())
    assert is_dual_mono(speech, 0.3 * speech)
    assert is_dual_mono(speech, np.roll(speech, 40))  # 2.5 ms offset between the copies
    assert not is_dual_mono(speech, other)
    assert not is_dual_mono(speech, rng.normal(0, 0.1, len(speech)).astype(np.float32))
    assert not is_dual_mono(speech, np.zeros_like(speech))


def test_silence_detection(speech):
    assert is_silent(SILENCE)
    assert is_silent(SILENCE + 1e-4)
    assert not is_silent(speech)


def test_speakers_for_channels():
    assert speakers_for(1) == ("unknown",)
    assert speakers_for(2) == ("agent", "customer")
    assert speakers_for(2, "right") == ("customer", "agent")
    with pytest.raises(ValueError, match="left or right"):
        speakers_for(2, "middle")


def test_merge_orders_by_time_then_speaker():
    agent = [Segment("agent", 0.0, 2.0, "hello"), Segment("agent", 5.0, 6.0, "anything else")]
    customer = [Segment("customer", 2.5, 4.0, "my bill"), Segment("customer", 0.0, 1.0, "hi")]
    merged = merge_segments([agent, customer])
    assert [s.text for s in merged] == ["hi", "hello", "my bill", "anything else"]
