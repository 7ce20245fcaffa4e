"""Evaluation-form scoring: hand-computed cases and the invariants as properties."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.forms import (
    Form,
    FormError,
    FormItem,
    FormSection,
    merge_answers,
    parse_form,
    prefill_answers,
    score_evaluation,
)

FORM = parse_form(
    {
        "id": "f",
        "name": "Inbound",
        "sections": [
            {
                "id": "compliance",
                "weight": 2,
                "items": [
                    {"id": "verify", "critical": True, "key_point": "verify"},
                    {"id": "disclosure", "weight": 2, "key_point": "disclose"},
                ],
            },
            {
                "id": "soft",
                "weight": 1,
                "items": [
                    {"id": "tone", "type": "scale"},
                    {"id": "recap", "type": "partial", "key_point": "recap"},
                ],
            },
        ],
    }
)


@pytest.mark.parametrize(
    ("answers", "total", "critical"),
    [
        # compliance: 3/3 = 100 %, soft: (1 + 1)/2 = 100 % -> 100
        ({"verify": "yes", "disclosure": "yes", "tone": 5, "recap": "yes"}, 100.0, False),
        # compliance: verify 1 + disclosure 0 of 3 -> 33.33 %;
        # soft: tone 3 -> 0.5, recap partial 0.5 -> 50 %; total = (2 x 33.33 + 1 x 50) / 3 = 38.89
        (
            {"verify": "yes", "disclosure": "no", "tone": 3, "recap": "partial"},
            (2 * 100 / 3 + 50) / 3,
            False,
        ),
        # N/A leaves earned and possible: compliance 1/1; soft tone 1 -> 0 of 1 -> 0 %;
        # total (200 + 0)/3
        ({"verify": "yes", "disclosure": "na", "tone": 1, "recap": "na"}, 200 / 3, False),
        # critical miss: 0, items kept
        ({"verify": "no", "disclosure": "yes", "tone": 5, "recap": "yes"}, 0.0, True),
        # a whole section N/A drops out of the weighting
        ({"verify": "yes", "disclosure": "yes", "tone": "na", "recap": "na"}, 100.0, False),
    ],
)
def test_additive_scores(answers, total, critical) -> None:
    result = score_evaluation(FORM, answers)
    assert result.total == pytest.approx(total)
    assert result.critical_failed is critical
    assert len(result.items) == 4  # every item stays recorded


def test_critical_fail_keeps_item_results() -> None:
    result = score_evaluation(
        FORM, {"verify": "no", "disclosure": "yes", "tone": 5, "recap": "yes"}
    )
    by_id = {i.item_id: i for i in result.items}
    assert by_id["verify"].failed_critical and by_id["disclosure"].earned == 2
    assert result.sections[1].percent == 100


DEDUCTIVE = parse_form(
    {
        "id": "d",
        "scoring": "deductive",
        "sections": [
            {
                "items": [
                    {"id": "jargon", "type": "count", "deduction": 5},
                    {"id": "greeting", "deduction": 10},
                    {"id": "rude", "type": "count", "deduction": 20, "critical": True},
                ]
            }
        ],
    }
)


@pytest.mark.parametrize(
    ("answers", "total"),
    [
        ({"jargon": 0, "greeting": "yes", "rude": 0}, 100.0),
        ({"jargon": 3, "greeting": "no", "rude": 0}, 75.0),  # 100 - 15 - 10
        ({"jargon": 30, "greeting": "no", "rude": 0}, 0.0),  # floor at 0
        ({"jargon": 0, "greeting": "yes", "rude": 1}, 0.0),  # critical
    ],
)
def test_deductive_scores(answers, total) -> None:
    assert score_evaluation(DEDUCTIVE, answers).total == total


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"verify": "yes", "disclosure": "yes", "tone": 5}, "no answer"),
        ({"verify": "maybe", "disclosure": "yes", "tone": 5, "recap": "yes"}, "not a valid answer"),
        ({"verify": "yes", "disclosure": "yes", "tone": 9, "recap": "yes"}, "not a valid answer"),
        (
            {"verify": "yes", "disclosure": "yes", "tone": 5, "recap": "yes", "x": "yes"},
            "unknown item",
        ),
    ],
)
def test_bad_answers(answers, message) -> None:
    with pytest.raises(FormError, match=message):
        score_evaluation(FORM, answers)


def test_bad_form_names_the_field() -> None:
    with pytest.raises(FormError, match=r"sections\[0\].items\[1\].id"):
        parse_form({"sections": [{"items": [{"id": "a"}, {"id": "a"}]}]})
    with pytest.raises(FormError, match=r"sections\[0\].items\[0\].weight"):
        parse_form({"sections": [{"items": [{"id": "a", "weight": -1}]}]})


def test_prefill_from_key_points_and_reviewer_override() -> None:
    auto = prefill_answers(
        FORM, {"verify": (True, False), "disclose": (False, False), "recap": (True, True)}
    )
    assert auto == {"verify": "yes", "disclosure": "no"}  # uncertain recap left to the reviewer
    final = merge_answers(auto, {"disclosure": "yes", "tone": 4, "recap": "partial"})
    assert final == {"verify": "yes", "disclosure": "yes", "tone": 4, "recap": "partial"}
    assert auto["disclosure"] == "no"  # the prefilled answer is kept apart


answer = st.sampled_from(["yes", "no", "na"])
weights = st.floats(min_value=0.1, max_value=10, allow_nan=False)


def yes_no_form(
    item_weights: list[float], section_weight: float = 1.0, critical: bool = False
) -> Form:
    items = tuple(
        FormItem(f"i{n}", "", weight=w, critical=critical and n == 0)
        for n, w in enumerate(item_weights)
    )
    return Form("p", "p", (FormSection("s", "", items, section_weight),))


@given(st.lists(st.tuples(weights, answer), min_size=1, max_size=8), answer)
def test_na_item_is_neutral(items, _unused) -> None:
    form = yes_no_form([w for w, _ in items])
    answers = {f"i{n}": a for n, (_, a) in enumerate(items)}
    with_na = yes_no_form([w for w, _ in items] + [1.0])
    assert (
        score_evaluation(with_na, answers | {f"i{len(items)}": "na"}).total
        == score_evaluation(form, answers).total
    )


@given(
    st.lists(st.tuples(weights, answer), min_size=1, max_size=8),
    st.floats(min_value=0.1, max_value=100),
)
def test_weights_are_normalised(items, factor) -> None:
    answers = {f"i{n}": a for n, (_, a) in enumerate(items)}
    a = score_evaluation(yes_no_form([w for w, _ in items]), answers).total
    b = score_evaluation(
        yes_no_form([w * factor for w, _ in items], section_weight=factor), answers
    ).total
    assert (a is None and b is None) or a == pytest.approx(b)
    assert a is None or 0 <= a <= 100


@given(st.lists(st.tuples(weights, answer), min_size=1, max_size=8))
def test_failed_critical_means_zero(items) -> None:
    answers = {f"i{n}": a for n, (_, a) in enumerate(items)} | {"i0": "no"}
    assert score_evaluation(yes_no_form([w for w, _ in items], critical=True), answers).total == 0


@given(
    st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6),
    st.floats(min_value=0, max_value=40),
)
def test_deductions_never_go_below_zero(counts, deduction) -> None:
    items = tuple(
        FormItem(f"i{n}", "", type="count", deduction=deduction) for n in range(len(counts))
    )
    form = Form("d", "d", (FormSection("s", "", items),), scoring="deductive")
    total = score_evaluation(form, {f"i{n}": c for n, c in enumerate(counts)}).total
    assert total == pytest.approx(max(0.0, 100 - deduction * sum(counts)))
