"""Calibrating the semantic stage: fitting its cosine anchors to labelled calls.

An `EmbeddingMatcher` turns a cosine into a score between two anchors (`low` scores 0,
`high` scores 1) and the cascade holds that score to the same length-aware thresholds
as the string matchers. Which cosines mean "unrelated" and "says the same" depends on
the model and on a site's scripts, so the anchors are fitted, not guessed:

1. the labelled calls (a truth file in the key-point benchmark's format, or reviewers'
   key-point overrides) are split into a training part and a held-out part by a seeded
   hash of the call id, so the same calls always land on the same side;
2. every (low, high) pair of a grid is tried on the training part with the real checker
   (`check_call`, every rule included), scoring micro precision / recall / F1 over the
   labelled items only;
3. the pair with the best training F1 wins; among pairs tied on F1 (the F1 surface is
   flat where few labels depend on the semantic stage), the one whose grid neighbours
   score best on average (the most robust pair), then the better precision;
4. the held-out part is scored with the winner, with the anchors in use before and with
   the string matchers alone, so a site sees what the change buys on calls the fit never
   saw.

The embeddings are computed once (the matcher's cache); each grid point only re-runs
the checker.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scoring.keypoints import check_call
from scoring.script import Script
from scoring.semantic import Anchors, EmbeddingMatcher, semantic_texts
from scoring.transcript import CallTranscript

# The grid: "unrelated" cosines from 0.10 to 0.60, "says the same" from 0.15 above that
# up to 0.95, in steps of 0.05 (about 90 pairs).
LOWS = tuple(round(float(x), 2) for x in np.arange(0.10, 0.601, 0.05))
HIGHS = tuple(round(float(x), 2) for x in np.arange(0.40, 0.951, 0.05))
MIN_GAP = 0.15


class AnchorFitError(ValueError):
    """The labelled calls cannot support a fit (too few, or no labels)."""


@dataclass(frozen=True, slots=True)
class LabelledCall:
    """A call, its script and the truth of some of its items (key points or forbidden)."""

    call_id: str
    script: Script
    transcript: CallTranscript
    labels: Mapping[str, bool]


@dataclass(frozen=True, slots=True)
class Counts:
    """Micro counts over labelled items: true positives, false positives, misses."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    items: int = 0

    @property
    def precision(self) -> float:
        """Share of predicted hits that are true (1.0 with none predicted)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """Share of true hits found (1.0 with none to find)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True)
class Fit:
    """The fitted anchors and what they score, on the training and the held-out calls."""

    anchors: Anchors
    train: Counts
    held_out: Counts | None
    held_out_before: Counts | None
    held_out_strings: Counts | None
    train_calls: int
    held_out_calls: int
    grid_points: int


def score_calls(calls: Sequence[LabelledCall], matcher: EmbeddingMatcher | None) -> Counts:
    """Micro counts of the checker's hits against the labels of `calls`."""
    tp = fp = fn = items = 0
    for call in calls:
        result = check_call(call.script, call.transcript, matcher=matcher)
        got = {r.id: r.hit for r in (*result.key_points, *result.forbidden)}
        for item, truth in call.labels.items():
            if item not in got:
                continue  # an item the script no longer has
            guess = got[item]
            tp += guess and truth
            fp += guess and not truth
            fn += truth and not guess
            items += 1
    return Counts(tp, fp, fn, items)


def split(
    calls: Sequence[LabelledCall], held_out: float, seed: int
) -> tuple[list[LabelledCall], list[LabelledCall]]:
    """Training and held-out calls: the `held_out` share with the lowest seeded hashes."""

    def key(call: LabelledCall) -> str:
        return hashlib.sha256(f"{seed}:{call.call_id}".encode()).hexdigest()

    ordered = sorted(calls, key=key)
    cut = round(len(ordered) * held_out)
    return ordered[cut:], ordered[:cut]


def fit_anchors(
    calls: Sequence[LabelledCall],
    matcher: EmbeddingMatcher,
    *,
    held_out: float = 0.5,
    seed: int = 0,
    lows: Sequence[float] = LOWS,
    highs: Sequence[float] = HIGHS,
) -> Fit:
    """Fit `matcher`'s anchors on labelled calls by maximising the training F1.

    `held_out` is the share of calls kept out of the fit and scored afterwards (0: fit
    on every call, report no held-out figures).

    Raises:
        AnchorFitError: no labelled item, or too few calls for the split.
    """
    if not 0 <= held_out < 1:
        raise AnchorFitError(f"the held-out share must be in [0, 1), got {held_out}")
    labelled = [c for c in calls if c.labels]
    if not labelled:
        raise AnchorFitError("no labelled key point or forbidden item in the calls given")
    train, test = split(labelled, held_out, seed)
    if not train or (held_out and not test):
        raise AnchorFitError(
            f"{len(labelled)} labelled call(s) cannot be split into training and held-out "
            "calls; label more calls or use a held-out share of 0"
        )
    # Every text is embedded once, here, in batches; the grid only looks vectors up.
    for call in labelled:
        matcher.warm(semantic_texts(call.script, call.transcript))
    grid: dict[tuple[int, int], Counts] = {}
    for i, low in enumerate(lows):
        for j, high in enumerate(highs):
            if high - low >= MIN_GAP - 1e-9:
                grid[(i, j)] = score_calls(train, matcher.with_anchors(low, high))
    if not grid:
        raise AnchorFitError("the anchor grid is empty: every high must exceed its low")

    def neighbours(i: int, j: int) -> float:
        near = [
            grid[(i + di, j + dj)].f1
            for di in (-1, 0, 1)
            for dj in (-1, 0, 1)
            if (di or dj) and (i + di, j + dj) in grid
        ]
        return sum(near) / len(near) if near else 0.0

    i, j = max(grid, key=lambda k: (grid[k].f1, neighbours(*k), grid[k].precision))
    best_anchors, best_counts, points = Anchors(lows[i], highs[j]), grid[(i, j)], len(grid)
    fitted = matcher.with_anchors(best_anchors.low, best_anchors.high)
    return Fit(
        anchors=best_anchors,
        train=best_counts,
        held_out=score_calls(test, fitted) if test else None,
        held_out_before=score_calls(test, matcher) if test else None,
        held_out_strings=score_calls(test, None) if test else None,
        train_calls=len(train),
        held_out_calls=len(test),
        grid_points=points,
    )
