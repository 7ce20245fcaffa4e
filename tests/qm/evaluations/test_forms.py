"""Stored, versioned evaluation forms and their assignment to queues and teams."""

import json
from pathlib import Path

import pytest
import yaml
from sqlmodel import Session, col, select

from qm.domain.evaluations.forms import (
    assign_form,
    form_for_call,
    latest_form,
    list_forms,
    load_form_file,
    save_form,
)
from qm.errors import NotFound, ValidationFailed
from qm.models import AuditEvent, Call, EvaluationForm, Team
from tests.qm.evaluations.conftest import FORMS, People


def _bank() -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((FORMS / "bank-standard.yaml").read_text())
    return data


def test_loaded_form_is_stored_canonically_and_parses_back(session: Session, people: People):
    row, form = latest_form(session, "bank-standard")
    assert (row.key, row.version, row.name, row.created_by) == (
        "bank-standard",
        1,
        "Retail bank call review",
        "admin",
    )
    assert list(form.items()) == ["greeting", "verify", "accuracy", "tone"]
    assert form.items()["verify"].critical
    # Every default is written out, so the body alone rebuilds the form.
    item = row.body["sections"][1]["items"][1]
    assert item == {
        "id": "tone",
        "label": "Tone and empathy",
        "type": "scale",
        "weight": 1.0,
        "critical": False,
        "na_allowed": True,
        "deduction": 0.0,
        "key_point": None,
    }
    assert row.body["sections"][1]["weight"] == 2.0


def test_reloading_the_same_content_makes_no_new_version(
    session: Session, people: People, tmp_path: Path
):
    first = load_form_file(session, FORMS / "bank-standard.yaml", actor="admin")
    # The same form as JSON, with a default spelled out: still the same content.
    data = _bank()
    data["sections"][0]["weight"] = 1  # type: ignore[index]
    as_json = tmp_path / "bank.json"
    as_json.write_text(json.dumps(data))
    again = load_form_file(session, as_json, actor="admin")
    assert again.id == first.id and again.version == 1
    saves = session.exec(select(AuditEvent).where(col(AuditEvent.action) == "form.save")).all()
    assert [e.entity_id for e in saves] == ["bank-standard@1", "two-questions@1"]


def test_a_changed_form_is_a_new_version_and_the_old_one_stays(session: Session, people: People):
    data = _bank()
    data["name"] = "Retail bank call review (2025)"
    second = save_form(session, data, actor="admin", source="api")
    assert second.version == 2
    row, _ = latest_form(session, "bank-standard")
    assert row.id == second.id
    versions = session.exec(
        select(EvaluationForm.version).where(col(EvaluationForm.key) == "bank-standard")
    ).all()
    assert sorted(versions) == [1, 2]
    assert [(f.key, f.version) for f in list_forms(session)] == [
        ("bank-standard", 2),
        ("two-questions", 1),
    ]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            lambda d: d["sections"][1]["items"][0].update(type="stars"),
            "sections[1].items[0].type",
            "must be one of",
        ),
        (lambda d: d.pop("id"), "id", "required"),
        (
            lambda d: d["sections"][0]["items"][1].update(id="greeting"),
            "sections[0].items[1].id",
            "used twice",
        ),
        (lambda d: d["sections"][1].update(weight=-1), "sections[1].weight", "finite number"),
        (lambda d: d.update(sections=[]), "sections", "non-empty list"),
    ],
)
def test_an_invalid_form_names_the_file_and_field(
    session: Session, people: People, tmp_path: Path, change, field: str, message: str
):
    data = _bank()
    change(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValidationFailed) as caught:
        load_form_file(session, path, actor="admin")
    assert caught.value.file == str(path)
    assert caught.value.field == field
    assert message in caught.value.message
    assert latest_form(session, "bank-standard")[0].version == 1


def test_a_file_that_is_not_yaml_or_json_is_refused(
    session: Session, people: People, tmp_path: Path
):
    path = tmp_path / "broken.json"
    path.write_text('{"id": "x", ')
    with pytest.raises(ValidationFailed, match="not valid JSON") as caught:
        load_form_file(session, path, actor="admin")
    assert caught.value.file == str(path)
    with pytest.raises(ValidationFailed, match="cannot read"):
        load_form_file(session, tmp_path / "missing.yaml", actor="admin")


def test_queue_assignment_wins_over_team_assignment(session: Session, people: People):
    c1 = session.get(Call, "c-1")
    assert c1 is not None
    found = form_for_call(session, c1)
    assert found is not None and found.key == "bank-standard"
    # a-1 works in team north; its form applies where the queue has none.
    assign_form(session, "two-questions", team_id="north", actor="admin")
    assert form_for_call(session, c1).key == "bank-standard"  # type: ignore[union-attr]
    c1.queue = None
    session.add(c1)
    found = form_for_call(session, c1)
    assert found is not None and found.key == "two-questions"
    # Assigning again replaces the queue's form.
    assign_form(session, "two-questions", queue="billing", actor="admin")
    c3 = session.get(Call, "c-3")
    assert c3 is not None
    assert form_for_call(session, c3).key == "two-questions"  # type: ignore[union-attr]
    # A call whose queue and team have nothing assigned has no form.
    session.add(Team(id="west", name="west"))
    c3.queue = None
    assert form_for_call(session, c3) is None


def test_assignment_errors(session: Session, people: People):
    with pytest.raises(NotFound, match="no evaluation form 'nope'"):
        assign_form(session, "nope", queue="billing", actor="admin")
    with pytest.raises(NotFound, match="no queue 'sales'"):
        assign_form(session, "bank-standard", queue="sales", actor="admin")
    with pytest.raises(NotFound, match="no team 'east'"):
        assign_form(session, "bank-standard", team_id="east", actor="admin")
    with pytest.raises(ValidationFailed):
        assign_form(session, "bank-standard", actor="admin")
    with pytest.raises(ValidationFailed):
        assign_form(session, "bank-standard", queue="billing", team_id="north", actor="admin")
    with pytest.raises(NotFound):
        latest_form(session, "nope")
