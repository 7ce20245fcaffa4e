"""Intervals against hand-computed values."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.stats import UNIT, mean, proportion


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(7, 10), (0, 5), (5, 5), (1, 1), (480, 600)])
def test_proportion_is_wilson(k: int, n: int) -> None:
    est = proportion(k, n)
    assert est.value == pytest.approx(k / n) and est.n == n
    assert est.ci95 == pytest.approx(wilson(k, n), abs=1e-9)


def test_seven_of_ten_by_hand() -> None:
    # p = 0.7, z = 1.96: centre 0.6423, half-width 0.2474 -> [0.3968, 0.8922]
    assert proportion(7, 10).ci95 == pytest.approx((0.3968, 0.8922), abs=1e-4)


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


def test_a_bounded_mean_keeps_its_interval_inside_the_bounds() -> None:
    # Three shop scores 1, 1, 0.5: mean 0.833, t half-width 0.717 -> [0.116, 1.55] unbounded.
    loose = mean([1.0, 1.0, 0.5])
    assert loose.ci95 is not None and loose.ci95[1] > 1.5
    est = mean([1.0, 1.0, 0.5], bounds=UNIT)
    assert est.value == loose.value
    assert est.ci95 == pytest.approx((loose.ci95[0], 1.0))


@given(
    st.integers(min_value=1, max_value=500).flatmap(
        lambda n: st.tuples(st.integers(0, n), st.just(n))
    )
)
def test_wilson_interval_contains_the_estimate_and_stays_in_0_1(kn: tuple[int, int]) -> None:
    k, n = kn
    est = proportion(k, n)
    assert est.ci95 is not None and est.value is not None
    lo, hi = est.ci95
    assert 0 <= lo <= est.value <= hi <= 1 + 1e-12
