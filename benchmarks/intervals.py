"""Benchmark: do the scorecard's 95% intervals hold at one agent's small n? (issue 12)

Simulates agents whose per-call figures follow a known distribution (so the true mean is
known), draws n = 3..50 calls per agent many times, and counts how often the interval
the product shows (`scoring.stats.proportion` for 0/1 outcomes, `scoring.stats.mean`
with `bounds=UNIT` for scores in [0, 1]) contains the true mean. Target: at least 93%
for every distribution and n. For comparison it prints what Student's t (the method
before) and the plain Wilson interval would give on the same draws, and the product's
mean width.

The distributions stand for what a QA site sees: FCR-like shares from 50% to 98%,
courtesy and compliance scores that are mostly high with rare bad calls (the case where
three identical calls made the t interval zero-width), smooth Beta-shaped scores and a
few-step rubric.

    python benchmarks/intervals.py [--draws 4000] [--seed 7]
"""

import argparse
import math
import random
import statistics
import time
from collections.abc import Callable

from scipy.stats import binomtest
from scipy.stats import t as student_t

from scoring.stats import UNIT, Estimate, mean, proportion

TARGET = 0.93
SIZES = (3, 5, 8, 10, 15, 20, 30, 50)

Draw = Callable[[random.Random], float]


def _two_point(p_high: float, high: float, low: float) -> Draw:
    return lambda rng: high if rng.random() < p_high else low


def _steps(values: tuple[float, ...], weights: tuple[float, ...]) -> Draw:
    return lambda rng: rng.choices(values, weights)[0]


def _beta(a: float, b: float) -> Draw:
    return lambda rng: rng.betavariate(a, b)


# name -> (draw one call's figure, whether it is a 0/1 outcome, true mean)
DISTRIBUTIONS: dict[str, tuple[Draw, bool, float]] = {
    "share 50%": (_two_point(0.50, 1.0, 0.0), True, 0.50),
    "share 85%": (_two_point(0.85, 1.0, 0.0), True, 0.85),
    "share 95%": (_two_point(0.95, 1.0, 0.0), True, 0.95),
    "share 98%": (_two_point(0.98, 1.0, 0.0), True, 0.98),
    "score .8, 10% at .3": (_two_point(0.90, 0.8, 0.3), False, 0.9 * 0.8 + 0.1 * 0.3),
    "score 1, 5% at .5": (_two_point(0.95, 1.0, 0.5), False, 0.95 + 0.05 * 0.5),
    "score 1, 3% at 0": (_two_point(0.97, 1.0, 0.0), False, 0.97),
    "rubric .6/.8/1": (_steps((0.6, 0.8, 1.0), (0.1, 0.3, 0.6)), False, 0.06 + 0.24 + 0.6),
    "beta(8, 2)": (_beta(8, 2), False, 0.8),
    "beta(40, 10)": (_beta(40, 10), False, 0.8),
}


def _product(values: list[float], binary: bool) -> Estimate:
    if binary:
        return proportion(int(sum(values)), len(values))
    return mean(values, bounds=UNIT)


def _t_interval(values: list[float]) -> tuple[float, float]:
    n = len(values)
    average = statistics.fmean(values)
    spread = statistics.stdev(values)
    half = float(student_t.ppf(0.975, n - 1)) * spread / math.sqrt(n)
    return max(0.0, average - half), min(1.0, average + half)


def _wilson(values: list[float]) -> tuple[float, float]:
    # Plain Wilson on the mean (whole successes only: the shares).
    ci = binomtest(round(sum(values)), len(values)).proportion_ci(method="wilson")
    return float(ci.low), float(ci.high)


def _covers(interval: tuple[float, float] | None, truth: float) -> bool:
    return interval is not None and interval[0] - 1e-12 <= truth <= interval[1] + 1e-12


def _table(title: str, rows: dict[str, list[str]]) -> None:
    print(title)
    header = f"{'distribution':22s}" + "".join(f"{'n=' + str(n):>8s}" for n in SIZES)
    print(header)
    print("-" * len(header))
    for name, cells in rows.items():
        print(f"{name:22s}" + "".join(f"{c:>8s}" for c in cells))
    print()


def main() -> None:
    """Print coverage per distribution and n; say whether every cell meets the target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=2000, help="simulated agents per cell")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    ours_rows: dict[str, list[str]] = {}
    before_rows: dict[str, list[str]] = {}
    wilson_rows: dict[str, list[str]] = {}
    width_rows: dict[str, list[str]] = {}
    worst = 1.0
    for name, (draw, binary, truth) in DISTRIBUTIONS.items():
        for rows in (ours_rows, before_rows, width_rows):
            rows[name] = []
        if binary:
            wilson_rows[name] = []
        for n in SIZES:
            ours = t_hits = wilson_hits = 0
            widths = []
            for _ in range(args.draws):
                values = [draw(rng) for _ in range(n)]
                estimate = _product(values, binary)
                ours += _covers(estimate.ci95, truth)
                if estimate.ci95 is not None:
                    widths.append(estimate.ci95[1] - estimate.ci95[0])
                t_hits += _covers(_t_interval(values), truth)
                if binary:
                    wilson_hits += _covers(_wilson(values), truth)
            coverage = ours / args.draws
            worst = min(worst, coverage)
            ours_rows[name].append(f"{coverage:.1%}")
            before_rows[name].append(f"{t_hits / args.draws:.1%}")
            if binary:
                wilson_rows[name].append(f"{wilson_hits / args.draws:.1%}")
            width_rows[name].append(f"{statistics.fmean(widths):.2f}" if widths else "-")
    print(f"95% interval coverage over {args.draws:,} simulated agents per cell\n")
    _table("the product's intervals (Wilson with continuity correction):", ours_rows)
    _table("Student's t, cut to [0, 1] (the method before, for scores):", before_rows)
    _table("plain Wilson (the method before, for shares):", wilson_rows)
    _table("the product's mean interval width:", width_rows)
    verdict = "yes" if worst >= TARGET else "NO"
    print(
        f"lowest coverage of the product's intervals: {worst:.1%} "
        f"(target >= {TARGET:.0%}): {verdict}; {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
