"""Browser sessions: stored in the database (or Redis), only for signed-in users, hashed,
surviving a restart, expiring, renewed on use, swept, and Secure over HTTPS."""

import hashlib
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from sqlalchemy import Engine
from sqlmodel import SQLModel

from qm.app import create_app
from qm.db import make_engine, session_scope
from qm.domain import web_sessions
from qm.models import WebSession, utcnow
from qm.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories import make_user
from tests.qm.web.conftest import Client, csrf_token, login

TABLE: sa.Table = WebSession.__table__  # type: ignore[attr-defined]


def rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(TABLE)).all())


def cookie_headers(response: Any) -> dict[str, str]:
    """Set-Cookie headers of a response by cookie name."""
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def test_anonymous_visits_create_no_session(client: Client, engine: Engine) -> None:
    for path in ("/login", "/calls", "/calls/c-1", "/api/calls", "/static/qm.css", "/schema"):
        response = client.get(path, follow_redirects=False)
        assert "session" not in cookie_headers(response), path
    assert rows(engine) == []
    # A failed sign-in creates none either.
    client.post(
        "/login",
        data={"username": "nobody", "password": "wrong-pass-1", "_csrf_token": csrf_token(client)},
    )
    assert rows(engine) == []
    assert client.cookies.get("session") is None


def test_sign_in_stores_a_hash_of_the_cookie_id(
    client: Client, engine: Engine, seed: Any, settings: Settings
) -> None:
    seed(lambda s: make_user(s, "rita"))
    login(client, "rita")
    cookie = client.cookies.get("session")
    assert cookie
    [row] = rows(engine)
    assert row.id == hashlib.sha256(cookie.encode()).hexdigest()
    assert cookie.encode() not in row.data
    lifetime = row.expires_at - utcnow()
    assert timedelta(seconds=settings.session_max_age - 60) < lifetime
    assert lifetime <= timedelta(seconds=settings.session_max_age)
    # Browsing does not write a new row or change the cookie's id.
    assert client.get("/calls").status_code == 200
    assert [r.id for r in rows(engine)] == [row.id]
    assert client.cookies.get("session") == cookie


def test_sign_out_deletes_the_session(client: Client, engine: Engine, seed: Any) -> None:
    seed(lambda s: make_user(s, "rita"))
    login(client, "rita")
    assert len(rows(engine)) == 1
    response = client.post("/logout", data={"_csrf_token": csrf_token(client, "/calls")})
    assert response.status_code == 200  # followed to the login page
    assert rows(engine) == []


def test_signing_in_again_replaces_the_old_session(
    client: Client, engine: Engine, seed: Any
) -> None:
    seed(lambda s: make_user(s, "rita"))
    login(client, "rita")
    first = client.cookies.get("session")
    login(client, "rita")
    second = client.cookies.get("session")
    assert first != second
    assert [r.id for r in rows(engine)] == [hashlib.sha256(str(second).encode()).hexdigest()]


def test_session_survives_a_restart(tmp_path: Path) -> None:
    """Two app instances on one database file: a cookie from the first works on the second."""
    url = f"sqlite:///{tmp_path / 'qm.db'}"
    engine = make_engine(url)
    SQLModel.metadata.create_all(engine)
    with session_scope(engine) as s:
        make_user(s, "rita")
    engine.dispose()
    settings = Settings(database_url=url, secret_key=TEST_SECRET, _env_file=None)  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as first:
        login(first, "rita")
        cookie = first.cookies.get("session")
    with TestClient(create_app(settings)) as second:
        second.cookies.set("session", cookie or "", domain="testserver.local", path="/")
        response = second.get("/calls", follow_redirects=False)
        assert response.status_code == 200


def test_expired_session_signs_out_and_is_swept(client: Client, engine: Engine, seed: Any) -> None:
    seed(lambda s: make_user(s, "rita"))
    login(client, "rita")
    with engine.begin() as conn:
        conn.execute(sa.update(TABLE).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = client.get("/calls", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert 'session="null"' in cookie_headers(response)["session"] or (
        "session=null" in cookie_headers(response)["session"]
    )
    assert rows(engine) == []


def test_sweep_deletes_only_expired_sessions(engine: Engine) -> None:
    now = utcnow()
    with session_scope(engine) as s:
        web_sessions.save(
            s, "old", b"{}", lifetime=timedelta(hours=1), now=now - timedelta(hours=2)
        )
        web_sessions.save(s, "live", b"{}", lifetime=timedelta(hours=1), now=now)
    with session_scope(engine) as s:
        assert web_sessions.read(s, "old", now=now) is None  # expired counts as gone already
        assert web_sessions.sweep_expired(s) == 1
    assert [r.id for r in rows(engine)] == ["live"]


def test_sign_in_sweeps_expired_sessions(client: Client, engine: Engine, seed: Any) -> None:
    seed(lambda s: make_user(s, "rita"))
    with session_scope(engine) as s:
        web_sessions.save(
            s, "stale", b"{}", lifetime=timedelta(hours=1), now=utcnow() - timedelta(days=2)
        )
    login(client, "rita")
    assert "stale" not in [r.id for r in rows(engine)]
    assert len(rows(engine)) == 1


def test_use_renews_the_session(
    client: Client, engine: Engine, seed: Any, settings: Settings
) -> None:
    seed(lambda s: make_user(s, "rita"))
    login(client, "rita")
    soon = utcnow() + timedelta(minutes=10)
    with engine.begin() as conn:
        conn.execute(sa.update(TABLE).values(expires_at=soon))
    response = client.get("/calls")
    assert response.status_code == 200
    [row] = rows(engine)
    assert row.expires_at > utcnow() + timedelta(seconds=settings.session_max_age - 120)
    assert f"Max-Age={settings.session_max_age}" in cookie_headers(response)["session"]


def _https_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update=changes)


@pytest.mark.parametrize(
    ("changes", "headers", "secure"),
    [
        ({}, {}, False),
        ({"public_url": "https://qm.example.com"}, {}, True),
        ({"trust_proxy_headers": True}, {"X-Forwarded-Proto": "https"}, True),
        # An untrusted client cannot make us believe it used HTTPS (nor the reverse).
        ({}, {"X-Forwarded-Proto": "https"}, False),
    ],
)
def test_cookies_are_secure_over_https(
    engine: Engine,
    settings: Settings,
    seed: Any,
    changes: dict[str, Any],
    headers: dict[str, str],
    secure: bool,
) -> None:
    seed(lambda s: make_user(s, "rita"))
    with TestClient(create_app(_https_settings(settings, **changes))) as client:
        page = client.get("/login", headers=headers)
        csrf_cookie = cookie_headers(page)["csrftoken"]
        token = csrf_cookie.split(";")[0].split("=", 1)[1]
        # Sent by hand: the test client, on http://, holds back a Secure cookie (as it should).
        response = client.post(
            "/login",
            data={"username": "rita", "password": "correct-horse-1", "_csrf_token": token},
            headers={**headers, "Cookie": f"csrftoken={token}"},
            follow_redirects=False,
        )
        assert response.status_code == 303
        session_cookie = cookie_headers(response)["session"]
    for cookie in (session_cookie, csrf_cookie):
        assert ("Secure" in cookie.split("; ")) is secure, cookie
    assert "HttpOnly" in session_cookie.split("; ")
    assert "SameSite=lax" in session_cookie.split("; ")


def test_https_request_scheme_makes_cookies_secure(
    engine: Engine, settings: Settings, seed: Any
) -> None:
    seed(lambda s: make_user(s, "rita"))
    with TestClient(create_app(settings), base_url="https://testserver.local") as client:
        login(client, "rita")
        assert client.get("/calls").status_code == 200
        response = client.post(
            "/logout", data={"_csrf_token": csrf_token(client, "/calls")}, follow_redirects=False
        )
        assert "Secure" in cookie_headers(response)["session"]


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = os.environ.get("QM_TEST_REDIS_URL")
    if not url:
        pytest.skip("QM_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)")
    yield url


def test_sessions_in_redis_survive_a_restart(
    engine: Engine, settings: Settings, seed: Any, redis_url: str
) -> None:
    import redis

    seed(lambda s: make_user(s, "rita"))
    redis_settings = settings.model_copy(update={"redis_url": redis_url})
    with TestClient(create_app(redis_settings)) as first:
        for path in ("/login", "/calls"):
            assert "session" not in cookie_headers(first.get(path, follow_redirects=False))
        login(first, "rita")
        cookie = first.cookies.get("session") or ""
    key = f"qm:sessions{hashlib.sha256(cookie.encode()).hexdigest()}"
    client = redis.Redis.from_url(redis_url)
    try:
        stored = [k.decode() for k in client.scan_iter(match="qm:sessions*")]
        assert any(k.endswith(hashlib.sha256(cookie.encode()).hexdigest()) for k in stored)
        assert not any(cookie in k for k in stored)
        assert (
            0
            < client.ttl(next(k for k in stored if k.endswith(key[-64:])))
            <= (settings.session_max_age)
        )
        assert rows(engine) == []  # nothing in the database
        with TestClient(create_app(redis_settings)) as second:
            second.cookies.set("session", cookie, domain="testserver.local", path="/")
            assert second.get("/calls", follow_redirects=False).status_code == 200
            second.post("/logout", data={"_csrf_token": csrf_token(second, "/calls")})
        assert not [
            k for k in client.scan_iter(match="qm:sessions*") if k.decode().endswith(key[-64:])
        ]
    finally:
        for k in client.scan_iter(match=f"*{key[-64:]}"):
            client.delete(k)
        client.close()
