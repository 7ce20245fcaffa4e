"""Signing in and out, sessions, CSRF, role guards and the user admin page."""

from pathlib import Path
from typing import Any

from litestar.testing import TestClient
from sqlmodel import SQLModel, col, select

from qm.app import create_app
from qm.db import make_engine, session_scope
from qm.models import AuditEvent, Role
from qm.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories import make_call, make_user
from tests.qm.web.conftest import Client, csrf_token, login, soup


def test_pages_redirect_to_login_when_signed_out(client: Client) -> None:
    response = client.get("/calls?agent=a-1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fcalls%3Fagent%3Da-1"


def test_root_leads_to_the_call_list(client: Client, seed: Any) -> None:
    seed(lambda s: make_user(s, "rita"))
    login(client, "rita")
    response = client.get("/")
    assert response.status_code == 200
    assert response.url.path == "/calls"


def test_api_answers_401_problem_when_signed_out(client: Client) -> None:
    response = client.get("/api/calls", follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 401


def test_login_goes_back_to_the_page_asked_for(client: Client, seed: Any) -> None:
    seed(lambda s: make_user(s, "rita"))
    token = csrf_token(client, "/login?next=/calls/c-9")
    page = soup(client.get("/login?next=/calls/c-9").text)
    assert page.select_one('input[name="next"]')["value"] == "/calls/c-9"  # type: ignore[index]
    response = client.post(
        "/login",
        data={
            "username": "rita",
            "password": "correct-horse-1",
            "next": "/calls/c-9",
            "_csrf_token": token,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/calls/c-9"


def test_login_never_redirects_off_site(client: Client, seed: Any) -> None:
    seed(lambda s: make_user(s, "rita"))
    response = client.post(
        "/login",
        data={
            "username": "rita",
            "password": "correct-horse-1",
            "next": "//evil.example/phish",
            "_csrf_token": csrf_token(client),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/calls"


def test_wrong_password_is_refused_with_a_message(client: Client, seed: Any) -> None:
    seed(lambda s: make_user(s, "rita"))
    for username, password in (("rita", "wrong-password"), ("nobody", "correct-horse-1")):
        response = client.post(
            "/login",
            data={"username": username, "password": password, "_csrf_token": csrf_token(client)},
        )
        assert response.status_code == 401
        alert = soup(response.text).select_one('[role="alert"]')
        assert alert is not None and "Wrong username or password" in alert.text
    assert client.get("/calls", follow_redirects=False).status_code == 303


def test_inactive_user_cannot_sign_in(client: Client, seed: Any) -> None:
    def build(s: Any) -> None:
        make_user(s, "gone").active = False

    seed(build)
    response = client.post(
        "/login",
        data={"username": "gone", "password": "correct-horse-1", "_csrf_token": csrf_token(client)},
    )
    assert response.status_code == 401


def test_login_without_csrf_token_is_rejected(client: Client, seed: Any) -> None:
    seed(lambda s: make_user(s, "rita"))
    client.get("/login")
    response = client.post("/login", data={"username": "rita", "password": "correct-horse-1"})
    assert response.status_code == 403


def test_session_id_changes_at_login(client: Client, seed: Any) -> None:
    """A session id planted before sign-in must not become the signed-in session."""
    seed(lambda s: make_user(s, "rita"))
    client.cookies.set("session", "a" * 64, domain="testserver.local", path="/")
    login(client, "rita")
    assert client.cookies.get("session") not in (None, "a" * 64)
    assert client.get("/calls").status_code == 200


def test_logout_ends_the_session(client: Client, seed: Any) -> None:
    seed(lambda s: make_user(s, "rita"))
    login(client, "rita")
    old_session = client.cookies.get("session")
    token = csrf_token(client, "/calls")
    response = client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/calls", follow_redirects=False).status_code == 303
    # Replaying the old cookie does not work either: the server forgot the session.
    client.cookies.set("session", old_session or "", domain="testserver.local", path="/")
    assert client.get("/calls", follow_redirects=False).status_code == 303


def test_users_page_is_for_admins_only(client: Client, seed: Any) -> None:
    seed(lambda s: make_user(s, "rita", Role.REVIEWER))
    login(client, "rita")
    response = client.get("/users")
    assert response.status_code == 403
    assert "admin" in soup(response.text).select_one(".detail").text  # type: ignore[union-attr]
    assert soup(client.get("/calls").text).select_one('a[href="/users"]') is None


def test_admin_adds_a_user_who_can_sign_in(client: Client, seed: Any, engine: Any) -> None:
    seed(lambda s: make_user(s, "ada", Role.ADMIN))
    seed(lambda s: make_call(s, "c-1", agent_id="a-7"))
    login(client, "ada")
    form = {
        "username": "alex",
        "password": "long-enough-1",
        "role": "agent",
        "agent_id": "a-7",
        "display_name": "Alex",
        "_csrf_token": csrf_token(client, "/users"),
    }
    response = client.post("/users", data=form, follow_redirects=False)
    assert response.status_code == 303
    rows = soup(client.get("/users").text).select("#users tbody tr")
    assert ["alex", "Alex", "agent", "a-7", "yes"] in [
        [td.text.strip() for td in tr.select("td")] for tr in rows
    ]
    with session_scope(engine) as s:
        event = s.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "user.create")
            .order_by(col(AuditEvent.id))
        ).all()
        assert [(e.actor, e.entity_id) for e in event][-1] == ("ada", "alex")

    again = client.post("/users", data=form)
    assert again.status_code == 409
    assert "already exists" in soup(again.text).select_one('[role="alert"]').text  # type: ignore[union-attr]

    short = client.post("/users", data={**form, "username": "bo", "password": "short"})
    assert short.status_code == 422
    assert "password" in soup(short.text).select_one('[role="alert"]').text  # type: ignore[union-attr]

    client.post("/logout", data={"_csrf_token": csrf_token(client, "/calls")})
    login(client, "alex", "long-enough-1")
    assert client.get("/calls").status_code == 200


def test_health_needs_no_login_and_checks_the_database(client: Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_health_reports_an_unreachable_database(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'missing' / 'qm.db'}",
        secret_key=TEST_SECRET,
        _env_file=None,  # type: ignore[call-arg]
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "error"


def test_two_apps_side_by_side_keep_their_own_data(tmp_path: Path) -> None:
    apps = []
    for name in ("one", "two"):
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
        engine = make_engine(url)
        SQLModel.metadata.create_all(engine)
        with session_scope(engine) as s:
            make_user(s, "rita")
            make_call(s, f"call-{name}")
        engine.dispose()
        settings = Settings(
            database_url=url,
            secret_key=TEST_SECRET,
            _env_file=None,  # type: ignore[call-arg]
        )
        apps.append(create_app(settings))
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        login(first, "rita")
        login(second, "rita")
        assert [i["call_id"] for i in first.get("/api/calls").json()["items"]] == ["call-one"]
        assert [i["call_id"] for i in second.get("/api/calls").json()["items"]] == ["call-two"]
