"""`qm check` through the installed entry point, on a script and calls written here."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

QM = str(Path(sys.executable).with_name("qm"))

SCRIPT = {
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


def segment(speaker: str, start: float, text: str) -> dict[str, object]:
    return {"speaker": speaker, "start": start, "end": start + 2, "text": text}


def qm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QM_")}
    return subprocess.run(
        [QM, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def write_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    script = tmp_path / "billing.yaml"
    script.write_text(yaml.safe_dump(SCRIPT))
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
    result = qm("check", "--script", str(script), str(good), str(bad), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
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
    out = qm("check", "--script", str(script), str(good), str(bad), cwd=tmp_path).stdout
    assert "c-good: compliance 100%" in out
    assert "bad: compliance 0%  CRITICAL FAIL" in out
    assert "miss greeting" in out and "said by customer, not agent" in out
    assert "HIT  forbidden dismissive at 40.0s" in out


def test_bad_files_are_named_with_the_field(tmp_path: Path) -> None:
    script, good, _ = write_files(tmp_path)
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({**SCRIPT, "language": "fr"}))
    result = qm("check", "--script", str(broken), str(good), cwd=tmp_path)
    assert result.returncode == 1 and f"{broken}: language:" in result.stderr
    malformed = tmp_path / "malformed.json"
    malformed.write_text(
        json.dumps({"language": "en", "segments": [{"start": 0, "end": "x", "text": "hi"}]})
    )
    result = qm("check", "--script", str(script), str(malformed), cwd=tmp_path)
    assert result.returncode == 1 and f"{malformed}: segments[0].end" in result.stderr
    empty = tmp_path / "empty.yaml"
    empty.write_text("id: s\nlanguage: en\nkey_points:\n  - id: a\n    phrases: []\n")
    result = qm("check", "--script", str(empty), str(good), cwd=tmp_path)
    assert result.returncode == 1 and "key_points[0].phrases" in result.stderr
    missing = tmp_path / "nowhere.json"
    result = qm("check", "--script", str(script), str(missing), cwd=tmp_path)
    assert result.returncode != 0 and "nowhere.json" in result.stderr


def test_a_language_mismatch_is_warned_about(tmp_path: Path) -> None:
    script = write_files(tmp_path)[0]
    zh = tmp_path / "zh.json"
    zh.write_text(json.dumps({"call_id": "z", "language": "zh", "segments": []}))
    result = qm("check", "--script", str(script), str(zh), "--json", cwd=tmp_path)
    assert result.returncode == 0
    assert json.loads(result.stdout)["call_id"] == "z"  # stdout stays JSON lines
    assert f"warning: {zh}: language zh, but script billing is en" in result.stderr
