"""Calibration statistics against published worked examples and hand counts."""

import pytest

from scoring.calibration import icc_2_1, item_agreement, reviewer_deviations, totals_icc

# Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges; ICC(2,1) = 0.29.
SHROUT_FLEISS = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]


def test_icc_2_1_matches_shrout_and_fleiss() -> None:
    assert icc_2_1(SHROUT_FLEISS) == pytest.approx(0.2898, abs=1e-4)
    assert icc_2_1([[1, 2]]) is None  # one call: undefined


def test_cohen_kappa_two_reviewers() -> None:
    # Classic 2x2 example: yes/yes 20, yes/no 5, no/yes 10, no/no 15 -> po 0.7, pe 0.5, kappa 0.4
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    answers = {
        f"c{i}": {"ann": {"greet": a}, "bob": {"greet": b}} for i, (a, b) in enumerate(pairs)
    }
    (result,) = item_agreement(answers)
    assert (result.item_id, result.calls, result.method) == ("greet", 50, "cohen")
    assert result.observed == pytest.approx(0.7)
    assert result.kappa == pytest.approx(0.4)


def test_fleiss_kappa_three_reviewers_by_hand() -> None:
    # 4 calls x 3 reviewers, answers yes/no.
    # call1 yyy, call2 yyn, call3 nnn, call4 ynn
    # P_i: 1, 1/3, 1, 1/3 -> P-bar 2/3; p_yes = p_no = 6/12 -> Pe 0.5
    # kappa = (2/3 - 0.5) / 0.5 = 1/3
    rows = ["yyy", "yyn", "nnn", "ynn"]
    names = ["ann", "bob", "cy"]
    answers = {
        f"c{i}": {
            n: {"verify": "yes" if ch == "y" else "no"} for n, ch in zip(names, row, strict=True)
        }
        for i, row in enumerate(rows)
    }
    (result,) = item_agreement(answers)
    assert result.method == "fleiss"
    assert result.observed == pytest.approx(2 / 3)
    assert result.kappa == pytest.approx(1 / 3)


def test_incomplete_calls_are_left_out_and_unanimity_has_no_kappa() -> None:
    answers = {
        "c1": {"ann": {"x": "yes"}, "bob": {"x": "yes"}},
        "c2": {"ann": {"x": "yes"}, "bob": {"x": "yes"}},
        "c3": {"ann": {"x": "no"}},  # bob did not score it
    }
    (result,) = item_agreement(answers)
    assert result.calls == 2 and result.observed == 1.0 and result.kappa is None


def test_reviewer_deviation_from_expert_and_consensus() -> None:
    totals = {"c1": {"exp": 80, "ann": 90, "bob": 70}, "c2": {"exp": 60, "ann": 70, "bob": 60}}
    dev = {d.reviewer: d for d in reviewer_deviations(totals, expert="exp")}
    assert dev["ann"].mean_signed == 10 and dev["ann"].mean_absolute == 10
    assert dev["bob"].mean_signed == -5 and dev["bob"].mean_absolute == 5
    assert "exp" not in dev
    consensus = {d.reviewer: d for d in reviewer_deviations(totals)}
    # c1 mean 80, c2 mean 63.33: ann +10, +6.67 -> 8.33
    assert consensus["ann"].mean_signed == pytest.approx((10 + 20 / 3) / 2)
    icc, n = totals_icc(totals)
    assert n == 2 and icc is not None
