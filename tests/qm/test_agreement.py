"""Machine vs human agreement, checked by hand on a small month (English and Chinese items),
and `qm agreement` in-process.

The month (March 2024, UTC), built by `build_month`:

Key-point decisions (newest per call and item counts):
- greeting: c-1 hit/auto yes-yes (confirmed), c-2 no-yes (overridden: the machine's false
  hit), c-3 yes-yes, c-4 first no-no then yes-no (the newer counts: overridden, a miss
  the machine made). c-5 was decided where the machine was uncertain: left out. A February
  call is outside the month. n 4, confirmed 2, agreement 1/2; machine hits c-1..c-3 (3),
  human hits c-1, c-3, c-4 (3), both 2: precision 2/3, recall 2/3.
  Wilson 95% for 2/4: centre (0.5 + 1.96²/8) / (1 + 1.96²/4) = 0.5, half-width
  1.96 x sqrt(0.0625 + 1.96²/64) / 1.9604 = 0.350: (0.150, 0.850).
- 核实身份 (label 核实客户身份): c-1 and c-2 no-no, both confirmed: agreement 1, no hit on
  either side, so precision and recall have nothing to divide by.

Form items of the bank-standard form (greeting and verify prefilled from key points):
- c-1 submitted: greeting yes/yes (confirmed), verify auto no, human yes (overridden);
  accuracy has no automatic answer: left out.
- c-2 released: greeting auto yes, human no (overridden); verify human na: left out.
- Left out entirely: a draft, a calibration and a self evaluation on c-3, and a
  submitted one on the February call.
So greeting: n 2, confirmed 1, machine hits 2, human 1, both 1: precision 1/2, recall 1.
verify: n 1, confirmed 0, machine hits 0, human 1: no precision, recall 0.
"""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from qm.commands.agreement import agreement as agreement_command
from qm.domain.agreement import (
    SORTS,
    TRUST_MIN_REVIEWED,
    Source,
    Verdict,
    agreement_report,
    latest_period,
    parse_period,
    verdict,
)
from qm.domain.evaluations.forms import load_form_file
from qm.errors import ValidationFailed
from qm.models import (
    Evaluation,
    EvaluationKind,
    EvaluationState,
    KeyPointOverride,
    Role,
    User,
)
from scoring.period import Period
from scoring.stats import proportion
from tests.factories import T0, make_call, make_results, make_transcript, make_user
from tests.qm.commands.cli import invoke
from tests.qm.evaluations.conftest import FORMS

MARCH = Period(2024, 3)
ZH_ITEM = "核实身份"


def _override(
    session: Session, reviewer: User, call_id: str, item_id: str, hit: bool, auto: bool | None
) -> None:
    session.add(
        KeyPointOverride(
            call_id=call_id, item_id=item_id, hit=hit, auto_hit=auto, reviewer_id=reviewer.id or 0
        )
    )
    session.flush()


def _evaluation(
    session: Session,
    reviewer: User,
    call_id: str,
    form_id: int,
    answers: dict[str, tuple[str | None, str | None]],
    *,
    kind: EvaluationKind = EvaluationKind.STANDARD,
    state: EvaluationState = EvaluationState.SUBMITTED,
) -> None:
    """An evaluation whose `answers` map item -> (machine's answer, human answer)."""
    session.add(
        Evaluation(
            call_id=call_id,
            form_id=form_id,
            kind=kind,
            state=state,
            reviewer_id=reviewer.id or 0,
            agent_id="a-1",
            answers={
                item: {"answer": human, "comment": "", "auto": auto, "evidence": None}
                for item, (auto, human) in answers.items()
            },
        )
    )
    session.flush()


def build_month(session: Session) -> None:
    """The month of the module docstring."""
    for n in range(1, 6):
        make_call(session, f"c-{n}", started_at=T0.replace(day=n))
    make_call(session, "c-feb", started_at=datetime(2024, 2, 20, 12, tzinfo=UTC))
    make_transcript(
        session, "c-1", [("agent", 0.5, 3.0, "您好，请问您的身份证后四位是多少？")], language="zh"
    )
    make_results(session, "c-1", [{"item_id": ZH_ITEM, "hit": False, "label": "核实客户身份"}])
    make_results(session, "c-2", [{"item_id": "greeting", "hit": True, "label": "Greets"}])
    rita = make_user(session, "ruth", Role.REVIEWER)
    for call_id, hit, auto in [
        ("c-1", True, True),
        ("c-2", False, True),
        ("c-3", True, True),
        ("c-4", False, False),
        ("c-4", True, False),
        ("c-5", True, None),
        ("c-feb", False, True),
    ]:
        _override(session, rita, call_id, "greeting", hit, auto)
    _override(session, rita, "c-1", ZH_ITEM, False, False)
    _override(session, rita, "c-2", ZH_ITEM, False, False)

    form = load_form_file(session, FORMS / "bank-standard.yaml", actor="admin")
    fid = form.id or 0
    _evaluation(
        session,
        rita,
        "c-1",
        fid,
        {"greeting": ("yes", "yes"), "verify": ("no", "yes"), "accuracy": (None, "partial")},
    )
    _evaluation(
        session,
        rita,
        "c-2",
        fid,
        {"greeting": ("yes", "no"), "verify": ("no", "na")},
        state=EvaluationState.RELEASED,
    )
    wrong_for_counting: list[tuple[EvaluationKind, EvaluationState]] = [
        (EvaluationKind.STANDARD, EvaluationState.DRAFT),
        (EvaluationKind.CALIBRATION, EvaluationState.SUBMITTED),
        (EvaluationKind.SELF, EvaluationState.SUBMITTED),
    ]
    for kind, state in wrong_for_counting:
        _evaluation(session, rita, "c-3", fid, {"greeting": ("yes", "no")}, kind=kind, state=state)
    _evaluation(session, rita, "c-feb", fid, {"greeting": ("yes", "no")})


@pytest.fixture
def session(engine: Engine) -> Any:
    with Session(engine, expire_on_commit=False) as s:
        build_month(s)
        s.commit()
        yield s


def test_figures_by_hand(session: Session) -> None:
    report = agreement_report(session, period=MARCH, tz=UTC)
    rows = {(r.source, r.form, r.item_id): r for r in report.rows}
    assert set(rows) == {
        (Source.KEY_POINT, None, "greeting"),
        (Source.KEY_POINT, None, ZH_ITEM),
        (Source.FORM_ITEM, "bank-standard", "greeting"),
        (Source.FORM_ITEM, "bank-standard", "verify"),
    }
    greeting = rows[(Source.KEY_POINT, None, "greeting")]
    assert (greeting.reviewed, greeting.confirmed, greeting.overridden) == (4, 2, 2)
    assert (greeting.machine_hits, greeting.human_hits, greeting.both_hits) == (3, 3, 2)
    assert greeting.agreement.value == 0.5 and greeting.agreement.ci95 is not None
    # 2 of 4, Wilson with continuity correction (scoring.stats).
    assert greeting.agreement.ci95 == pytest.approx((0.0919, 0.9081), abs=5e-4)
    assert greeting.precision.value == pytest.approx(2 / 3)
    assert greeting.recall.value == pytest.approx(2 / 3)
    assert greeting.label == "Greets" and greeting.verdict == Verdict.FEW

    chinese = rows[(Source.KEY_POINT, None, ZH_ITEM)]
    assert chinese.label == "核实客户身份"
    assert (chinese.reviewed, chinese.confirmed, chinese.agreement.value) == (2, 2, 1.0)
    assert chinese.precision.value is None and chinese.recall.value is None

    form_greeting = rows[(Source.FORM_ITEM, "bank-standard", "greeting")]
    assert (form_greeting.reviewed, form_greeting.confirmed) == (2, 1)
    assert form_greeting.label == "Greets with the bank's name"
    assert form_greeting.precision.value == 0.5 and form_greeting.recall.value == 1.0
    verify = rows[(Source.FORM_ITEM, "bank-standard", "verify")]
    assert (verify.reviewed, verify.confirmed, verify.overridden) == (1, 0, 1)
    assert verify.precision.value is None and verify.recall.value == 0.0


def test_sorted_worst_first(session: Session) -> None:
    order = [(r.form, r.item_id) for r in agreement_report(session, period=MARCH, tz=UTC).rows]
    # verify 0%, then the two 50% rows with the more reviewed first, then 100%.
    assert order == [
        ("bank-standard", "verify"),
        (None, "greeting"),
        ("bank-standard", "greeting"),
        (None, ZH_ITEM),
    ]
    by_n = agreement_report(session, period=MARCH, tz=UTC, sort="reviewed").rows
    assert [r.reviewed for r in by_n] == [4, 2, 2, 1]
    with pytest.raises(ValidationFailed, match="field sort"):
        agreement_report(session, period=MARCH, tz=UTC, sort="label")


def test_other_months_and_time_zones(session: Session) -> None:
    february = agreement_report(session, period=Period(2024, 2), tz=UTC).rows
    assert [(r.item_id, r.reviewed, r.confirmed) for r in february] == [
        ("greeting", 1, 0),  # the form item and the key point, both overridden
        ("greeting", 1, 0),
    ]
    assert agreement_report(session, period=Period(2024, 4), tz=UTC).rows == ()
    assert latest_period(session, UTC) == MARCH


def test_verdict_thresholds() -> None:
    n = TRUST_MIN_REVIEWED
    assert verdict(proportion(n - 1, n - 1)) == Verdict.FEW
    # 30 of 30: the interval's lower end (0.86) is not yet 0.90; 43 of 43 neither.
    assert verdict(proportion(n, n)) == Verdict.WATCH
    assert verdict(proportion(43, 43)) == Verdict.WATCH
    assert verdict(proportion(45, 45)) == Verdict.TRUST
    assert verdict(proportion(97, 100)) == Verdict.TRUST
    assert verdict(proportion(96, 100)) == Verdict.WATCH
    assert verdict(proportion(79, 100)) == Verdict.REVIEW
    assert "trust to automation" in Verdict.TRUST.text
    assert str(n) in Verdict.FEW.text


def test_period_parsing_names_the_field() -> None:
    assert parse_period(" 2024-03 ", source="query", field="period") == MARCH
    for bad in ("2024-13", "2024-3", "March", "", None):
        with pytest.raises(ValidationFailed, match="field period"):
            parse_period(bad, source="query", field="period")


def test_cli_json_and_table(session: Session, db_url: str) -> None:
    result = invoke(db_url, "agreement", "--period", "2024-03", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["period"] == "2024-03"
    assert body["thresholds"]["trust_min_reviewed"] == TRUST_MIN_REVIEWED
    first = body["rows"][0]
    assert (first["source"], first["item_id"], first["overridden"]) == ("form_item", "verify", 1)
    zh = next(r for r in body["rows"] if r["item_id"] == ZH_ITEM)
    assert zh["label"] == "核实客户身份" and zh["agreement"]["value"] == 1.0
    assert zh["precision"] == {"value": None, "n": 0, "ci95": None}

    table = invoke(db_url, "agreement", "--period", "2024-03")
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    greeting = next(line for line in lines if line.startswith("key point  greeting"))
    assert greeting.split()[3:9] == ["4", "2", "2", "50%", "9%-91%", "67%"]
    assert any(ZH_ITEM in line and "100%" in line for line in lines)

    empty = invoke(db_url, "agreement", "--period", "2023-01")
    assert empty.exit_code == 0 and "No reviewed automatic answers" in empty.output


def test_cli_refuses_a_bad_period(engine: Engine, db_url: str) -> None:
    result = invoke(db_url, "agreement", "--period", "2024-13")
    assert result.exit_code == 2
    assert "--period" in result.output and "not between 01 and 12" in result.output
    missing = invoke(db_url, "agreement")
    assert missing.exit_code == 2 and "--period" in missing.output


def test_cli_sort_choices_are_the_domains() -> None:
    sort = next(p for p in agreement_command.params if p.name == "sort")
    assert tuple(sort.type.choices) == SORTS  # type: ignore[attr-defined]
