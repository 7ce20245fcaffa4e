"""`qm form load` and `qm form list`: the command-line twin of the forms admin page."""

import json
from pathlib import Path

from sqlalchemy import Engine

from qm.db import session_scope
from qm.domain.evaluations.forms import form_for_call
from qm.models import Call
from tests.factories import make_call
from tests.qm.commands.cli import invoke

FORMS = Path(__file__).parents[1] / "evaluations" / "forms"


def test_load_assign_and_list(db_url: str, engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        make_call(session, "c-1", queue="billing")
    result = invoke(db_url, "form", "load", str(FORMS / "bank-standard.yaml"), "--queue", "billing")
    assert result.exit_code == 0, result.output
    assert "Form bank-standard is at version 1." in result.output
    assert "Queue billing is reviewed with bank-standard." in result.output
    with session_scope(engine) as session:
        call = session.get(Call, "c-1")
        assert call is not None
        row = form_for_call(session, call)
        assert row is not None and row.key == "bank-standard"

    # A Chinese form, changed and loaded again, is a second version of the same key.
    zh = tmp_path / "zh.yaml"
    zh.write_text(
        "id: zh-form\nname: 账单咨询质检表\nsections:\n"
        "  - id: opening\n    label: 开场\n    items:\n"
        "      - {id: greeting, label: 使用标准问候语}\n",
        encoding="utf-8",
    )
    assert invoke(db_url, "form", "load", str(zh)).exit_code == 0
    zh.write_text(zh.read_text(encoding="utf-8").replace("使用标准问候语", "标准问候"), "utf-8")
    result = invoke(db_url, "form", "load", str(zh))
    assert "Form zh-form is at version 2." in result.output

    listed = invoke(db_url, "form", "list", "--json")
    rows = {r["key"]: r for r in map(json.loads, listed.output.splitlines())}
    assert rows["bank-standard"]["queues"] == ["billing"]
    assert (rows["zh-form"]["name"], rows["zh-form"]["version"]) == ("账单咨询质检表", 2)
    assert "zh-form v2" in invoke(db_url, "form", "list").output


def test_a_bad_form_names_the_file_and_field_and_stores_nothing(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: f\nname: F\nsections:\n  - id: s\n    items:\n"
        "      - {id: q1, label: Q, type: stars}\n",
        encoding="utf-8",
    )
    result = invoke(db_url, "form", "load", str(bad))
    assert result.exit_code != 0
    assert "bad.yaml" in result.output and "type" in result.output
    assert "No forms stored yet" in invoke(db_url, "form", "list").output
    result = invoke(db_url, "form", "load", str(FORMS / "two-questions.json"), "--team", "nope")
    assert result.exit_code != 0 and "no team 'nope'" in result.output
    # The refused assignment rolled the whole command back: the form is not stored either.
    assert "No forms stored yet" in invoke(db_url, "form", "list").output
