"""The evaluation form beside the transcript: start, answer, save, submit, release, the live
total, the history, refusals (wrong role, someone else's draft, wrong state, stale version)
and blind calibration.

Totals by hand on the bank-standard form (opening: greeting, verify (critical), weight 1;
handling: accuracy (partial), tone (1-5 scale), weight 2): greeting yes, verify yes,
accuracy partial, tone 3 gives opening 100 %, handling (0.5 + 0.5) / 2 = 50 %, total
(100 + 2 x 50) / 3 = 66.67.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.app import create_app
from qm.db import session_scope
from qm.domain.evaluations.calibration import create_calibration
from qm.domain.evaluations.forms import assign_form, load_form_file, save_form
from qm.domain.overrides import override_key_point
from qm.models import Evaluation, EvaluationState, Role, User
from qm.settings import Settings
from tests.factories import make_call, make_results, make_transcript, make_user
from tests.qm.web.conftest import Client, csrf_token, login, soup

FORMS = Path(__file__).resolve().parent.parent / "evaluations" / "forms"
FILLED = {"answer.verify": "yes", "answer.accuracy": "partial", "answer.tone": "3"}


def build(s: Session) -> None:
    """Calls c-1 (results: greeting hit at 1.5 s, verify uncertain) and c-2 (no form), users."""
    make_call(s, "c-1", agent_id="a-1")
    make_transcript(s, "c-1", [("agent", 1.5, 3.25, "thank you for calling harper valley")])
    make_results(
        s,
        "c-1",
        [
            {"item_id": "greeting", "hit": True, "start": 1.5, "end": 3.25, "evidence": "harper"},
            {"item_id": "verify", "hit": False, "uncertain": True},
        ],
    )
    make_call(s, "c-2", agent_id="a-2", queue="retention")
    load_form_file(s, FORMS / "bank-standard.yaml", actor="admin")
    assign_form(s, "bank-standard", queue="billing", actor="admin")
    for name, role in (("rev1", Role.REVIEWER), ("rev2", Role.REVIEWER), ("boss", Role.ADMIN)):
        make_user(s, name, role)
    make_user(s, "agent1", Role.AGENT, agent_id="a-1")


@pytest.fixture
def world(seed: Any) -> None:
    """The calls, form and users above."""
    seed(build)


@pytest.fixture
def other(settings: Settings, engine: Engine) -> Iterator[Client]:
    """A second browser, on its own app over the same database."""
    with TestClient(create_app(settings)) as second:
        yield second


def post(client: Client, url: str, **fields: str) -> Any:
    token = csrf_token(client, "/calls/c-1")
    return client.post(url, data={"_csrf_token": token, **fields}, follow_redirects=False)


def start(client: Client, call_id: str = "c-1") -> int:
    response = post(client, f"/calls/{call_id}/evaluations")
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(f"/calls/{call_id}?evaluation=") and location.endswith("#evaluation")
    return int(location.split("=")[1].split("#")[0])


def page_of(client: Client, evaluation_id: int, call_id: str = "c-1") -> Any:
    response = client.get(f"/calls/{call_id}?evaluation={evaluation_id}")
    assert response.status_code == 200, response.text
    return soup(response.text)


def checked(page: Any) -> dict[str, str]:
    return {
        str(i["name"]).removeprefix("answer."): str(i["value"])
        for i in page.select("#evaluation-form input[type=radio][checked]")
    }


def stored(engine: Engine, evaluation_id: int) -> Evaluation:
    with Session(engine) as s:
        row = s.get(Evaluation, evaluation_id)
        assert row is not None
        return row


def test_start_prefills_from_the_machine_and_shows_its_evidence(
    client: Client, world: None
) -> None:
    login(client, "rev1")
    page = soup(client.get("/calls/c-1").text)
    button = page.select_one("#start-evaluation")
    assert button is not None
    evaluation_id = start(client)
    page = page_of(client, evaluation_id)
    section = page.select_one("#evaluation")
    assert section is not None and section["data-state"] == "draft"
    assert [f["data-section"] for f in page.select("fieldset.eval-section")] == [
        "opening",
        "handling",
    ]
    items = {d["data-item"]: d for d in page.select(".eval-item")}
    assert list(items) == ["greeting", "verify", "accuracy", "tone"]
    assert checked(page) == {"greeting": "yes"}  # verify was uncertain: left to the reviewer
    assert items["greeting"].select_one(".eval-auto")["data-auto"] == "yes"
    chip = items["greeting"].select_one(".chip[data-seek]")
    assert chip is not None and chip["data-seek"] == "1.50"
    assert items["verify"].select_one(".auto-answer").text == "uncertain"
    tone = [i["value"] for i in items["tone"].select("input[type=radio]")]
    assert tone == ["1", "2", "3", "4", "5", "na"]
    assert page.select_one("#eval-total").text == "—"
    assert page.select_one("#eval-unanswered")["data-count"] == "3"
    assert page.select_one('input[name="version"]')["value"] == "1"
    assert page.select_one("#submit-evaluation") is not None
    assert page.select_one("#release-evaluation") is None


def test_an_open_evaluation_is_continued_not_started_twice(client: Client, world: None) -> None:
    login(client, "rev1")
    evaluation_id = start(client)
    page = soup(client.get("/calls/c-1").text)
    assert page.select_one("#start-evaluation") is None
    resume = page.select_one("#resume-evaluation")
    assert resume is not None
    assert resume["href"] == f"/calls/c-1?evaluation={evaluation_id}#evaluation"
    listed = page.select(".eval-list li")
    assert [li["data-evaluation"] for li in listed] == [str(evaluation_id)]


def test_save_submit_and_release_with_history(client: Client, world: None, engine: Engine) -> None:
    login(client, "rev1")
    evaluation_id = start(client)
    saved = post(
        client,
        f"/evaluations/{evaluation_id}",
        version="1",
        why="first listen",
        **FILLED,
        **{f"comment.{i}": "" for i in ("verify", "tone")},
        **{"comment.accuracy": "fee amount was vague"},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/calls/c-1?evaluation={evaluation_id}#evaluation"
    page = page_of(client, evaluation_id)
    assert checked(page) == {"greeting": "yes", "verify": "yes", "accuracy": "partial", "tone": "3"}
    total = page.select_one("#eval-total")
    assert total is not None and total["data-total"] == "66.67"
    assert page.select_one('input[name="comment.accuracy"]')["value"] == "fee amount was vague"
    rows = page.select("#eval-history tbody tr")
    answered = [r for r in rows if r["data-action"] == "answer"]
    assert {r["data-item"] for r in answered} == {"verify", "accuracy", "tone"}
    accuracy = next(r for r in answered if r["data-item"] == "accuracy")
    assert "answer: —" in accuracy.select_one(".old").text
    assert "answer: partial" in accuracy.select_one(".new").text
    assert accuracy.select_one(".why-text").text == "first listen"

    submitted = post(client, f"/evaluations/{evaluation_id}/submit", version="2")
    assert submitted.status_code == 303
    assert stored(engine, evaluation_id).state == EvaluationState.SUBMITTED
    page = page_of(client, evaluation_id)
    assert page.select_one("#submit-evaluation") is None
    assert page.select_one("#release-evaluation") is not None
    assert post(client, f"/evaluations/{evaluation_id}/release").status_code == 303
    assert stored(engine, evaluation_id).state == EvaluationState.RELEASED
    page = page_of(client, evaluation_id)
    assert page.select_one("#evaluation")["data-state"] == "released"
    assert page.select_one("#evaluation-form.readonly") is not None
    assert page.select_one("input[type=radio]") is None  # no longer editable
    actions = [r["data-action"] for r in page.select("#eval-history tbody tr")]
    assert actions[0] == "create" and actions[-2:] == ["submit", "release"]
    # Released twice: the wrong state.
    again = post(client, f"/evaluations/{evaluation_id}/release")
    assert again.status_code == 409
    assert "released" in soup(again.text).select_one(".detail").text  # type: ignore[union-attr]


def test_submit_saves_first_and_refuses_open_items(
    client: Client, world: None, engine: Engine
) -> None:
    login(client, "rev1")
    evaluation_id = start(client)
    refused = post(client, f"/evaluations/{evaluation_id}/submit", version="1")
    assert refused.status_code == 422
    assert "accuracy" in soup(refused.text).select_one(".detail").text  # type: ignore[union-attr]
    assert stored(engine, evaluation_id).state == EvaluationState.DRAFT
    fields = {**FILLED, **{f"comment.{i}": "" for i in ("verify", "accuracy", "tone")}}
    done = post(client, f"/evaluations/{evaluation_id}/submit", version="1", **fields)
    assert done.status_code == 303
    row = stored(engine, evaluation_id)
    assert (row.state, row.version, round(row.total or 0, 2)) == ("submitted", 3, 66.67)


def test_a_stale_save_is_refused_and_loses_nothing(
    client: Client, other: Client, world: None, engine: Engine
) -> None:
    login(client, "rev1")
    evaluation_id = start(client)
    # The same reviewer in a second tab saves first.
    login(other, "rev1")
    first = post(
        other,
        f"/evaluations/{evaluation_id}",
        version="1",
        **{"answer.tone": "5", "comment.tone": ""},
    )
    assert first.status_code == 303
    stale = post(
        client,
        f"/evaluations/{evaluation_id}",
        version="1",
        **{"answer.tone": "1", "comment.tone": ""},
    )
    assert stale.status_code == 409
    detail = soup(stale.text).select_one(".detail").text  # type: ignore[union-attr]
    assert "changed by someone else since version 1" in detail and "reload" in detail
    page = soup(stale.text)
    reload = page.select_one("#reload-evaluation")
    assert reload is not None
    assert reload["href"] == f"/calls/c-1?evaluation={evaluation_id}#evaluation"
    unsaved = page.select_one('#unsaved tr[data-item="tone"] .answer')
    assert unsaved is not None and unsaved.text == "1"  # what was typed is shown, not lost
    row = stored(engine, evaluation_id)
    assert (row.version, row.answers["tone"]["answer"]) == (2, 5)


def test_someone_else_s_draft_cannot_be_changed(
    client: Client, other: Client, world: None, engine: Engine
) -> None:
    login(client, "rev1")
    evaluation_id = start(client)
    login(other, "rev2")
    page = page_of(other, evaluation_id)  # reviewers see every evaluation...
    assert page.select_one("#evaluation-form.readonly") is not None  # ...but not to edit
    assert page.select_one("#save-draft") is None
    response = post(
        other,
        f"/evaluations/{evaluation_id}",
        version="1",
        **{"answer.tone": "2", "comment.tone": ""},
    )
    assert response.status_code == 403
    assert post(other, f"/evaluations/{evaluation_id}/submit").status_code == 403
    assert stored(engine, evaluation_id).version == 1


def test_agents_cannot_start_and_do_not_see_drafts(
    client: Client, other: Client, world: None
) -> None:
    login(client, "rev1")
    evaluation_id = start(client)
    login(other, "agent1")
    page = soup(other.get("/calls/c-1").text)
    assert page.select_one("#start-evaluation") is None
    assert page.select(".eval-list li") == []
    assert post(other, "/calls/c-1/evaluations").status_code == 403
    assert other.get(f"/calls/c-1?evaluation={evaluation_id}").status_code == 404
    assert post(other, f"/evaluations/{evaluation_id}", version="1").status_code == 404


def test_no_form_no_start_button_and_a_wrong_call_is_404(client: Client, world: None) -> None:
    login(client, "rev1")
    page = soup(client.get("/calls/c-2").text)
    assert page.select_one("#start-evaluation") is None
    assert post(client, "/calls/c-2/evaluations").status_code == 404
    evaluation_id = start(client)
    assert client.get(f"/calls/c-2?evaluation={evaluation_id}").status_code == 404
    assert client.get("/calls/c-1?evaluation=abc").status_code == 400
    shown = client.get(f"/evaluations/{evaluation_id}", follow_redirects=False)
    assert shown.headers["location"] == f"/calls/c-1?evaluation={evaluation_id}#evaluation"


def test_the_live_total_is_the_server_s_score(client: Client, world: None) -> None:
    login(client, "rev1")
    evaluation_id = start(client)
    url = f"/evaluations/{evaluation_id}/total"
    full = client.get(url, params={"answer.greeting": "yes", **FILLED})
    assert full.json() == {"total": 66.67, "critical_failed": False, "unanswered": []}
    critical = client.get(url, params={"answer.greeting": "yes", **FILLED, "answer.verify": "no"})
    assert critical.json()["total"] == 0 and critical.json()["critical_failed"] is True
    partial = client.get(url, params={"answer.greeting": "yes"})
    assert partial.json() == {
        "total": None,
        "critical_failed": False,
        "unanswered": ["accuracy", "tone", "verify"],
    }
    bad = client.get(url, params={"answer.greeting": "yes", **FILLED, "answer.tone": "9"})
    assert bad.status_code == 422 and "answers.tone" in bad.text
    na = client.get(url, params={"answer.greeting": "yes", **FILLED, "na.tone": "1"})
    assert na.json()["total"] == pytest.approx(100 * (1 + 2 * 0.5) / 3, abs=0.01)


def test_a_key_point_decision_prefills_the_form(
    client: Client, world: None, engine: Engine
) -> None:
    with session_scope(engine) as s:
        rev2 = s.exec(select(User).where(col(User.username) == "rev2")).one()
        override_key_point(s, call_id="c-1", item_id="verify", hit=True, comment="", actor=rev2)
        override_key_point(
            s, call_id="c-1", item_id="greeting", hit=False, comment="no bank name", actor=rev2
        )
    login(client, "rev1")
    page = page_of(client, start(client))
    assert checked(page) == {"greeting": "no", "verify": "yes"}
    auto = page.select_one('.eval-item[data-item="greeting"] .eval-auto')
    assert auto is not None and "rev2" in auto.text and "machine: yes" in auto.text


def test_a_calibration_evaluation_is_blind(client: Client, world: None, engine: Engine) -> None:
    with session_scope(engine) as s:
        people = {u.username: u for u in s.exec(select(User)).all()}
        override_key_point(
            s,
            call_id="c-1",
            item_id="greeting",
            hit=False,
            comment="no bank name",
            actor=people["rev2"],
        )
        calibration = create_calibration(
            s,
            actor=people["boss"],
            name="March",
            form_key="bank-standard",
            call_ids=["c-1"],
            reviewers=[people["rev1"], people["rev2"]],
            expert=None,
        )
        mine = s.exec(
            select(Evaluation).where(
                col(Evaluation.calibration_id) == calibration.id,
                col(Evaluation.reviewer_id) == people["rev1"].id,
            )
        ).one()
        theirs = s.exec(
            select(Evaluation).where(
                col(Evaluation.calibration_id) == calibration.id,
                col(Evaluation.reviewer_id) == people["rev2"].id,
            )
        ).one()
        mine_id, theirs_id = mine.id, theirs.id
    login(client, "rev1")
    page = page_of(client, mine_id or 0)
    assert page.select_one("#blind-notice") is not None
    assert page.select_one("#evaluations") is None  # no list of the call's other evaluations
    assert page.select(".override") == []  # nor rev2's key-point decision
    auto = page.select_one('.eval-item[data-item="greeting"] .eval-auto')
    assert auto is not None and auto["data-auto"] == "yes" and "rev2" not in auto.text
    assert checked(page) == {}  # every answer is the reviewer's own decision
    assert client.get(f"/calls/c-1?evaluation={theirs_id}").status_code == 404
    # A calibration evaluation is never released to the agent.
    fields = {
        "answer.greeting": "yes",
        **FILLED,
        **{f"comment.{i}": "" for i in ("greeting", "verify", "accuracy", "tone")},
    }
    assert post(client, f"/evaluations/{mine_id}/submit", version="1", **fields).status_code == 303
    assert post(client, f"/evaluations/{mine_id}/release").status_code == 409


def test_a_chinese_form_and_comment(client: Client, world: None, engine: Engine) -> None:
    with session_scope(engine) as s:
        make_call(s, "zh-1", agent_id="a-1", queue="hotline")
        make_transcript(s, "zh-1", [("agent", 0.0, 2.0, "您好，欢迎致电")], language="zh")
        form = {
            "id": "zh-hotline",
            "name": "热线质检表",
            "sections": [
                {
                    "id": "kaichang",
                    "label": "开场",
                    "items": [{"id": "wenhou", "label": "使用标准问候语"}],
                }
            ],
        }
        save_form(s, form, actor="admin", source="test")
        assign_form(s, "zh-hotline", queue="hotline", actor="admin")
    login(client, "rev1")
    evaluation_id = start(client, "zh-1")
    response = post(
        client, f"/evaluations/{evaluation_id}", version="1",
        **{"answer.wenhou": "yes", "comment.wenhou": "问候语规范"},
    )  # fmt: skip
    assert response.status_code == 303
    page = page_of(client, evaluation_id, "zh-1")
    item = page.select_one('.eval-item[data-item="wenhou"]')
    assert item is not None and "使用标准问候语" in item.text
    assert page.select_one("fieldset.eval-section legend").text.strip() == "开场"
    assert page.select_one('input[name="comment.wenhou"]')["value"] == "问候语规范"
    assert page.select_one("#eval-total")["data-total"] == "100.00"
    assert "热线质检表" in page.select_one("#evaluation h2").text


def test_a_count_item_on_a_deductive_form(client: Client, world: None, engine: Engine) -> None:
    with session_scope(engine) as s:
        make_call(s, "c-9", agent_id="a-1", queue="collections")
        form = {
            "id": "deductions",
            "name": "Deductive review",
            "scoring": "deductive",
            "sections": [
                {
                    "id": "conduct",
                    "items": [
                        {"id": "interrupt", "type": "count", "deduction": 5},
                        {"id": "hold", "type": "count", "deduction": 10, "na_allowed": False},
                    ],
                }
            ],
        }
        save_form(s, form, actor="admin", source="test")
        assign_form(s, "deductions", queue="collections", actor="admin")
    login(client, "rev1")
    evaluation_id = start(client, "c-9")
    page = page_of(client, evaluation_id, "c-9")
    count = page.select_one('.eval-item[data-item="interrupt"] input[type=number]')
    assert count is not None and count["name"] == "answer.interrupt"
    assert page.select_one('input[name="na.interrupt"]') is not None
    assert page.select_one('input[name="na.hold"]') is None  # N/A not allowed there
    fields = {
        "answer.interrupt": "2",
        "answer.hold": "0",
        "comment.interrupt": "",
        "comment.hold": "",
    }
    assert post(client, f"/evaluations/{evaluation_id}", version="1", **fields).status_code == 303
    row = stored(engine, evaluation_id)
    assert (row.answers["interrupt"]["answer"], row.total) == (2, 90.0)
    na = {**fields, "na.interrupt": "1"}
    assert post(client, f"/evaluations/{evaluation_id}", version="2", **na).status_code == 303
    assert stored(engine, evaluation_id).answers["interrupt"]["answer"] == "na"
    bad = post(
        client, f"/evaluations/{evaluation_id}", version="3", **{**fields, "answer.hold": "-1"}
    )
    assert bad.status_code == 422 and "answers.hold" in bad.text
    total = client.get(
        f"/evaluations/{evaluation_id}/total", params={"answer.interrupt": "1", "answer.hold": "1"}
    )
    assert total.json()["total"] == 85.0


@pytest.mark.parametrize("evaluation_id", [0, 2**31, 2**63 + 5])
def test_an_id_no_row_can_have_is_refused_not_a_server_error(
    client: Client, world: None, evaluation_id: int
) -> None:
    login(client, "rev1")
    # A clear refusal naming the parameter, never a server error.
    page = client.get(f"/calls/c-1?evaluation={evaluation_id}")
    assert page.status_code == 400 and "evaluation" in page.text
    assert client.get(f"/evaluations/{evaluation_id}/total").status_code in (400, 404)
    assert post(client, f"/evaluations/{evaluation_id}/submit").status_code in (400, 404)
