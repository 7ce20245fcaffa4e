"""`qm transcribe` and `qm wer` through the real CLI."""

import json

import pytest
from click.testing import CliRunner

from qm.cli import cli

from .conftest import AUDIO, STEREO, TINY_MODEL


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray qm.env
    monkeypatch.setenv("QM_DATABASE_URL", f"sqlite:///{tmp_path}/qm.db")

    def invoke(*args):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_transcribe_stereo_prints_speaker_merged_transcript(run):
    result = run("transcribe", str(STEREO), "--engine", "pocketsphinx")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "2 segment(s), engine pocketsphinx" in lines[0]
    assert lines[1].startswith("[00:00.33 - 00:04.67] agent ")
    assert "wizard" in lines[1] and "curtain" in lines[1]
    assert "customer" in lines[2] and "extremely" in lines[2]


def test_transcribe_json_with_faster_whisper_and_agent_on_the_right(run):
    result = run(
        "transcribe",
        str(STEREO),
        "--model",
        str(TINY_MODEL),
        "--language",
        "en",
        "--beam-size",
        "1",
        "--temperature",
        "0",
        "--agent-channel",
        "right",
        "--json",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["call_id"] == "stereo_diarization"
    assert {s["speaker"] for s in doc["segments"]} == {"agent", "customer"}
    # The right channel's sentence is the short one, over by 2.6 s.
    assert max(s["end"] for s in doc["segments"] if s["speaker"] == "agent") < 3.1


def test_transcribe_without_model_names_the_setting_or_falls_back(run, monkeypatch):
    monkeypatch.setenv("QM_WHISPER_MODEL", "/nonexistent/model")
    failed = run("transcribe", str(STEREO))
    assert failed.exit_code == 1
    assert "QM_WHISPER_MODEL" in failed.output
    fallback = run("transcribe", str(STEREO), "--fallback")
    assert fallback.exit_code == 0
    assert "LOW ACCURACY" in fallback.output
    assert "engine pocketsphinx" in fallback.output


def test_transcribe_rejects_a_bad_file(run, tmp_path):
    bad = tmp_path / "call.wav"
    bad.write_text("not audio at all")
    result = run("transcribe", str(bad), "--engine", "pocketsphinx")
    assert result.exit_code == 1
    assert "content is text" in result.output


def test_wer_with_strings_and_files(run, tmp_path):
    result = run("wer", "the cat sat on the mat", "oh the cat sit on mat")
    assert result.exit_code == 0
    assert result.output.startswith(
        "WER 50.00%  (6 reference words: 1 substitutions, 1 deletions, 1 insertions)"
    )
    ref = AUDIO / "librivox" / "sense_and_sensibility_01_austen_64kb-0880.txt"
    hyp = tmp_path / "hyp.json"
    hyp.write_text(
        json.dumps(
            {
                "call_id": "x",
                "language": "en",
                "segments": [
                    {
                        "speaker": "unknown",
                        "start": 0,
                        "end": 1,
                        "text": "He was not an ill-disposed young man.",
                    }
                ],
            }
        )
    )
    assert "WER 0.00%" in run("wer", str(ref), str(hyp)).output


def test_wer_with_an_empty_reference_prints_valid_json(run):
    result = run("wer", "", "hello there", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)  # strict: no Infinity
    assert body["wer"] == 2


def test_wer_chinese_prints_cer(run):
    result = run("wer", "我想查一下话费", "我想查一话费", "--json")
    doc = json.loads(result.output)
    assert doc["language"] == "zh"
    assert doc["cer"] == pytest.approx(1 / 7)
    assert doc["characters"]["deletions"] == 1
    assert run("wer", "我想查一下话费", "我想查一话费").output.startswith("CER 14.29%")
