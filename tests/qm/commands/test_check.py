"""`qm check` reads transcript files with ingest's parser: a file passes both or neither."""

import json
from pathlib import Path

import pytest
import yaml

from tests.qm.commands.cli import invoke
from tests.qm.manifests import row, write_manifest

SCRIPT = {
    "id": "billing",
    "name": "Billing",
    "language": "en",
    "key_points": [{"id": "greeting", "phrases": ["thank you for calling acme"]}],
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
    script.write_text(yaml.safe_dump(SCRIPT))
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
    script.write_text(yaml.safe_dump(SCRIPT))
    result = invoke("sqlite://", "check", "--script", str(script), str(transcript), "--json")
    assert result.exit_code == 0, result.output
    checked = json.loads(result.stdout)
    # Segments out of time order are read in time order, as the scoring library expects.
    assert checked["call_id"] == "c-42" and checked["key_points"][0]["start"] == 0
