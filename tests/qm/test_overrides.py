"""Reviewers' key-point decisions: stored as new rows, audited, checked, kept across re-checks,
and preferred over the machine's answer when an evaluation is prefilled.

The world: call c-1 (agent a-1, team north) with an English transcript and results
greeting (hit at 1.0-4.0), verify (uncertain) and a forbidden phrase; call zh-1 (agent a-2,
team south) with a Chinese transcript whose ID number was masked before storage.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, delete, select

from qm.domain.evaluations.commands import start_evaluation
from qm.domain.evaluations.forms import assign_form, load_form_file
from qm.domain.overrides import (
    MAX_COMMENT,
    current_overrides,
    override_history,
    override_key_point,
)
from qm.domain.stored_transcripts import replace_transcript
from qm.domain.users import create_user
from qm.errors import Forbidden, NotFound, ValidationFailed
from qm.models import AuditEvent, EvaluationChange, KeyPointOverride, KeyPointResult, Role, User
from tests.factories import PASSWORD, make_call, make_results, make_transcript
from transcripts import Segment as DocSegment
from transcripts import Transcript as DocTranscript

FORMS = Path(__file__).parent / "evaluations" / "forms"


@dataclass
class World:
    """The users of these tests."""

    rev: User
    rev2: User
    mgr_north: User
    mgr_south: User
    agent1: User


def _user(session: Session, name: str, role: Role, **kw: object) -> User:
    return create_user(session, username=name, password=PASSWORD, role=role, **kw)  # type: ignore[arg-type]


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the fresh database."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def world(session: Session) -> World:
    """Calls, transcripts, results and users (committed)."""
    make_call(session, "c-1", agent_id="a-1")
    make_transcript(
        session,
        "c-1",
        [
            ("agent", 1.0, 4.0, "thank you for calling acme"),
            ("customer", 4.5, 8.0, "hi I need my balance"),
            ("agent", 8.5, 12.0, "may I have your date of birth"),
        ],
    )
    make_results(
        session,
        "c-1",
        [
            {"item_id": "greeting", "hit": True, "start": 1.0, "end": 4.0, "evidence": "acme"},
            {"item_id": "verify", "hit": False, "uncertain": True},
            {"kind": "forbidden", "item_id": "dismissive", "hit": False},
        ],
    )
    make_call(session, "zh-1", agent_id="a-2")
    doc = DocTranscript(
        "zh-1",
        "zh",
        9.0,
        (
            DocSegment("agent", 0.5, 3.0, "您好，欢迎致电"),
            DocSegment("customer", 3.5, 9.0, "身份证号码是 11010519491231002X"),
        ),
    )
    replace_transcript(session.connection(), "zh-1", doc, source="import:zh.json")
    make_results(session, "zh-1", [{"item_id": "verify", "hit": False}])
    people = World(
        rev=_user(session, "rev", Role.REVIEWER),
        rev2=_user(session, "rev2", Role.REVIEWER),
        mgr_north=_user(session, "mgr_n", Role.MANAGER, team_ids=("north",)),
        mgr_south=_user(session, "mgr_s", Role.MANAGER, team_ids=("south",)),
        agent1=_user(session, "agent1", Role.AGENT, agent_id="a-1", team_ids=("north",)),
    )
    _user(session, "agent2", Role.AGENT, agent_id="a-2", team_ids=("south",))
    session.commit()
    return people


def test_a_decision_is_a_new_row_with_the_machine_answer_and_an_audit_event(
    session: Session, world: World
) -> None:
    first = override_key_point(
        session,
        call_id="c-1",
        item_id="greeting",
        hit=False,
        start=1.0,
        end=4.0,
        comment="  said the wrong company  ",
        actor=world.rev,
    )
    session.commit()
    assert (first.hit, first.auto_hit, first.confirmed, first.outcome) == (
        False,
        True,
        False,
        "miss",
    )
    assert first.comment == "said the wrong company"
    assert first.evidence == "thank you for calling acme"
    second = override_key_point(
        session, call_id="c-1", item_id="greeting", hit=True, comment="", actor=world.rev2
    )
    session.commit()
    assert second.confirmed and second.reviewer == "rev2"
    assert current_overrides(session, "c-1")["greeting"].id == second.id
    assert [v.id for v in override_history(session, "c-1", "greeting")] == [second.id, first.id]
    assert len(session.exec(select(KeyPointOverride)).all()) == 2  # nothing overwritten
    events = session.exec(
        select(AuditEvent)
        .where(col(AuditEvent.action) == "keypoint.override")
        .order_by(col(AuditEvent.id))
    ).all()
    assert [(e.actor, e.entity_id) for e in events] == [("rev", "c-1"), ("rev2", "c-1")]
    assert events[1].detail is not None
    assert events[1].detail["old"] == {"hit": False, "by": "rev"}
    assert events[1].detail["new"]["hit"] is True


def test_an_uncertain_point_is_decided_without_a_comment(session: Session, world: World) -> None:
    view = override_key_point(
        session, call_id="c-1", item_id="verify", hit=True, start=9.0, end=9.0, comment="",
        actor=world.rev,
    )  # fmt: skip
    assert view.auto_hit is None and not view.confirmed
    assert view.evidence == "may I have your date of birth"  # a point picks its segment


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"hit": False, "comment": ""}, "comment"),  # contradicts a certain hit, says no why
        ({"hit": False, "comment": "x" * (MAX_COMMENT + 1)}, "comment"),
        ({"hit": "yes", "comment": ""}, "hit"),
        ({"hit": True, "comment": "", "start": 1.0}, "end"),
        ({"hit": True, "comment": "", "end": 1.0}, "start"),
        ({"hit": True, "comment": "", "start": 3.0, "end": 2.0}, "end"),
        ({"hit": True, "comment": "", "start": -1.0, "end": 2.0}, "start"),
        ({"hit": True, "comment": "", "start": 1.0, "end": 60.0}, "end"),
        ({"hit": True, "comment": "", "start": float("nan"), "end": 2.0}, "start"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    session: Session, world: World, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        override_key_point(session, call_id="c-1", item_id="greeting", actor=world.rev, **changes)  # type: ignore[arg-type]
    assert caught.value.field == field
    session.rollback()
    assert session.exec(select(KeyPointOverride)).all() == []


def test_a_span_needs_a_transcript(session: Session, world: World) -> None:
    make_call(session, "bare", agent_id="a-1")
    make_results(session, "bare", [{"item_id": "greeting", "hit": True}])
    with pytest.raises(ValidationFailed) as caught:
        override_key_point(
            session, call_id="bare", item_id="greeting", hit=True, start=0.0, end=1.0,
            comment="", actor=world.rev,
        )  # fmt: skip
    assert caught.value.field == "start"


def test_who_may_decide(session: Session, world: World) -> None:
    def decide(user: User, call_id: str = "c-1") -> None:
        override_key_point(
            session, call_id=call_id, item_id="greeting", hit=True, comment="", actor=user
        )

    with pytest.raises(Forbidden):
        decide(world.agent1)  # the agent's own call: seen, but not theirs to decide
    with pytest.raises(NotFound):
        decide(world.agent1, "zh-1")  # another agent's call: not even seen
    with pytest.raises(NotFound):
        decide(world.mgr_south)  # a manager of another team: its calls are not even seen
    decide(world.mgr_north)
    assert current_overrides(session, "c-1")["greeting"].reviewer == "mgr_n"


def test_only_the_call_s_key_points_can_be_decided(session: Session, world: World) -> None:
    for item in ("none-such", "dismissive"):  # unknown, and a forbidden phrase
        with pytest.raises(NotFound):
            override_key_point(
                session, call_id="c-1", item_id=item, hit=True, comment="", actor=world.rev
            )
    with pytest.raises(NotFound):
        override_key_point(
            session, call_id="none", item_id="greeting", hit=True, comment="", actor=world.rev
        )


def test_chinese_evidence_comes_from_the_redacted_transcript(
    session: Session, world: World
) -> None:
    view = override_key_point(
        session, call_id="zh-1", item_id="verify", hit=True, start=3.5, end=9.0,
        comment="客户已报身份证号，坐席已核实", actor=world.rev,
    )  # fmt: skip
    assert view.evidence == "身份证号码是 [ID]"
    assert "11010519491231002X" not in view.evidence  # masked before it was ever stored
    assert view.comment == "客户已报身份证号，坐席已核实"


def test_decisions_survive_a_recomputation_of_the_results(session: Session, world: World) -> None:
    override_key_point(
        session, call_id="c-1", item_id="greeting", hit=False, comment="wrong bank",
        actor=world.rev,
    )  # fmt: skip
    session.commit()
    session.exec(delete(KeyPointResult).where(col(KeyPointResult.call_id) == "c-1"))
    make_results(session, "c-1", [{"item_id": "greeting", "hit": True, "score": 0.9}])
    session.commit()
    kept = current_overrides(session, "c-1")["greeting"]
    assert (kept.hit, kept.comment, kept.reviewer) == (False, "wrong bank", "rev")


def test_an_evaluation_is_prefilled_from_the_override(session: Session, world: World) -> None:
    load_form_file(session, FORMS / "bank-standard.yaml", actor="admin")
    assign_form(session, "bank-standard", queue="billing", actor="admin")
    override_key_point(
        session, call_id="c-1", item_id="greeting", hit=False, start=8.5, end=12.0,
        comment="no company name", actor=world.rev2,
    )  # fmt: skip
    override_key_point(
        session, call_id="c-1", item_id="verify", hit=True, comment="", actor=world.rev2
    )
    evaluation = start_evaluation(session, "c-1", actor=world.rev)
    greeting, verify = evaluation.answers["greeting"], evaluation.answers["verify"]
    # The human's answer beats the machine's; `auto` stays the machine's, on record.
    assert (greeting["answer"], greeting["decided"], greeting["auto"]) == ("no", "no", "yes")
    assert greeting["override"]["by"] == "rev2"
    assert greeting["evidence"] == {
        "start": 8.5,
        "end": 12.0,
        "text": "may I have your date of birth",
    }
    assert (verify["answer"], verify["decided"], verify["auto"]) == ("yes", "yes", None)
    # Items without a key point, and calls without decisions, are unchanged.
    assert "override" not in evaluation.answers["accuracy"]


def test_a_decision_answers_the_decider_s_open_draft(session: Session, world: World) -> None:
    load_form_file(session, FORMS / "bank-standard.yaml", actor="admin")
    assign_form(session, "bank-standard", queue="billing", actor="admin")
    mine = start_evaluation(session, "c-1", actor=world.rev)
    theirs = start_evaluation(session, "c-1", actor=world.rev2)
    assert mine.answers["greeting"]["answer"] == "yes"
    override_key_point(
        session, call_id="c-1", item_id="greeting", hit=False, comment="no bank name",
        actor=world.rev,
    )  # fmt: skip
    session.commit()
    session.refresh(mine)
    session.refresh(theirs)
    assert (mine.answers["greeting"]["answer"], mine.answers["greeting"]["auto"]) == ("no", "yes")
    assert mine.version == 2
    change = session.exec(
        select(EvaluationChange).where(
            col(EvaluationChange.evaluation_id) == mine.id,
            col(EvaluationChange.item_id) == "greeting",
        )
    ).one()
    assert change.why == "key point greeting decided: miss: no bank name"
    assert (theirs.answers["greeting"]["answer"], theirs.version) == ("yes", 1)  # not theirs
    # The same decision again changes nothing more.
    override_key_point(
        session, call_id="c-1", item_id="greeting", hit=False, comment="still no", actor=world.rev
    )
    session.refresh(mine)
    assert mine.version == 2
