"""Evaluation forms: sections and items, additive or deductive scoring, critical items.

Additive scoring: each item earns `weight x fraction` of `weight` possible (yes 1,
partial 0.5, no 0; a 1-5 scale maps to 0, 0.25, ..., 1); N/A items leave both earned
and possible. A section scores earned / possible; the total is the section-weighted
mean of section scores, x 100, over sections with anything applicable.

Deductive scoring (扣分制): start at 100, take off each item's `deduction` per
occurrence, never below 0.

In both, a failed critical item (answered "no", or any occurrence in deductive mode)
makes the evaluation 0, while every item's own result stays recorded for coaching.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from scoring.messages import N_, render
from scoring.script import ID_PATTERN, MAX_LABEL

ItemType = Literal["yes_no", "partial", "scale", "count"]
Answer = str | int  # "yes" | "no" | "partial" | "na" | 1..5 (scale) | occurrences (count)
ITEM_TYPES: tuple[ItemType, ...] = ("yes_no", "partial", "scale", "count")


class FormError(ValueError):
    """A form definition or an answer is invalid: `field` names the field path (or the
    item; None for the form as a whole), the reason is an English `template` with its
    `params` that the application translates (scoring.messages); `str()` is
    "field: reason" in English."""

    def __init__(
        self, field: str | None, template: str, params: Mapping[str, Any] | None = None
    ) -> None:
        self.field = field
        self.template = template
        self.params = dict(params or {})
        self.reason = render(template, self.params)
        super().__init__(f"{field}: {self.reason}" if field else self.reason)


@dataclass(frozen=True, slots=True)
class FormItem:
    """One question. `key_point` links it to a script key point for prefilling."""

    id: str
    label: str
    type: ItemType = "yes_no"
    weight: float = 1.0
    critical: bool = False
    na_allowed: bool = True
    deduction: float = 0.0
    key_point: str | None = None


@dataclass(frozen=True, slots=True)
class FormSection:
    """A group of items with its own weight in the total."""

    id: str
    label: str
    items: tuple[FormItem, ...]
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Form:
    """An evaluation form."""

    id: str
    name: str
    sections: tuple[FormSection, ...]
    scoring: Literal["additive", "deductive"] = "additive"

    def items(self) -> dict[str, FormItem]:
        """Every item by id."""
        return {item.id: item for section in self.sections for item in section.items}


@dataclass(frozen=True, slots=True)
class ItemScore:
    """One item's result; `earned`/`possible` are 0 when N/A."""

    item_id: str
    answer: Answer
    earned: float
    possible: float
    na: bool
    failed_critical: bool


@dataclass(frozen=True, slots=True)
class SectionScore:
    """One section's earned and possible points."""

    section_id: str
    earned: float
    possible: float

    @property
    def percent(self) -> float | None:
        """earned / possible x 100, None when nothing in the section applied."""
        return 100 * self.earned / self.possible if self.possible else None


@dataclass(frozen=True, slots=True)
class EvaluationScore:
    """The evaluation's total (0-100) with every section and item kept."""

    total: float | None
    critical_failed: bool
    sections: tuple[SectionScore, ...]
    items: tuple[ItemScore, ...]


def _fraction(item: FormItem, answer: Answer) -> float | None:
    """The item's score in [0, 1], or None for N/A."""
    if answer == "na":
        if not item.na_allowed:
            raise FormError(item.id, N_("N/A is not allowed"))
        return None
    if item.type == "yes_no" and answer in ("yes", "no"):
        return 1.0 if answer == "yes" else 0.0
    if item.type == "partial" and answer in ("yes", "partial", "no"):
        return {"yes": 1.0, "partial": 0.5, "no": 0.0}[str(answer)]
    if item.type == "scale" and isinstance(answer, int) and 1 <= answer <= 5:
        return (answer - 1) / 4
    if item.type == "count" and isinstance(answer, int) and answer >= 0:
        return 1.0 if answer == 0 else 0.0
    raise invalid_answer(item, answer)


def invalid_answer(item: FormItem, answer: object) -> FormError:
    """The error for an answer that `item`'s type does not take."""
    return FormError(
        item.id,
        N_("%(answer)s is not a valid answer for a %(type)s item"),
        {"answer": repr(answer), "type": item.type},
    )


def score_evaluation(form: Form, answers: Mapping[str, Answer]) -> EvaluationScore:
    """Score `answers` (item id -> answer) on `form`.

    Raises:
        FormError: for an unknown item id, a missing answer or an invalid one.
    """
    known = form.items()
    unknown = sorted(set(answers) - set(known))
    if unknown:
        raise FormError(
            None, N_("answers for unknown item(s): %(items)s"), {"items": ", ".join(unknown)}
        )
    missing = sorted(set(known) - set(answers))
    if missing:
        raise FormError(None, N_("no answer for item(s): %(items)s"), {"items": ", ".join(missing)})
    items: list[ItemScore] = []
    sections: list[SectionScore] = []
    deducted = 0.0
    for section in form.sections:
        earned = possible = 0.0
        for item in section.items:
            answer = answers[item.id]
            fraction = _fraction(item, answer)
            na = fraction is None
            item_earned = 0.0 if na else item.weight * (fraction or 0.0)
            item_possible = 0.0 if na else item.weight
            failed = item.critical and not na and (fraction or 0.0) < 1.0
            if form.scoring == "deductive" and not na:
                occurrences = answer if item.type == "count" else int(fraction == 0.0)
                deducted += item.deduction * float(occurrences)
            earned += item_earned
            possible += item_possible
            items.append(ItemScore(item.id, answer, item_earned, item_possible, na, failed))
        sections.append(SectionScore(section.id, earned, possible))
    critical = any(i.failed_critical for i in items)
    total: float | None
    if form.scoring == "deductive":
        total = max(0.0, 100.0 - deducted)
    else:
        weighted = [
            (s.weight, sc) for s, sc in zip(form.sections, sections, strict=True) if sc.possible
        ]
        weight_sum = sum(w for w, _ in weighted)
        total = None
        if weight_sum:
            # Clamped: weight x fraction sums can overshoot 100 by a rounding error.
            total = min(100.0, sum(w * (sc.percent or 0.0) for w, sc in weighted) / weight_sum)
    if critical:
        total = 0.0
    return EvaluationScore(total, critical, tuple(sections), tuple(items))


def prefill_answers(form: Form, key_points: Mapping[str, tuple[bool, bool]]) -> dict[str, Answer]:
    """Answers suggested by the key-point check: item id -> "yes"/"no".

    Args:
        form: the form; items with `key_point` set are prefilled.
        key_points: key-point id -> (hit, uncertain). Uncertain results are not
            prefilled: a person has to decide them.
    """
    answers: dict[str, Answer] = {}
    for item in form.items().values():
        if item.key_point is None or item.key_point not in key_points:
            continue
        hit, uncertain = key_points[item.key_point]
        if uncertain:
            continue
        if item.type in ("yes_no", "partial"):
            answers[item.id] = "yes" if hit else "no"
    return answers


def merge_answers(
    prefilled: Mapping[str, Answer], reviewer: Mapping[str, Answer]
) -> dict[str, Answer]:
    """The final answers: the reviewer's override the prefilled ones (both are kept apart)."""
    return {**prefilled, **reviewer}


MAX_DEDUCTION = 100.0  # points: a deduction can take the whole score, no more


def _number(raw: Any, field: str, *, default: float, positive: bool, high: float) -> float:
    """A finite number (above zero when `positive`, else zero or more) up to `high`.

    NaN and the infinities are refused: either would make every total NaN.
    """
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise FormError(field, N_("expected a number, got %(value)s"), {"value": repr(raw)})
    try:
        number = float(raw)
    except OverflowError:  # an integer too large for a float
        number = math.inf
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        if positive:
            raise FormError(
                field, N_("expected a finite number above 0, got %(value)s"), {"value": repr(raw)}
            )
        raise FormError(
            field, N_("expected a finite number >= 0, got %(value)s"), {"value": repr(raw)}
        )
    if number > high:
        raise FormError(
            field,
            N_("must be %(max)s or less, got %(value)s"),
            {"max": f"{high:g}", "value": repr(raw)},
        )
    return number


def _weight(raw: Any, field: str) -> float:
    return _number(raw, field, default=1.0, positive=True, high=1e6)


def _id(raw: Any, field: str) -> str:
    if not isinstance(raw, str) or not ID_PATTERN.fullmatch(raw):
        raise FormError(
            field,
            N_(
                "%(value)s is not an id: use 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            ),
            {"value": repr(raw)},
        )
    return raw


def _label(raw: Any, field: str, default: str) -> str:
    if raw is None:
        return default
    if not isinstance(raw, str) or len(raw) > MAX_LABEL:
        raise FormError(
            field, N_("expected a text of at most %(max)s characters"), {"max": MAX_LABEL}
        )
    return raw


def parse_form(data: Mapping[str, Any]) -> Form:
    """Build a form from its YAML/JSON structure, naming the field of any error."""
    if not isinstance(data, Mapping):
        raise FormError("(document)", N_("expected an object"))
    sections = []
    seen: set[str] = set()
    raw_sections = data.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections:
        raise FormError("sections", N_("expected a non-empty list"))
    for s, raw in enumerate(raw_sections):
        if not isinstance(raw, Mapping):
            raise FormError(f"sections[{s}]", N_("expected an object"))
        raw_items = raw.get("items") or []
        if not isinstance(raw_items, list):
            raise FormError(f"sections[{s}].items", N_("expected a non-empty list"))
        items = []
        for i, item in enumerate(raw_items):
            where = f"sections[{s}].items[{i}]"
            if not isinstance(item, Mapping):
                raise FormError(where, N_("expected an object"))
            if item.get("id") in (None, ""):
                raise FormError(f"{where}.id", N_("required"))
            item_id = _id(item.get("id"), f"{where}.id")
            if item_id in seen:
                raise FormError(f"{where}.id", N_("%(id)s is used twice"), {"id": repr(item_id)})
            seen.add(item_id)
            kind = item.get("type", "yes_no")
            if kind not in ITEM_TYPES:
                raise FormError(
                    f"{where}.type",
                    N_("must be one of %(choices)s"),
                    {"choices": ", ".join(ITEM_TYPES)},
                )
            key_point = item.get("key_point")
            if key_point is not None:
                key_point = _id(key_point, f"{where}.key_point")
            items.append(
                FormItem(
                    id=item_id,
                    label=_label(item.get("label"), f"{where}.label", item_id),
                    type=kind,
                    weight=_weight(item.get("weight"), f"{where}.weight"),
                    critical=bool(item.get("critical", False)),
                    na_allowed=bool(item.get("na_allowed", True)),
                    deduction=_number(
                        item.get("deduction"),
                        f"{where}.deduction",
                        default=0.0,
                        positive=False,
                        high=MAX_DEDUCTION,
                    ),
                    key_point=key_point,
                )
            )
        if not items:
            raise FormError(f"sections[{s}].items", N_("expected a non-empty list"))
        sections.append(
            FormSection(
                id=_id(raw.get("id", f"section-{s + 1}"), f"sections[{s}].id"),
                label=_label(raw.get("label"), f"sections[{s}].label", ""),
                items=tuple(items),
                weight=_weight(raw.get("weight"), f"sections[{s}].weight"),
            )
        )
    scoring = data.get("scoring", "additive")
    if scoring not in ("additive", "deductive"):
        raise FormError("scoring", N_("must be additive or deductive"))
    form_id = data.get("id")
    form_id = "" if form_id is None else _id(form_id, "id")
    name = _label(data.get("name"), "name", "")
    return Form(form_id, name, tuple(sections), scoring)
