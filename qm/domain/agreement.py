"""Machine vs human: how often reviewers confirm or overrule the automatic answers.

This is how a site decides which key points and form items it can trust to automation
(issue 9, item 7). Two sources of human judgements, over the calls that started in one
period (a calendar month in the site's time zone, as everywhere else):

- **Key points**: reviewers' key-point overrides (`KeyPointOverride`). For one call and
  key point the newest row counts. Its `auto_hit` is what the machine said when the
  reviewer decided; a row whose `hit` equals it is a confirmation, else an override.
  Rows taken where the machine was uncertain (`auto_hit` None) are left out: there was
  no machine answer to agree with.
- **Form items**: the answers of standard evaluations past the draft stage, for items
  the machine prefilled (`auto` set). The human `answer` equal to `auto` is a
  confirmation. Calibration and self evaluations are left out (they never count), and
  so are answers of "na": the reviewer judged the item not applicable, not the machine's
  hit or miss. Every evaluation counts, so a call reviewed twice counts twice.

Per key point and per form item: n reviewed, confirmed, overridden, the agreement rate
with its Wilson 95% interval, and precision and recall of the machine taking the human
answer as the truth and a hit ("yes") as the positive class. A "partial" answer is not a
hit. Precision: of the machine's hits, the share the human also calls hits (a low one
means the machine credits agents for what they did not say); recall: of the human's
hits, the share the machine found (a low one means missed phrasings).

The verdict trusts an item to automation only with enough reviews and high agreement:
at least `TRUST_MIN_REVIEWED` reviews and the lower end of the agreement's 95% interval
at `TRUST_MIN_AGREEMENT` or above; with that many reviews, an agreement below
`REVIEW_BELOW_AGREEMENT` says the item needs a person.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo
from enum import StrEnum
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from qm.errors import ValidationFailed
from qm.i18n import N_, gettext
from qm.models import (
    Call,
    Evaluation,
    EvaluationForm,
    EvaluationKind,
    EvaluationState,
    KeyPointOverride,
    KeyPointResult,
    ResultKind,
    utcnow,
)
from scoring.period import Period
from scoring.stats import Estimate, proportion

# Reviews an item needs before any verdict about automation: below this the 95% interval
# of the agreement is too wide to tell 85% from 99%.
TRUST_MIN_REVIEWED = 30
# The lower end of the agreement's 95% interval (Wilson with continuity correction, see
# scoring.stats) must reach this to trust the machine, so a lucky streak on few calls is
# not enough: it takes 45 confirmations out of 45 reviews, 60 of 60, 97 of 100 or 189 of 200.
TRUST_MIN_AGREEMENT = 0.90
# Below this agreement (with enough reviews) the machine is overruled too often to lean on.
REVIEW_BELOW_AGREEMENT = 0.80
POSITIVE = "yes"  # the answer that means the key point was said
NOT_APPLICABLE = "na"
SORTS = ("agreement", "reviewed", "precision", "recall", "item")

# Messages people read, in one place for the translation catalogs.
VERDICT_TEXT = {
    "trust": N_("trust to automation: reviewers almost always confirm the machine"),
    "review": N_("keep human review: reviewers often overrule the machine"),
    "watch": N_("keep reviewing: agreement is not yet high enough to trust"),
    "few": N_("too few reviews to judge (fewer than {n})"),
}
BAD_SORT = N_("expected one of {choices}")


class Source(StrEnum):
    """Where the human judgements of a row come from."""

    KEY_POINT = "key_point"
    FORM_ITEM = "form_item"


class Verdict(StrEnum):
    """What the figures say about leaving an item to the machine."""

    TRUST = "trust"
    REVIEW = "review"
    WATCH = "watch"
    FEW = "few"

    @property
    def text(self) -> str:
        """The verdict as a line people read."""
        return gettext(VERDICT_TEXT[self.value]).format(n=TRUST_MIN_REVIEWED)


def verdict(agreement: Estimate) -> Verdict:
    """The verdict for an agreement estimate (rules in the module docstring)."""
    if agreement.n < TRUST_MIN_REVIEWED or agreement.value is None:
        return Verdict.FEW
    if agreement.ci95 is not None and agreement.ci95[0] >= TRUST_MIN_AGREEMENT:
        return Verdict.TRUST
    if agreement.value < REVIEW_BELOW_AGREEMENT:
        return Verdict.REVIEW
    return Verdict.WATCH


@dataclass(frozen=True, slots=True)
class AgreementRow:
    """Machine vs human on one key point or one form item over the period.

    `form` is the form's key for a form item, None for a key point. Counts of hits are
    the confusion table behind precision and recall: `machine_hits` the machine said
    yes, `human_hits` the human did, `both_hits` both.
    """

    source: Source
    item_id: str
    label: str
    form: str | None
    reviewed: int
    confirmed: int
    machine_hits: int
    human_hits: int
    both_hits: int
    agreement: Estimate
    precision: Estimate
    recall: Estimate
    verdict: Verdict

    @property
    def overridden(self) -> int:
        """Reviews where the human answer differs from the machine's."""
        return self.reviewed - self.confirmed

    def to_dict(self) -> dict[str, Any]:
        """The row as the JSON of `qm agreement --json`."""
        return {
            "source": self.source.value,
            "item_id": self.item_id,
            "label": self.label,
            "form": self.form,
            "reviewed": self.reviewed,
            "confirmed": self.confirmed,
            "overridden": self.overridden,
            "agreement": self.agreement.to_dict(),
            "precision": self.precision.to_dict(),
            "recall": self.recall.to_dict(),
            "machine_hits": self.machine_hits,
            "human_hits": self.human_hits,
            "both_hits": self.both_hits,
            "verdict": self.verdict.value,
            "verdict_text": self.verdict.text,
        }


@dataclass(frozen=True, slots=True)
class AgreementReport:
    """Every key point and form item with at least one review in the period."""

    period: Period
    rows: tuple[AgreementRow, ...]

    def to_dict(self) -> dict[str, Any]:
        """The report as one JSON object, with the thresholds the verdicts used."""
        return {
            "period": str(self.period),
            "thresholds": {
                "trust_min_reviewed": TRUST_MIN_REVIEWED,
                "trust_min_agreement_ci_low": TRUST_MIN_AGREEMENT,
                "review_below_agreement": REVIEW_BELOW_AGREEMENT,
            },
            "rows": [r.to_dict() for r in self.rows],
        }


def parse_period(text: str | None, *, source: str, field: str) -> Period:
    """The month written as YYYY-MM.

    Raises:
        ValidationFailed: naming `source` and `field`, when missing or not a month.
    """
    if text is None or not text.strip():
        raise ValidationFailed(source, None, field, gettext("required, a month written as YYYY-MM"))
    try:
        return Period.parse(text.strip())
    except ValueError as exc:
        raise ValidationFailed(source, None, field, str(exc)) from None


def latest_period(session: Session, tz: tzinfo) -> Period:
    """The month of the latest call (the current month when there is none): what the
    agreement page shows when no period is asked for."""
    latest = session.exec(select(func.max(Call.started_at))).one()
    return Period.of(latest or utcnow(), tz)


class _Tally:
    """Counts behind one row, added to one judgement at a time."""

    def __init__(self) -> None:
        self.reviewed = self.confirmed = 0
        self.machine_hits = self.human_hits = self.both_hits = 0

    def add(self, machine: bool, human: bool, *, same: bool) -> None:
        self.reviewed += 1
        self.confirmed += same
        self.machine_hits += machine
        self.human_hits += human
        self.both_hits += machine and human

    def row(self, source: Source, item_id: str, label: str, form: str | None) -> AgreementRow:
        agreement = proportion(self.confirmed, self.reviewed)
        return AgreementRow(
            source=source,
            item_id=item_id,
            label=label or item_id,
            form=form,
            reviewed=self.reviewed,
            confirmed=self.confirmed,
            machine_hits=self.machine_hits,
            human_hits=self.human_hits,
            both_hits=self.both_hits,
            agreement=agreement,
            precision=proportion(self.both_hits, self.machine_hits),
            recall=proportion(self.both_hits, self.human_hits),
            verdict=verdict(agreement),
        )


def _in_period(period: Period, tz: tzinfo) -> list[Any]:
    start, end = period.bounds(tz)
    return [col(Call.started_at) >= start, col(Call.started_at) < end]


def _key_point_rows(session: Session, period: Period, tz: tzinfo) -> list[AgreementRow]:
    newest = (
        select(func.max(KeyPointOverride.id))
        .join(Call, col(Call.id) == col(KeyPointOverride.call_id))
        .where(*_in_period(period, tz))
        .group_by(col(KeyPointOverride.call_id), col(KeyPointOverride.item_id))
    )
    rows = session.exec(
        select(KeyPointOverride.item_id, KeyPointOverride.hit, KeyPointOverride.auto_hit).where(
            col(KeyPointOverride.id).in_(newest.scalar_subquery())
        )
    ).all()
    tallies: dict[str, _Tally] = {}
    for item_id, hit, auto_hit in rows:
        if auto_hit is None:  # the machine was uncertain: nothing to agree with
            continue
        tallies.setdefault(item_id, _Tally()).add(auto_hit, hit, same=hit == auto_hit)
    labels = _key_point_labels(session, tallies)
    return [
        tally.row(Source.KEY_POINT, item_id, labels.get(item_id, ""), None)
        for item_id, tally in tallies.items()
    ]


def _key_point_labels(session: Session, item_ids: Iterable[str]) -> dict[str, str]:
    ids = list(item_ids)
    if not ids:
        return {}
    found = session.exec(
        select(KeyPointResult.item_id, KeyPointResult.label)
        .where(
            col(KeyPointResult.kind) == ResultKind.KEY_POINT,
            col(KeyPointResult.item_id).in_(ids),
            col(KeyPointResult.label) != "",
        )
        .distinct()
    ).all()
    return dict(sorted(found))


def _form_item_rows(session: Session, period: Period, tz: tzinfo) -> list[AgreementRow]:
    evaluations = session.exec(
        select(Evaluation.form_id, Evaluation.answers)
        .join(Call, col(Call.id) == col(Evaluation.call_id))
        .where(
            col(Evaluation.kind) == EvaluationKind.STANDARD,
            col(Evaluation.state) != EvaluationState.DRAFT,
            *_in_period(period, tz),
        )
    ).all()
    forms = {
        f.id: f
        for f in session.exec(
            select(EvaluationForm).where(
                col(EvaluationForm.id).in_({form_id for form_id, _ in evaluations})
            )
        ).all()
    }
    tallies: dict[tuple[str, str], _Tally] = {}
    labels: dict[tuple[str, str], str] = {}
    for form_id, answers in evaluations:
        form = forms[form_id]
        items = {i["id"]: i for s in form.body["sections"] for i in s["items"]}
        for item_id, entry in answers.items():
            auto, human = entry.get("auto"), entry.get("answer")
            if auto is None or human is None or human == NOT_APPLICABLE:
                continue
            key = (form.key, item_id)
            labels[key] = (items.get(item_id) or {}).get("label") or item_id
            tallies.setdefault(key, _Tally()).add(
                auto == POSITIVE, human == POSITIVE, same=str(human) == str(auto)
            )
    return [
        tally.row(Source.FORM_ITEM, item_id, labels[(form_key, item_id)], form_key)
        for (form_key, item_id), tally in tallies.items()
    ]


def _sort_key(sort: str) -> Any:
    def worst_first(value: float | None) -> float:
        return 2.0 if value is None else value  # no figure: after every real one

    keys = {
        "agreement": lambda r: (worst_first(r.agreement.value), -r.reviewed, r.item_id),
        "reviewed": lambda r: (-r.reviewed, worst_first(r.agreement.value), r.item_id),
        "precision": lambda r: (worst_first(r.precision.value), -r.reviewed, r.item_id),
        "recall": lambda r: (worst_first(r.recall.value), -r.reviewed, r.item_id),
        "item": lambda r: (r.source.value, r.form or "", r.item_id),
    }
    return keys[sort]


def agreement_report(
    session: Session, *, period: Period, tz: tzinfo, sort: str = "agreement"
) -> AgreementReport:
    """Machine vs human per key point and form item over the calls started in `period`.

    Rows are sorted worst first by `sort`: the lowest agreement (or precision, recall)
    first, the most reviewed first, or by item.

    Raises:
        ValidationFailed: `sort` is not one of `SORTS` (naming the parameter).
    """
    if sort not in SORTS:
        raise ValidationFailed(
            "query", None, "sort", gettext(BAD_SORT).format(choices=", ".join(SORTS))
        )
    rows = _key_point_rows(session, period, tz) + _form_item_rows(session, period, tz)
    return AgreementReport(period=period, rows=tuple(sorted(rows, key=_sort_key(sort))))
