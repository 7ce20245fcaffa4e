"""`qm check`, in-process: JSON lines, the readable table, and files refused with the same
rules as `qm ingest`."""

import json
from pathlib import Path

import pytest
import yaml

from tests.qm.commands.cli import invoke
from tests.qm.manifests import row, write_manifest

BILLING = {
    "id": "billing",
    "name": "Billing",
    "language": "en",
    "key_points": [
        {"id": "greeting", "phrases": ["thank you for calling acme"], "within_seconds": 30},
        {"id": "verify", "phrases": ["can you confirm your date of birth"], "critical": True},
        {"id": "recap", "phrases": ["just to confirm"], "after": ["verify"]},
    ],
    "forbidden": [{"id": "dismissive", "phrases": ["calm down"]}],
}
BAD_SEGMENTS = {
    "negative-start": ({"speaker": "agent", "start": -1, "end": 2, "text": "hi"}, "start"),
    "end-before-start": ({"speaker": "agent", "start": 5, "end": 2, "text": "hi"}, "end"),
    "unknown-speaker": ({"speaker": "bot", "start": 0, "end": 2, "text": "hi"}, "speaker"),
}


@pytest.mark.parametrize("case", sorted(BAD_SEGMENTS))
def test_check_and_ingest_refuse_the_same_file(case: str, db_url: str, tmp_path: Path) -> None:
    segment, field = BAD_SEGMENTS[case]
    transcript = tmp_path / f"{case}.json"
    transcript.write_text(json.dumps({"call_id": "c1", "language": "en", "segments": [segment]}))
    script = tmp_path / "billing.yaml"
    script.write_text(yaml.safe_dump(BILLING))
    named = f"{transcript}: segments[0].{field}:"

    checked = invoke(db_url, "check", "--script", str(script), str(transcript))
    assert checked.exit_code == 1 and named in checked.output

    assert invoke(db_url, "init").exit_code == 0
    manifest = write_manifest(tmp_path / "calls.csv", [row("c1", transcript=transcript.name)])
    ingested = invoke(db_url, "ingest", "--manifest", str(manifest))
    assert ingested.exit_code == 1 and named in ingested.output
    assert "nothing from this file was stored" in ingested.output


def test_a_file_without_call_id_is_named_by_its_file(tmp_path: Path) -> None:
    greeting = "thank you for calling acme"
    transcript = tmp_path / "c-42.json"
    transcript.write_text(
        json.dumps(
            {
                "language": "en",
                "segments": [
                    {"speaker": "agent", "start": 3, "end": 4, "text": "how can i help"},
                    {"speaker": "agent", "start": 0, "end": 2, "text": greeting},
                ],
            }
        )
    )
    script = tmp_path / "billing.yaml"
    script.write_text(yaml.safe_dump(BILLING))
    result = invoke("sqlite://", "check", "--script", str(script), str(transcript), "--json")
    assert result.exit_code == 0, result.output
    checked = json.loads(result.stdout)
    # Segments out of time order are read in time order, as the scoring library expects.
    assert checked["call_id"] == "c-42" and checked["key_points"][0]["start"] == 0


def segment(speaker: str, start: float, text: str) -> dict[str, object]:
    return {"speaker": speaker, "start": start, "end": start + 2, "text": text}


def write_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    script = tmp_path / "billing.yaml"
    script.write_text(yaml.safe_dump(BILLING))
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps(
            {
                "call_id": "c-good",
                "language": "en",
                "duration": 30,
                "segments": [
                    segment("agent", 1, "Thank you for calling ACME."),
                    segment("agent", 5, "Can you confirm your date of birth?"),
                    segment("customer", 8, "May fifth."),
                    segment("agent", 12, "Just to confirm, the fee is removed."),
                ],
            }
        )
    )
    bad = tmp_path / "bad.json"  # no call_id: the file name stands in
    bad.write_text(
        json.dumps(
            {
                "language": "en",
                "segments": [
                    segment("customer", 1, "thank you for calling acme, they said"),
                    segment("agent", 40, "calm down"),
                ],
            }
        )
    )
    return script, good, bad


def test_json_lines_one_per_transcript(tmp_path: Path) -> None:
    script, good, bad = write_files(tmp_path)
    result = invoke("sqlite://", "check", "--script", str(script), str(good), str(bad), "--json")
    assert result.exit_code == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert (first["call_id"], first["script"], first["compliance"]) == ("c-good", "billing", 1.0)
    greeting = first["key_points"][0]
    assert greeting["score"] == 1.0 and greeting["evidence"] == "Thank you for calling ACME."
    assert (greeting["hit"], greeting["start"], greeting["speaker"], greeting["method"]) == (
        True,
        1,
        "agent",
        "exact",
    )
    assert (second["call_id"], second["compliance"], second["critical_failed"]) == (
        "bad",
        0.0,
        True,
    )
    for item in first["key_points"] + first["forbidden"]:
        assert {"id", "hit", "start", "end", "speaker", "evidence", "score", "method"} <= set(item)
    assert set(first["courtesy"]) >= {
        "polite_count",
        "empathy_count",
        "forbidden_count",
        "interruptions",
        "long_silences",
    }
    said_by = second["key_points"][0]
    assert not said_by["hit"] and said_by["note"] == "said by customer, not agent"
    assert second["forbidden"][0]["hit"] and second["courtesy"]["forbidden_count"] == 1


def test_readable_table(tmp_path: Path) -> None:
    script, good, bad = write_files(tmp_path)
    out = invoke("sqlite://", "check", "--script", str(script), str(good), str(bad)).stdout
    assert "c-good: compliance 100%" in out
    assert "bad: compliance 0%  CRITICAL FAIL" in out
    assert "miss greeting" in out and "said by customer, not agent" in out
    assert "HIT  forbidden dismissive at 40.0s" in out


def test_bad_files_are_named_with_the_field(tmp_path: Path) -> None:
    script, good, _ = write_files(tmp_path)
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({**BILLING, "language": "fr"}))
    result = invoke("sqlite://", "check", "--script", str(broken), str(good))
    assert result.exit_code == 1 and f"{broken}: language:" in result.stderr
    malformed = tmp_path / "malformed.json"
    malformed.write_text(
        json.dumps({"language": "en", "segments": [{"start": 0, "end": "x", "text": "hi"}]})
    )
    result = invoke("sqlite://", "check", "--script", str(script), str(malformed))
    assert result.exit_code == 1 and f"{malformed}: segments[0].end" in result.stderr
    empty = tmp_path / "empty.yaml"
    empty.write_text("id: s\nlanguage: en\nkey_points:\n  - id: a\n    phrases: []\n")
    result = invoke("sqlite://", "check", "--script", str(empty), str(good))
    assert result.exit_code == 1 and "key_points[0].phrases" in result.stderr
    missing = tmp_path / "nowhere.json"
    result = invoke("sqlite://", "check", "--script", str(script), str(missing))
    assert result.exit_code != 0 and "nowhere.json" in result.stderr


def test_a_language_mismatch_is_warned_about(tmp_path: Path) -> None:
    script = write_files(tmp_path)[0]
    zh = tmp_path / "zh.json"
    zh.write_text(json.dumps({"call_id": "z", "language": "zh", "segments": []}))
    result = invoke("sqlite://", "check", "--script", str(script), str(zh), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["call_id"] == "z"  # stdout stays JSON lines
    assert f"warning: {zh}: language zh, but script billing is en" in result.stderr
