"""`Authorization: Bearer <token>`: acts as the token's user with that user's role, needs no
CSRF token, and a bad or revoked token answers 401 problem+json (429 once an address keeps
sending bad ones)."""

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from qm.db import session_scope
from qm.domain import tokens
from qm.domain.login_throttle import DatabaseThrottle, Limit
from qm.models import ApiToken, AuditEvent, Role, User
from qm.web.sign_in import SignInGuard
from tests.factories import make_call, make_user
from tests.qm.web.conftest import Client, csrf_token, login


def issue(engine: Engine, username: str) -> str:
    with session_scope(engine) as s:
        return tokens.issue_token(s, username, actor="test")


@pytest.fixture
def calls(seed: Any) -> None:
    seed(lambda s: make_call(s, "c-mine", agent_id="a-7"))
    seed(lambda s: make_call(s, "c-other", agent_id="a-8"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_acts_as_its_user_with_that_role(
    client: Client, engine: Engine, seed: Any, calls: None
) -> None:
    seed(lambda s: make_user(s, "rita", Role.REVIEWER))
    seed(lambda s: make_user(s, "alex", Role.AGENT, agent_id="a-7"))
    listed = {}
    for username in ("rita", "alex"):
        response = client.get("/api/calls", headers=bearer(issue(engine, username)))
        assert response.status_code == 200
        assert "session" not in response.headers.get("set-cookie", "")
        listed[username] = sorted(i["call_id"] for i in response.json()["items"])
    assert listed == {"rita": ["c-mine", "c-other"], "alex": ["c-mine"]}
    # The scheme name is case-insensitive (RFC 9110).
    token = issue(engine, "alex")
    assert client.get("/api/calls", headers={"Authorization": f"bearer {token}"}).status_code == 200
    assert client.get("/api/calls/c-other", headers=bearer(token)).status_code == 404


def test_a_tokens_last_use_is_recorded(client: Client, engine: Engine, seed: Any) -> None:
    seed(lambda s: make_user(s, "rita", Role.REVIEWER))
    token = issue(engine, "rita")
    with session_scope(engine) as s:
        row = s.exec(select(ApiToken)).one()
        assert row.last_used_at is None
    assert client.get("/api/calls", headers=bearer(token)).status_code == 200
    with session_scope(engine) as s:
        used = s.exec(select(ApiToken)).one().last_used_at
    assert used is not None
    assert client.get("/api/calls", headers=bearer(token)).status_code == 200
    with session_scope(engine) as s:
        # Within LAST_USED_RESOLUTION a second call costs no write.
        assert s.exec(select(ApiToken)).one().last_used_at == used


@pytest.mark.parametrize(
    "header",
    ["Bearer qm_not-a-real-token", "Bearer ", "Bearer " + "x" * 500, "Bearer revoked"],
)
def test_bad_token_answers_401_problem(
    client: Client, engine: Engine, seed: Any, header: str
) -> None:
    seed(lambda s: make_user(s, "rita"))
    if header == "Bearer revoked":
        token = issue(engine, "rita")
        assert client.get("/api/calls", headers=bearer(token)).status_code == 200
        with session_scope(engine) as s:
            assert tokens.revoke_tokens(s, "rita", actor="test") == 1
        header = f"Bearer {token}"
    response = client.get("/api/calls", headers={"Authorization": header}, follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert "not valid" in response.json()["detail"]
    with session_scope(engine) as s:
        rejected = s.exec(select(AuditEvent).where(AuditEvent.action == "api.token_rejected"))
        assert [e.detail for e in rejected] == [
            {"address": "testclient", "reason": "unknown or revoked"}
        ]


def test_disabled_users_token_stops_working(client: Client, engine: Engine, seed: Any) -> None:
    seed(lambda s: make_user(s, "rita"))
    token = issue(engine, "rita")
    with session_scope(engine) as s:
        user = s.exec(select(User).where(User.username == "rita")).one()
        user.active = False
        s.add(user)
    assert client.get("/api/calls", headers=bearer(token)).status_code == 401


def test_token_requests_need_no_csrf_token(client: Client, engine: Engine, seed: Any) -> None:
    seed(lambda s: make_user(s, "ada", Role.ADMIN))
    form = {"username": "bo", "password": "long-enough-1", "role": "reviewer"}
    with_token = client.post(
        "/users", data=form, headers=bearer(issue(engine, "ada")), follow_redirects=False
    )
    assert with_token.status_code == 303
    # The same request from a signed-in browser without the CSRF token is refused.
    login(client, "ada")
    without = client.post("/users", data={**form, "username": "cy"}, follow_redirects=False)
    assert without.status_code == 403
    with_csrf = client.post(
        "/users",
        data={**form, "username": "cy", "_csrf_token": csrf_token(client, "/users")},
        follow_redirects=False,
    )
    assert with_csrf.status_code == 303


def test_reviewer_token_is_refused_admin_pages(client: Client, engine: Engine, seed: Any) -> None:
    seed(lambda s: make_user(s, "rita", Role.REVIEWER))
    response = client.get("/users", headers=bearer(issue(engine, "rita")))
    assert response.status_code == 403


def test_an_address_sending_bad_tokens_is_blocked(
    client: Client, engine: Engine, seed: Any
) -> None:
    seed(lambda s: make_user(s, "rita"))
    state = client.app.state
    state.sign_in = SignInGuard(
        state.engine,
        DatabaseThrottle(state.engine),
        hash_slots=1,
        sweep_sessions=True,
        address_limit=Limit(free=1, block_after=3),
    )
    good = issue(engine, "rita")
    # Three failures are allowed; the fourth is past the limit and starts the block.
    for _ in range(4):
        assert client.get("/api/calls", headers=bearer("qm_wrong")).status_code == 401
    blocked = client.get("/api/calls", headers=bearer(good))
    assert blocked.status_code == 429
    assert blocked.headers["content-type"].startswith("application/problem+json")
    assert 0 < int(blocked.headers["retry-after"]) <= 15 * 60
    assert "Try again in 15 minutes" in blocked.json()["detail"]
    with session_scope(engine) as s:
        actions = [e.action for e in s.exec(select(AuditEvent)) if e.action.startswith("api.")]
    assert actions == ["api.token_rejected"] * 4 + ["api.blocked"]
