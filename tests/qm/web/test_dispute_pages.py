"""The resolvers' side of disputes: the queue (mine first), the resolve page, upholding and
changing answers, the routing rule (the scorer may not decide while another reviewer is
active), refusals (agents 403, a manager of another team 404, bad input names the field)
and the outcome as the agent then sees it."""

from typing import Any

import pytest
from sqlmodel import Session, col, select

from qm.models import AuditEvent, Dispute, Evaluation, EvaluationState
from tests.qm.web.conftest import Client, csrf_token, login, soup
from tests.qm.web.test_agent_pages import build


@pytest.fixture
def disputed(seed: Any, engine: Any, client: Client) -> int:
    """The world of test_agent_pages, with agent1 disputing `accuracy` on c-1's evaluation."""
    seed(build)
    with Session(engine) as s:
        eid = s.exec(select(Evaluation.id).where(col(Evaluation.call_id) == "c-1")).one()
    login(client, "agent1")
    page = f"/me/evaluations/{eid}"
    token = csrf_token(client, page)
    sent = client.post(
        f"{page}/dispute",
        data={"_csrf_token": token, "item.accuracy": "on", "comment": "我解释了费用"},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    with Session(engine) as s:
        return s.exec(select(Dispute.id)).one() or 0


def _resolve(client: Client, dispute_id: int, **fields: str) -> Any:
    token = csrf_token(client, f"/disputes/{dispute_id}")
    return client.post(
        f"/disputes/{dispute_id}/resolve",
        data={"_csrf_token": token, **fields},
        follow_redirects=False,
    )


def test_queue_lists_mine_first_and_hides_other_teams(client: Client, disputed: int) -> None:
    login(client, "rev2")  # routed to rev2: rev1 scored it
    html = soup(client.get("/disputes").text)
    assert [tr["data-dispute-id"] for tr in html.select("#mine tbody tr")] == [str(disputed)]
    assert "王芳" in html.get_text()
    login(client, "rev1")
    html = soup(client.get("/disputes").text)
    assert html.select_one("#mine") is None
    assert [tr["data-dispute-id"] for tr in html.select("#others tbody tr")] == [str(disputed)]
    login(client, "mgr2")  # manages another team
    html = soup(client.get("/disputes").text)
    assert html.select("tr[data-dispute-id]") == []
    assert client.get(f"/disputes/{disputed}").status_code == 404
    login(client, "agent1")
    assert client.get("/disputes").status_code == 403
    assert client.get(f"/disputes/{disputed}").status_code == 403


def test_scorer_cannot_resolve_while_another_reviewer_is_active(
    client: Client, disputed: int
) -> None:
    login(client, "rev1")
    html = soup(client.get(f"/disputes/{disputed}").text)
    assert html.select_one("#cannot-resolve") is not None
    assert html.select_one("#resolve-form") is None
    assert _resolve(client, disputed, outcome="upheld", comment="我没错").status_code == 403


def test_change_an_answer_and_the_agent_sees_the_outcome(
    client: Client, disputed: int, engine: Any
) -> None:
    login(client, "rev2")
    page = soup(client.get(f"/disputes/{disputed}").text)
    assert [li["data-item-id"] for li in page.select("#disputed-items li")] == ["accuracy"]
    assert page.select_one("#agent-comment").get_text(strip=True) == "我解释了费用"  # type: ignore[union-attr]
    no_comment = _resolve(client, disputed, outcome="upheld", comment="")
    assert no_comment.status_code in (400, 422) and "comment" in no_comment.text
    bad = _resolve(client, disputed, outcome="maybe", comment="x")
    assert bad.status_code in (400, 422) and "outcome" in bad.text
    same = _resolve(
        client,
        disputed,
        outcome="changed",
        comment="x",
        **{"answer.accuracy": "partial", "comment.accuracy": "费用说明不清楚"},
    )
    assert same.status_code in (400, 422) and "answers" in same.text
    done = _resolve(
        client,
        disputed,
        outcome="changed",
        comment="复听录音，确认已说明",
        **{"answer.accuracy": "yes", "comment.accuracy": "费用说明不清楚"},
    )
    assert done.status_code == 303, done.text
    with Session(engine) as s:
        dispute = s.get(Dispute, disputed)
        assert dispute is not None and dispute.outcome == "changed"
        evaluation = s.get(Evaluation, dispute.evaluation_id)
        assert evaluation is not None and evaluation.state == EvaluationState.RESOLVED
        assert evaluation.answers["accuracy"]["answer"] == "yes"
        actions = set(s.exec(select(AuditEvent.action)).all())
        assert {"dispute.resolve", "evaluation.resolve"} <= actions
        eid = evaluation.id
    assert _resolve(client, disputed, outcome="upheld", comment="again").status_code == 409
    login(client, "agent1")
    html = soup(client.get(f"/me/evaluations/{eid}").text)
    outcome = html.select_one("#disputes .outcome")
    assert outcome is not None and outcome["data-outcome"] == "changed"
    change = html.select_one('#disputes .changes li[data-item-id="accuracy"]')
    assert change is not None and "→" in change.get_text()
    score = html.select_one("#score-change")
    assert score is not None and "67%" in score.get_text() and "83%" in score.get_text()
    assert "复听录音，确认已说明" in html.get_text()


def test_upheld_keeps_the_answers(client: Client, disputed: int, engine: Any) -> None:
    login(client, "mgr")  # the team's manager may decide too
    assert _resolve(client, disputed, outcome="upheld", comment="维持").status_code == 303
    html = soup(client.get(f"/disputes/{disputed}").text)
    assert html.select_one("#outcome [data-outcome=upheld]") is not None
    with Session(engine) as s:
        dispute = s.get(Dispute, disputed)
        evaluation = s.get(Evaluation, dispute.evaluation_id)  # type: ignore[union-attr]
        assert evaluation is not None and evaluation.answers["accuracy"]["answer"] == "partial"
