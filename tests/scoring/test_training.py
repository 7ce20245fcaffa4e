"""Training plans from repeated gaps, and follow-ups."""

import pytest

from scoring.stats import Estimate
from scoring.training import (
    KeyPointTally,
    TrainingRules,
    find_gaps,
    follow_up,
    load_catalog,
    parse_catalog,
    plan,
)

CATALOG = load_catalog()


def test_default_catalog_covers_every_kind_of_criterion() -> None:
    assert CATALOG.module_for("key_point:verify").id == "identity-verification"
    assert CATALOG.module_for("key_point:some_new_point").id == "script-adherence"  # wildcard
    assert CATALOG.module_for("metric:fcr").id == "first-contact-resolution"
    assert CATALOG.module_for("mystery:closing").id == "closing-the-call"
    assert CATALOG.module_for("metric:unknown") is None


def test_plan_orders_by_frequency_times_impact() -> None:
    gaps = find_gaps(
        key_points=[
            KeyPointTally("a", "verify", missed=3, checked=10, critical=True),  # 0.3 x 3 = 0.9
            KeyPointTally("a", "closing", missed=6, checked=10),  # 0.6 x 1 = 0.6
            KeyPointTally("a", "greeting", missed=2, checked=10),  # 20 % < 30 %: no gap
            KeyPointTally("b", "closing", missed=4, checked=4),  # only 4 calls < min 5: no gap
        ],
        metrics={
            "a": {"fcr": Estimate(0.5, 20, (0.3, 0.7)), "transfer_rate": Estimate(0.1, 20, None)},
            "b": {"transfer_rate": Estimate(0.3, 10, None)},  # 0.15 above the 0.15 target
        },
        mystery={("a", "closing"): (1, 2), ("b", "verify"): (0, 2)},
    )
    assignments = plan(gaps, CATALOG)
    a = [x for x in assignments if x.agent_id == "a"]
    assert [x.module.id for x in a] == [
        "closing-the-call",
        "identity-verification",
        "first-contact-resolution",
    ]
    closing = a[0]
    assert {g.criterion for g in closing.gaps} == {"key_point:closing", "mystery:closing"}
    assert closing.priority == pytest.approx(0.6 + 0.5)
    assert a[1].priority == pytest.approx(0.9)
    assert a[2].gaps[0].evidence == "50% over 20, below the 70% target"
    b = [x for x in assignments if x.agent_id == "b"]
    assert [x.module.id for x in b] == ["first-contact-resolution"]
    assert b[0].to_dict()["criteria"][0]["criterion"] == "metric:transfer_rate"


def test_rules_are_parameters() -> None:
    strict = TrainingRules(miss_rate=0.1, min_calls=1)
    gaps = find_gaps(key_points=[KeyPointTally("a", "greeting", 1, 5)], rules=strict)
    assert [g.criterion for g in gaps["a"]] == ["key_point:greeting"]


def test_follow_up_compares_before_and_after() -> None:
    result = follow_up("key_point:verify", before=(4, 10), after=(9, 10))
    assert result.change == pytest.approx(0.5)
    assert result.after.ci95 is not None
    assert follow_up("key_point:verify", (4, 10), (0, 0)).change is None


def test_bad_catalog_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"modules\[0\]"):
        parse_catalog({"modules": [{"id": "x"}]})
    with pytest.raises(ValueError, match="criteria"):
        parse_catalog({"modules": [{"id": "x", "title": "X", "criteria": ["verify"]}]})
