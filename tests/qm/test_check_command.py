"""`qm check` through the installed entry point."""

import json
from pathlib import Path

from tests.conftest import SHARED
from tests.qm.test_cli import run_qm

BENCH = SHARED / "benchmarks" / "keypoints"


def test_check_many_transcripts_json_lines(tmp_path: Path) -> None:
    files = sorted((BENCH / "transcripts").glob("en-000*.json"))[:4]
    out = run_qm(
        "check",
        "--script",
        str(BENCH / "script-en.json"),
        *map(str, files),
        "--json",
        db_url="sqlite://",
        cwd=tmp_path,
    ).stdout
    lines = [json.loads(line) for line in out.splitlines()]
    assert [x["call_id"] for x in lines] == [f.stem for f in files]
    first = lines[0]
    assert first["script"] == "acme-billing-en"
    assert {k["id"] for k in first["key_points"]} == {
        "greeting",
        "introduce",
        "verify",
        "empathy",
        "recap",
        "anything_else",
        "closing",
    }
    for item in first["key_points"] + first["forbidden"]:
        assert {"id", "hit", "start", "end", "speaker", "evidence", "score", "method"} <= set(item)
    assert set(first["courtesy"]) >= {
        "polite_count",
        "empathy_count",
        "forbidden_count",
        "interruptions",
        "long_silences",
    }


def test_check_reports_bad_files_by_name_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"language": "en", "segments": [{"start": 0, "end": "x", "text": "hi"}]})
    )
    result = run_qm(
        "check",
        "--script",
        str(BENCH / "script-en.json"),
        str(bad),
        db_url="sqlite://",
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1 and f"{bad}: segments[0].end" in result.stderr
    script = tmp_path / "s.yaml"
    script.write_text("id: s\nlanguage: en\nkey_points:\n  - id: a\n    phrases: []\n")
    result = run_qm(
        "check", "--script", str(script), str(bad), db_url="sqlite://", cwd=tmp_path, check=False
    )
    assert result.returncode == 1 and "key_points[0].phrases" in result.stderr
