"""`qm calibrate` on a calibration-session CSV."""

import json
from pathlib import Path

import pytest

from tests.qm.commands.subprocess_qm import run_qm

SESSION = (
    "call_id,reviewer,total,greet,verify\n"
    "c1,ann,80,yes,no\nc1,bob,70,yes,no\nc1,exp,75,yes,yes\n"
    "c2,ann,90,yes,yes\nc2,bob,60,no,no\nc2,exp,85,yes,yes\n"
)


def test_calibration_statistics(tmp_path: Path) -> None:
    path = tmp_path / "session.csv"
    path.write_text(SESSION)
    data = json.loads(
        run_qm(
            "calibrate", str(path), "--json", "--expert", "exp", db_url="sqlite://", cwd=tmp_path
        ).stdout
    )
    items = {i["item_id"]: i for i in data["items"]}
    # greet: c1 all yes (3 agreeing pairs of 3), c2 one no (1 of 3) -> 2/3
    assert (
        items["greet"]["observed"] == pytest.approx(2 / 3) and items["greet"]["method"] == "fleiss"
    )
    reviewers = {r["reviewer"]: r for r in data["reviewers"]}
    assert reviewers["ann"]["mean_signed"] == 5 and reviewers["bob"]["mean_absolute"] == 15
    assert data["baseline"] == "exp" and data["icc_calls"] == 2


def test_a_reviewer_scoring_a_call_twice_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("call_id,reviewer,greet\nc1,ann,yes\nc1,ann,no\n")
    result = run_qm("calibrate", str(path), db_url="sqlite://", cwd=tmp_path, check=False)
    assert result.returncode == 1 and "row 3, field reviewer" in result.stderr
