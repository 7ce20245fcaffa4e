"""`GET`/`PUT /api/calls/{call_id}/transcript`: read by visibility, corrected by reviewers,
and a correction is redacted before it is stored."""

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from qm.db import session_scope
from qm.domain import tokens
from qm.models import AuditEvent, CallStage, Role, Segment, Stage, utcnow
from qm.web.rechecks import recheck_worker
from tests.factories import make_call, make_done, make_transcript, make_user
from tests.qm.web.conftest import Client, login

CARD = "it's 4111 1111 1111 1111 thanks"


def corrected(text: str = CARD) -> dict[str, Any]:
    return {
        "call_id": "c-mine",
        "language": "en",
        "duration": 6.0,
        "segments": [
            {"speaker": "agent", "start": 0.0, "end": 2.0, "text": "card number please"},
            {"speaker": "customer", "start": 2.5, "end": 6.0, "text": text},
        ],
    }


@pytest.fixture
def calls(seed: Any) -> None:
    for call_id, agent in (("c-mine", "a-7"), ("c-other", "a-8")):
        seed(lambda s, c=call_id, a=agent: make_call(s, c, agent_id=a))
        seed(lambda s, c=call_id: make_transcript(s, c, [("agent", 0.0, 2.0, "hello")]))
        seed(lambda s, c=call_id: make_done(s, c))


def csrf(client: Client) -> dict[str, str]:
    return {"x-csrftoken": client.cookies["csrftoken"]}


@pytest.mark.pg
def test_reviewer_corrects_and_the_card_is_never_stored(
    reviewer: Client, engine: Engine, calls: None
) -> None:
    before = utcnow()
    response = reviewer.put(
        "/api/calls/c-mine/transcript", json=corrected(), headers=csrf(reviewer)
    )
    assert response.status_code == 200, response.text
    # The call is checked again on the corrected text, in the background.
    assert recheck_worker(reviewer.app.state).wait_idle(30)
    body = response.json()
    assert body["kind"] == "corrected" and body["source"] == "reviewer:rita"
    assert body["segments"][1]["text"] == "it's [PAN] thanks"
    assert reviewer.get("/api/calls/c-mine/transcript").json() == body
    with session_scope(engine) as s:
        texts = [seg.text for seg in s.exec(select(Segment)).all()]
        assert not any("4111" in t for t in texts)
        stages = {st.stage: st for st in s.exec(select(CallStage)).all() if st.call_id == "c-mine"}
        assert stages[Stage.KEYPOINTS].updated_at >= before
        assert stages[Stage.METRICS].updated_at >= before
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "transcript.corrected"))
        assert [(e.actor, e.entity_id) for e in events] == [("rita", "c-mine")]


def test_agent_reads_own_transcript_only_and_cannot_correct(
    client: Client, seed: Any, calls: None
) -> None:
    seed(lambda s: make_user(s, "alex", Role.AGENT, agent_id="a-7"))
    login(client, "alex")
    assert client.get("/api/calls/c-mine/transcript").json()["segments"][0]["text"] == "hello"
    hidden = client.get("/api/calls/c-other/transcript")
    missing = client.get("/api/calls/nope/transcript")
    assert hidden.status_code == missing.status_code == 404
    refused = client.put("/api/calls/c-mine/transcript", json=corrected(), headers=csrf(client))
    assert refused.status_code == 403


def test_bad_body_is_refused_naming_the_field_and_nothing_changes(
    reviewer: Client, engine: Engine, calls: None
) -> None:
    bad = corrected()
    bad["segments"][1]["start"] = -3
    response = reviewer.put("/api/calls/c-mine/transcript", json=bad, headers=csrf(reviewer))
    assert response.status_code == 422
    problem = response.json()
    assert problem["field"] == "segments[1].start" and problem["file"] == "request body"
    not_json = reviewer.put(
        "/api/calls/c-mine/transcript",
        content=b"{not json",
        headers={**csrf(reviewer), "content-type": "application/json"},
    )
    assert 400 <= not_json.status_code < 500
    assert reviewer.get("/api/calls/c-mine/transcript").json()["kind"] == "original"


def test_a_browser_put_needs_the_csrf_token_a_bearer_token_does_not(
    reviewer: Client, engine: Engine, calls: None
) -> None:
    assert reviewer.put("/api/calls/c-mine/transcript", json=corrected()).status_code == 403
    with session_scope(engine) as s:
        token = tokens.issue_token(s, "rita", actor="test")
    reviewer.cookies.clear()
    response = reviewer.put(
        "/api/calls/c-mine/transcript",
        json=corrected("fine thanks"),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert response.json()["segments"][1]["text"] == "fine thanks"


def test_a_call_without_transcript_says_so(reviewer: Client, seed: Any) -> None:
    seed(lambda s: make_call(s, "c-new"))
    response = reviewer.get("/api/calls/c-new/transcript")
    assert response.status_code == 404
    assert "no transcript yet" in response.json()["detail"]
