"""Intervals against hand-computed values and SciPy."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.stats import UNIT, mean, proportion, share_interval


def wilson_cc(k: float, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Newcombe (1998) method 4, written out from the paper's formulas."""
    p, q = k / n, 1 - k / n
    lo = (2 * n * p + z * z - 1 - z * math.sqrt(z * z - 2 - 1 / n + 4 * p * (n * q + 1))) / (
        2 * (n + z * z)
    )
    hi = (2 * n * p + z * z + 1 + z * math.sqrt(z * z + 2 - 1 / n + 4 * p * (n * q - 1))) / (
        2 * (n + z * z)
    )
    return (0.0 if k == 0 else lo), (1.0 if k == n else hi)


@pytest.mark.parametrize(("k", "n"), [(7, 10), (0, 5), (5, 5), (1, 1), (1, 3), (480, 600)])
def test_proportion_is_wilson_with_continuity_correction(k: int, n: int) -> None:
    est = proportion(k, n)
    assert est.value == pytest.approx(k / n) and est.n == n
    assert est.ci95 == pytest.approx(wilson_cc(k, n), abs=1e-9)


def test_seven_of_ten_by_hand() -> None:
    # p = 0.7, n = 10, z = 1.96: Newcombe's method 4 gives [0.3537, 0.9191] (the plain
    # Wilson interval, [0.3968, 0.8922], covers too little at small n).
    assert proportion(7, 10).ci95 == pytest.approx((0.3537, 0.9191), abs=1e-4)


@pytest.mark.parametrize(("k", "n"), [(0, 4), (1, 4), (3, 7), (7, 7), (19, 20), (1, 1)])
def test_the_share_interval_matches_scipy_on_whole_counts(k: int, n: int) -> None:
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(method="wilsoncc")
    assert share_interval(k / n, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_empty_and_invalid() -> None:
    assert proportion(0, 0).to_dict() == {"value": None, "n": 0, "ci95": None}
    assert mean([]).value is None
    with pytest.raises(ValueError):
        proportion(3, 2)


def test_mean_t_interval_by_hand() -> None:
    # values 2, 4, 6: mean 4, sd 2, se 2/sqrt(3) = 1.1547, t(0.975, 2) = 4.3027 -> half 4.9683
    est = mean([2.0, 4.0, 6.0])
    assert est.value == 4.0 and est.n == 3
    assert est.ci95 == pytest.approx((4 - 4.9683, 4 + 4.9683), abs=1e-3)
    assert mean([5.0]).ci95 is None


def test_a_bounded_mean_gets_the_share_interval_never_zero_width() -> None:
    # Three calls with the same courtesy 0.8: the t interval was [0.8, 0.8]; the share
    # interval of 0.8 over 3 (2.4 "successes") is wide, as three calls are.
    est = mean([0.8, 0.8, 0.8], bounds=UNIT)
    assert est.value == pytest.approx(0.8) and est.ci95 is not None
    assert est.ci95 == pytest.approx(wilson_cc(2.4, 3), abs=1e-9)
    lo, hi = est.ci95
    assert lo < 0.5 and hi > 0.95
    # One call still has an interval (the whole range but what one call rules out).
    single = mean([1.0], bounds=UNIT)
    assert single.ci95 is not None and single.ci95[1] == 1.0 and 0 < single.ci95[0] < 0.1


def test_a_bounded_mean_on_another_range_is_scaled() -> None:
    est = mean([2.0, 4.0, 4.0], bounds=(0.0, 4.0))
    share = mean([0.5, 1.0, 1.0], bounds=UNIT)
    assert est.ci95 is not None and share.ci95 is not None
    assert est.ci95 == pytest.approx((share.ci95[0] * 4, share.ci95[1] * 4))


@given(
    st.integers(min_value=1, max_value=500).flatmap(
        lambda n: st.tuples(st.integers(0, n), st.just(n))
    )
)
def test_the_interval_contains_the_estimate_and_stays_in_0_1(kn: tuple[int, int]) -> None:
    k, n = kn
    est = proportion(k, n)
    assert est.ci95 is not None and est.value is not None
    lo, hi = est.ci95
    assert 0 <= lo <= est.value <= hi <= 1 + 1e-12
