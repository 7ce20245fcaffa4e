"""Estimates with their n and 95% interval: every score the product shows carries both.

The intervals must hold at the small n of one agent's month (3, 5, 10 calls), where the
usual ones fail: Student's t on [0.8, 0.8, 0.8] is [0.8, 0.8], and the plain Wilson
interval covers a 95% share only 86% of the time at n = 3 (`benchmarks/intervals.py`
simulates agents and prints the coverage of each method). So:

- shares (FCR, transfer rate, in-band handle time) use the Wilson score interval with
  continuity correction (Newcombe 1998, method 4; SciPy's `wilsoncc`);
- means of scores bounded to [0, 1] (courtesy, compliance, shop scores) use the same
  interval on the mean: of all variables in [0, 1] with a given mean, the 0/1 one has the
  largest variance, so an interval that holds for shares holds for them (it is wider than
  a t interval when the scores vary little, and never zero-width);
- unbounded means (handle time in seconds) use Student's t.
"""

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy.stats import norm
from scipy.stats import t as student_t

CONFIDENCE = 0.95
Z95 = float(norm.ppf(0.5 + CONFIDENCE / 2))


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
    """A share `successes / n` with its continuity-corrected Wilson 95% interval.

    Raises:
        ValueError: when successes is negative or above n.
    """
    if n == 0:
        return EMPTY
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within 0..{n}, got {successes}")
    # The closed form equals SciPy's `wilsoncc` (tests/scoring/test_stats.py checks) and
    # costs microseconds where `binomtest` costs milliseconds: a team dashboard takes
    # hundreds of these.
    return Estimate(successes / n, n, share_interval(successes / n, n))


# Scores that are shares (courtesy, compliance, shop scores) cannot leave [0, 1].
UNIT = (0.0, 1.0)


def share_interval(share: float, n: int) -> tuple[float, float]:
    """The continuity-corrected Wilson 95% interval of a mean `share` in [0, 1] over `n`
    observations, which need not be 0 or 1 (`share * n` may be fractional).

    For whole successes it equals SciPy's `wilsoncc` (the tests check); SciPy only takes
    whole counts, hence Newcombe's closed form here.
    """
    z = Z95
    z2 = z * z
    p, q = share, 1.0 - share
    denominator = 2.0 * (n + z2)
    low = 0.0
    if p > 0:
        root = z * math.sqrt(max(z2 - 2.0 - 1.0 / n + 4.0 * p * (n * q + 1.0), 0.0))
        low = max(0.0, (2.0 * n * p + z2 - 1.0 - root) / denominator)
    high = 1.0
    if p < 1:
        root = z * math.sqrt(max(z2 + 2.0 - 1.0 / n + 4.0 * p * (n * q - 1.0), 0.0))
        high = min(1.0, (2.0 * n * p + z2 + 1.0 + root) / denominator)
    return low, high


def mean(values: Sequence[float], *, bounds: tuple[float, float] | None = None) -> Estimate:
    """The mean of `values` with a 95% interval.

    Args:
        values: the observations.
        bounds: the range every value lies in (e.g. `UNIT`): the mean is then treated as
            a share of that range and gets the share interval (at any n, one included);
            without bounds, Student's t interval (none below n = 2).
    """
    if bounds is not None:
        return bounded_mean(len(values), math.fsum(values), bounds)
    return mean_of_sums(len(values), math.fsum(values), math.fsum(v * v for v in values))


def bounded_mean(n: int, total: float, bounds: tuple[float, float] = UNIT) -> Estimate:
    """The mean `total / n` of `n` values that lie within `bounds`, with the share
    interval of `mean` (the sum is all it needs: the database can add the values up)."""
    if n == 0:
        return EMPTY
    average = total / n
    low_bound, high_bound = bounds
    span = high_bound - low_bound
    share = min(1.0, max(0.0, (average - low_bound) / span))
    low, high = share_interval(share, n)
    return Estimate(average, n, (low_bound + low * span, low_bound + high * span))


def mean_of_sums(n: int, total: float, total_sq: float) -> Estimate:
    """The mean of `n` unbounded values from their sum and sum of squares, with Student's
    t interval (none below n = 2).

    The variance comes from the two sums, so a month's figure can be added up by the
    database; for handle times (hundreds of seconds, thousands of calls) the rounding
    this costs is far below a millisecond.
    """
    if n == 0:
        return EMPTY
    average = total / n
    if n == 1:
        return Estimate(average, 1, None)
    spread = total_sq - n * average * average
    # Equal values leave only rounding error in `spread`: call that no spread at all.
    variance = spread / (n - 1) if spread > 1e-12 * total_sq else 0.0
    half = _t_quantile(n - 1) * math.sqrt(variance / n)
    return Estimate(average, n, (average - half, average + half))


@functools.lru_cache(maxsize=4096)
def _t_quantile(df: int) -> float:
    # SciPy's ppf costs a third of a millisecond: a page of 200 agents' cards asked for
    # it 400 times, with a few hundred distinct degrees of freedom at most.
    return float(student_t.ppf(0.5 + CONFIDENCE / 2, df))
