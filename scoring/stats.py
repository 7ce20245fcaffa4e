"""Estimates with their n and 95% interval: every score the product shows carries both.

Proportions use the Wilson score interval (well-behaved at 0%, 100% and small n);
means use Student's t interval. Both come from SciPy rather than hand-written formulas.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy.stats import binomtest
from scipy.stats import t as student_t

CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class Estimate:
    """A value with its sample size and 95% interval; value is None when n is 0."""

    value: float | None
    n: int
    ci95: tuple[float, float] | None

    def to_dict(self) -> dict[str, Any]:
        """`{"value", "n", "ci95": [lo, hi] | null}` as the scorecard JSON shows it."""
        return {
            "value": self.value,
            "n": self.n,
            "ci95": None if self.ci95 is None else [self.ci95[0], self.ci95[1]],
        }


EMPTY = Estimate(None, 0, None)


def proportion(successes: int, n: int) -> Estimate:
    """A share `successes / n` with its Wilson 95% interval.

    Raises:
        ValueError: when successes is negative or above n.
    """
    if n == 0:
        return EMPTY
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within 0..{n}, got {successes}")
    ci = binomtest(successes, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return Estimate(successes / n, n, (float(ci.low), float(ci.high)))


# Scores that are shares (courtesy, compliance, shop scores) cannot leave [0, 1].
UNIT = (0.0, 1.0)


def mean(values: Sequence[float], *, bounds: tuple[float, float] | None = None) -> Estimate:
    """The mean of `values` with Student's t 95% interval (no interval below n = 2).

    Args:
        values: the observations.
        bounds: the range every value lies in (e.g. `UNIT`): the interval is cut to it,
            since with few values the t interval reaches past what a score can be.
    """
    n = len(values)
    if n == 0:
        return EMPTY
    average = math.fsum(values) / n
    if n == 1:
        return Estimate(average, 1, None)
    variance = math.fsum((v - average) ** 2 for v in values) / (n - 1)
    half = float(student_t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * math.sqrt(variance / n)
    low, high = average - half, average + half
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return Estimate(average, n, (low, high))
