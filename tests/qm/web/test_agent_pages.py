"""An agent's own pages: scorecard, released evaluations (acknowledge, dispute) and training.

The world: team t-1 with agents a-1 (王芳, user agent1) and a-2 (李强, user agent2);
twelve March 2024 calls of a-1, one of a-2; evaluations of c-1 (a-1) and c-2 (a-2) by rev1,
released; a training assignment each. Refusals: other roles 403, another agent's
evaluation or assignment 404, bad input names the field.
"""

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from qm.domain.evaluations.commands import release, save_answers, start_evaluation, submit
from qm.domain.evaluations.forms import assign_form, load_form_file
from qm.models import (
    AuditEvent,
    Dispute,
    Evaluation,
    EvaluationState,
    Role,
    Team,
    TrainingAssignment,
    TrainingStatus,
    User,
    UserTeam,
)
from tests.factories import T0, make_agent, make_call, make_results, make_transcript, make_user
from tests.qm.web.conftest import Client, csrf_token, login, soup

FORMS = Path(__file__).resolve().parent.parent / "evaluations" / "forms"
FILLED: dict[str, dict[str, Any]] = {
    "greeting": {"answer": "yes"},
    "verify": {"answer": "yes"},
    "accuracy": {"answer": "partial", "comment": "费用说明不清楚"},
    "tone": {"answer": 3},
}


def _release(s: Session, call_id: str, reviewer: User) -> Evaluation:
    evaluation = start_evaluation(s, call_id, actor=reviewer)
    save_answers(s, evaluation.id or 0, actor=reviewer, version=1, answers=FILLED)
    submit(s, evaluation.id or 0, actor=reviewer)
    release(s, evaluation.id or 0, actor=reviewer)
    return evaluation


def build(s: Session) -> None:
    """The world in the module docstring."""
    s.add(Team(id="t-1", name="一组"))
    s.add(Team(id="t-2", name="二组"))
    s.flush()
    for agent_id, name in (("a-1", "王芳"), ("a-2", "李强"), ("a-3", "张伟")):
        make_agent(s, agent_id, name).team_id = "t-1"
    make_agent(s, "a-9", "赵六").team_id = "t-2"
    for i in range(12):
        make_call(s, f"c-1{i:02d}", agent_id="a-1", started_at=T0 + timedelta(days=i))
    make_call(s, "c-1", agent_id="a-1")
    make_transcript(s, "c-1", [("agent", 1.5, 3.25, "您好，感谢致电")])
    make_results(
        s,
        "c-1",
        [{"item_id": "greeting", "hit": True, "start": 1.5, "end": 3.25, "evidence": "您好"}],
    )
    make_call(s, "c-2", agent_id="a-2")
    load_form_file(s, FORMS / "bank-standard.yaml", actor="admin")
    assign_form(s, "bank-standard", queue="billing", actor="admin")
    rev1 = make_user(s, "rev1", Role.REVIEWER)
    make_user(s, "rev2", Role.REVIEWER)
    make_user(s, "boss", Role.ADMIN)
    mgr = make_user(s, "mgr", Role.MANAGER)
    mgr2 = make_user(s, "mgr2", Role.MANAGER)
    s.add(UserTeam(user_id=mgr.id or 0, team_id="t-1"))
    s.add(UserTeam(user_id=mgr2.id or 0, team_id="t-2"))
    make_user(s, "agent1", Role.AGENT, agent_id="a-1")
    make_user(s, "agent2", Role.AGENT, agent_id="a-2")
    _release(s, "c-1", rev1)
    _release(s, "c-2", rev1)
    for agent_id in ("a-1", "a-2"):
        s.add(
            TrainingAssignment(
                agent_id=agent_id,
                module_id="greeting-basics",
                module_title="问候语基础",
                period="2024-03",
                criteria=[
                    {
                        "criterion": "key_point:greeting",
                        "rate": 0.5,
                        "n": 12,
                        "impact": 1.0,
                        "evidence": "missed on 6 of 12 calls",
                    }
                ],
                priority=0.5,
                due_date=date(2024, 4, 30),
            )
        )


@pytest.fixture
def world(seed: Any) -> None:
    """The teams, calls, form, users, evaluations and assignments above."""
    seed(build)


def _eval_id(engine: Any, call_id: str) -> int:
    with Session(engine) as s:
        row = s.exec(select(Evaluation).where(col(Evaluation.call_id) == call_id)).one()
        return row.id or 0


def _post(client: Client, url: str, page: str, **fields: str) -> Any:
    token = csrf_token(client, page)
    return client.post(url, data={"_csrf_token": token, **fields}, follow_redirects=False)


def test_scorecard_shows_every_component_with_n_interval_weight_target_and_team(
    client: Client, world: None
) -> None:
    login(client, "agent1")
    page = client.get("/me/scorecard")
    assert page.status_code == 200, page.text
    html = soup(page.text)
    assert html.select_one("#period-form option[selected]")["value"] == "2024-03"  # type: ignore[index]
    keys = [tr["data-component"] for tr in html.select("#components tbody tr")]
    assert keys == [
        "fcr",
        "transfer_rate",
        "aht_seconds",
        "aht_in_band",
        "courtesy",
        "script_compliance",
        "mystery_shopper",
        "composite",
    ]
    fcr = html.select_one('#components tr[data-component="fcr"]')
    assert fcr is not None
    cells = [td.get_text(strip=True) for td in fcr.select("td")]
    transfer = html.select_one('#components tr[data-component="transfer_rate"] td:nth-of-type(2)')
    assert transfer is not None and transfer.get_text(strip=True) == "13"  # 13 March calls
    assert int(cells[1]) >= 1  # FCR counts the contacts whose window has closed
    assert "–" in cells[2]  # a 95% interval
    assert cells[3].endswith("%")  # its weight in the composite (of the components with data)
    assert cells[4].startswith("≥")  # the target
    # The trend has six months, ending with the month shown, and an SVG chart.
    months = [th.get_text(strip=True) for th in html.select("#trend thead th")][1:]
    assert months == ["2023-10", "2023-11", "2023-12", "2024-01", "2024-02", "2024-03"]
    assert html.select_one("#trend svg") is not None
    # No other agent's name anywhere on the page; the team has 3 agents but only 2 cards.
    for name in ("李强", "张伟", "赵六", "a-2", "a-3"):
        assert name not in page.text
    team = fcr.select_one("td.team")
    assert team is not None and team.get_text(strip=True) == "—"  # fewer than 3 with a value


def test_scorecard_small_n_says_not_enough_data(client: Client, world: None) -> None:
    login(client, "agent2")
    html = soup(client.get("/me/scorecard?period=2024-03").text)
    assert html.select_one("#not-enough") is not None
    assert html.select_one("#rank") is None


def test_scorecard_refusals(client: Client, world: None) -> None:
    login(client, "agent1")
    bad = client.get("/me/scorecard?period=2024-13")
    assert bad.status_code in (400, 422) and "period" in bad.text
    assert client.get("/me/scorecard?period=" + "9" * 40).status_code in (400, 422)
    login(client, "rev1")
    assert client.get("/me/scorecard").status_code == 403
    assert client.get("/me/evaluations").status_code == 403
    assert client.get("/me/training").status_code == 403


def test_evaluations_list_and_page_show_own_released_only(
    client: Client, world: None, engine: Any
) -> None:
    own, other = _eval_id(engine, "c-1"), _eval_id(engine, "c-2")
    login(client, "agent1")
    listing = soup(client.get("/me/evaluations").text)
    assert [li["data-evaluation-id"] for li in listing.select("#evaluations li")] == [str(own)]
    page = client.get(f"/me/evaluations/{own}")
    assert page.status_code == 200
    html = soup(page.text)
    items = [li["data-item-id"] for li in html.select("#answers li")]
    assert items == ["greeting", "verify", "accuracy", "tone"]
    assert "费用说明不清楚" in page.text
    link = html.select_one('li[data-item-id="greeting"] a.evidence-link')
    assert link is not None and link["href"] == "/calls/c-1#t=1.5"
    assert html.select_one("#acknowledge") is not None
    assert html.select_one("#dispute-form") is not None
    # Another agent's evaluation is missing, exactly as one that does not exist.
    assert client.get(f"/me/evaluations/{other}").status_code == 404
    assert client.get("/me/evaluations/99999").status_code == 404
    assert (
        _post(client, f"/me/evaluations/{other}/acknowledge", "/me/evaluations").status_code == 404
    )


def test_acknowledge(client: Client, world: None, engine: Any) -> None:
    own = _eval_id(engine, "c-1")
    login(client, "agent1")
    done = _post(client, f"/me/evaluations/{own}/acknowledge", f"/me/evaluations/{own}")
    assert done.status_code == 303
    html = soup(client.get(f"/me/evaluations/{own}").text)
    assert html.select_one("#state") is not None
    assert html.select_one("#acknowledge") is None and html.select_one("#dispute-form") is None
    with Session(engine) as s:
        assert s.get(Evaluation, own).state == EvaluationState.ACKNOWLEDGED  # type: ignore[union-attr]
    again = _post(client, f"/me/evaluations/{own}/acknowledge", "/me/evaluations")
    assert again.status_code == 409


def test_dispute_is_routed_and_audited_and_limited(
    client: Client, world: None, engine: Any
) -> None:
    own = _eval_id(engine, "c-1")
    login(client, "agent1")
    page = f"/me/evaluations/{own}"
    empty = _post(client, f"{page}/dispute", page, comment="不对")
    assert empty.status_code in (400, 422) and "items" in empty.text
    no_why = _post(client, f"{page}/dispute", page, **{"item.accuracy": "on", "comment": " "})
    assert no_why.status_code in (400, 422) and "comment" in no_why.text
    sent = _post(
        client, f"{page}/dispute", page, **{"item.accuracy": "on", "comment": "我说清楚了"}
    )
    assert sent.status_code == 303, sent.text
    with Session(engine) as s:
        dispute = s.exec(select(Dispute)).one()
        rev2 = s.exec(select(User).where(col(User.username) == "rev2")).one()
        assert dispute.items == ["accuracy"] and dispute.assigned_to == rev2.id
        actions = s.exec(select(AuditEvent.action)).all()
        assert "evaluation.dispute" in actions
    html = soup(client.get(page).text)
    assert html.select_one("#disputes [data-state=open]") is not None
    assert html.select_one("#dispute-form") is None  # the limit (1) is reached
    again = _post(
        client, f"{page}/dispute", "/me/evaluations", **{"item.tone": "on", "comment": "x"}
    )
    assert again.status_code == 409


def test_training_page_and_status_moves(client: Client, world: None, engine: Any) -> None:
    with Session(engine) as s:
        mine = s.exec(
            select(TrainingAssignment).where(col(TrainingAssignment.agent_id) == "a-1")
        ).one()
        theirs = s.exec(
            select(TrainingAssignment).where(col(TrainingAssignment.agent_id) == "a-2")
        ).one()
    login(client, "agent1")
    page = client.get("/me/training")
    html = soup(page.text)
    card = html.select_one(f"#training-{mine.id}")
    assert card is not None and card["data-status"] == "assigned"
    assert "问候语基础" in page.text
    assert html.select_one(f"#training-{theirs.id}") is None
    assert card.select_one('.criteria li[data-criterion="key_point:greeting"]') is not None
    assert card.select_one(".followups li") is not None
    assert "overdue" in card["class"]
    assert _post(client, f"/me/training/{theirs.id}/acknowledge", "/me/training").status_code == 404
    assert _post(client, f"/me/training/{mine.id}/acknowledge", "/me/training").status_code == 303
    assert _post(client, f"/me/training/{mine.id}/acknowledge", "/me/training").status_code == 409
    assert _post(client, f"/me/training/{mine.id}/complete", "/me/training").status_code == 303
    with Session(engine) as s:
        assert s.get(TrainingAssignment, mine.id).status == TrainingStatus.COMPLETED  # type: ignore[union-attr]
        assert (
            len(s.exec(select(AuditEvent).where(col(AuditEvent.action) == "training.status")).all())
            == 2
        )
