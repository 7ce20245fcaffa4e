"""Calibration: how far reviewers who scored the same calls independently agree.

- Per item: observed agreement (share of reviewer pairs giving the same answer, averaged
  over calls) and chance-corrected agreement: Cohen's kappa for two reviewers, Fleiss'
  kappa for three or more (statsmodels' implementations).
- Totals: ICC(2,1), two-way random effects, absolute agreement, single rater
  (Shrout & Fleiss 1979), from the two-way ANOVA mean squares.
- Per reviewer: mean signed and absolute deviation of their totals from the baseline,
  the expert's total when one is named, else the consensus (mean of all reviewers).

Only calls scored by every reviewer of the session enter kappa and ICC, since both
assume a complete design.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

# call id -> reviewer -> item id -> answer ("yes", "no", "na", "3", ...)
Answers = Mapping[str, Mapping[str, Mapping[str, str]]]
# call id -> reviewer -> total score
Totals = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True, slots=True)
class ItemAgreement:
    """Agreement on one form item or key point across the calibrated calls."""

    item_id: str
    calls: int
    observed: float | None
    kappa: float | None
    method: str  # "cohen" | "fleiss" | ""


@dataclass(frozen=True, slots=True)
class ReviewerDeviation:
    """How one reviewer's totals differ from the baseline (positive: more lenient)."""

    reviewer: str
    calls: int
    mean_signed: float | None
    mean_absolute: float | None


def _complete_calls(answers: Answers, item: str, reviewers: Sequence[str]) -> list[list[str]]:
    rows = []
    for by_reviewer in answers.values():
        row = [by_reviewer.get(r, {}).get(item) for r in reviewers]
        if all(a is not None for a in row):
            rows.append([str(a) for a in row])
    return rows


def _kappa(rows: list[list[str]]) -> tuple[float | None, str]:
    categories = sorted({a for row in rows for a in row})
    if len(categories) < 2:
        # Everyone gave the same single answer: agreement is perfect, kappa undefined.
        return None, ""
    # statsmodels takes over a second to import: only sessions that compute kappa pay it.
    from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

    codes = np.array([[categories.index(a) for a in row] for row in rows])
    if codes.shape[1] == 2:
        table = np.zeros((len(categories), len(categories)))
        for a, b in codes:
            table[a, b] += 1
        return float(cohens_kappa(table, return_results=False)), "cohen"
    counts, _ = aggregate_raters(codes, n_cat=len(categories))
    return float(fleiss_kappa(counts, method="fleiss")), "fleiss"


def item_agreement(answers: Answers) -> list[ItemAgreement]:
    """Observed agreement and kappa per item, over calls every reviewer scored."""
    reviewers = sorted({r for by_reviewer in answers.values() for r in by_reviewer})
    items = sorted({i for by_reviewer in answers.values() for a in by_reviewer.values() for i in a})
    results = []
    for item in items:
        rows = _complete_calls(answers, item, reviewers)
        if not rows or len(reviewers) < 2:
            results.append(ItemAgreement(item, len(rows), None, None, ""))
            continue
        pairs = [
            sum(x == y for x, y in combinations(row, 2)) / math.comb(len(row), 2) for row in rows
        ]
        kappa, method = _kappa(rows)
        results.append(ItemAgreement(item, len(rows), sum(pairs) / len(pairs), kappa, method))
    return results


def icc_2_1(matrix: Sequence[Sequence[float]]) -> float | None:
    """ICC(2,1) of an n-calls x k-reviewers matrix of totals (None below 2 x 2)."""
    x = np.asarray(matrix, dtype=float)
    if x.ndim != 2 or x.shape[0] < 2 or x.shape[1] < 2:
        return None
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_error = ((x - grand) ** 2).sum() - ss_rows - ss_cols
    ms_rows = ss_rows / (n - 1)
    ms_cols = ss_cols / (k - 1)
    ms_error = ss_error / ((n - 1) * (k - 1))
    denominator = ms_rows + (k - 1) * ms_error + k * (ms_cols - ms_error) / n
    if denominator == 0:
        return None
    return float((ms_rows - ms_error) / denominator)


def totals_icc(totals: Totals) -> tuple[float | None, int]:
    """ICC(2,1) over the calls every reviewer scored, and how many calls that was."""
    reviewers = sorted({r for by_reviewer in totals.values() for r in by_reviewer})
    rows = [
        [by_reviewer[r] for r in reviewers]
        for by_reviewer in totals.values()
        if all(r in by_reviewer for r in reviewers)
    ]
    return icc_2_1(rows), len(rows)


def reviewer_deviations(totals: Totals, *, expert: str | None = None) -> list[ReviewerDeviation]:
    """Each reviewer's deviation from the expert's total (if named) or the consensus mean."""
    diffs: dict[str, list[float]] = {}
    for by_reviewer in totals.values():
        if expert is not None:
            if expert not in by_reviewer:
                continue
            baseline = by_reviewer[expert]
        else:
            baseline = sum(by_reviewer.values()) / len(by_reviewer)
        for reviewer, total in by_reviewer.items():
            if reviewer != expert:
                diffs.setdefault(reviewer, []).append(total - baseline)
    return [
        ReviewerDeviation(
            reviewer,
            len(values),
            sum(values) / len(values) if values else None,
            sum(abs(v) for v in values) / len(values) if values else None,
        )
        for reviewer, values in sorted(diffs.items())
    ]
