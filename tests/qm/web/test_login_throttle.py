"""Login throttling: growing delays, then 429 with Retry-After; per username and per address;
counts in the database or in Redis; every failure and block in the audit log.

The app's guard is rebuilt with small limits (a few tries, fractions of a second of delay) so
that the behaviour, not the production numbers, is what takes the test's time.
"""

import asyncio
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from sqlalchemy import Engine
from sqlmodel import select

from qm.app import create_app
from qm.db import session_scope
from qm.domain import users
from qm.domain.login_throttle import (
    ADDRESS_LIMIT,
    USERNAME_LIMIT,
    DatabaseThrottle,
    Limit,
    RedisThrottle,
    Throttle,
    address_key,
    username_key,
)
from qm.models import AuditEvent, LoginThrottle, utcnow
from qm.settings import Settings
from qm.web.sign_in import SignInGuard
from tests.factories import PASSWORD, make_user
from tests.qm.web.conftest import Client, csrf_token, soup

FAST_USER = Limit(free=2, block_after=4, first_delay=0.5, max_delay=1.0)
FAST_ADDRESS = Limit(free=5, block_after=8, first_delay=0.3, max_delay=0.6)
ROOMY_ADDRESS = Limit(free=100, block_after=200)


@pytest.fixture(params=["database", "redis"])
def make_throttle(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Builds the throttle under test for an engine: the table, or Redis (own key prefix)."""
    if request.param == "database":
        yield DatabaseThrottle
        return
    url = os.environ.get("QM_TEST_REDIS_URL")
    if not url:
        pytest.skip("QM_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)")
    import redis

    client = redis.Redis.from_url(url)
    prefix = f"qm-test:{uuid.uuid4().hex}:"
    yield lambda _engine: RedisThrottle(client, prefix=prefix)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


def use_guard(
    client: Client,
    make_throttle: Any,
    *,
    username_limit: Limit = FAST_USER,
    address_limit: Limit = FAST_ADDRESS,
) -> Throttle:
    """Give the client's app a guard with small limits; returns its throttle."""
    state = client.app.state
    throttle: Throttle = make_throttle(state.engine)
    state.sign_in = SignInGuard(
        state.engine,
        throttle,
        hash_slots=2,
        sweep_sessions=True,
        username_limit=username_limit,
        address_limit=address_limit,
    )
    return throttle


def attempt(client: Client, username: str, password: str, **headers: str) -> httpx.Response:
    return client.post(
        "/login",
        data={"username": username, "password": password, "_csrf_token": csrf_token(client)},
        headers=headers,
        follow_redirects=False,
    )


def audit_events(engine: Engine, action: str) -> list[AuditEvent]:
    with session_scope(engine) as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_wrong_passwords_slow_down_then_block(
    client: Client, engine: Engine, seed: Any, make_throttle: Any
) -> None:
    seed(lambda s: make_user(s, "rita"))
    use_guard(client, make_throttle)
    timings = []
    for _ in range(FAST_USER.block_after):
        started = time.perf_counter()
        response = attempt(client, "rita", "wrong-password")
        timings.append(time.perf_counter() - started)
        assert response.status_code == 401
    # Two free tries, then 0.5 s and 1 s of wait before the password is even looked at.
    assert timings[2] >= 0.5 and timings[3] >= 1.0
    assert max(timings[:2]) < timings[3]

    blocked = attempt(client, "rita", PASSWORD)  # even the right password is refused now
    assert blocked.status_code == 429
    retry_after = int(blocked.headers["retry-after"])
    assert 14 * 60 < retry_after <= 15 * 60
    alert = soup(blocked.text).select_one('[role="alert"]')
    assert alert is not None and "Too many failed sign-ins" in alert.text
    assert "15 minutes" in alert.text
    assert attempt(client, "RITA ", "wrong-password").status_code == 429  # same username
    assert client.get("/calls", follow_redirects=False).status_code == 303

    failures = audit_events(engine, "login.failure")
    assert [(e.actor, e.entity_id) for e in failures] == [("anonymous", "rita")] * 4
    assert all(e.detail == {"address": "testclient", "reason": "wrong password"} for e in failures)
    blocks = audit_events(engine, "login.blocked")
    assert [e.entity_id for e in blocks] == ["rita", "RITA"]
    assert all(e.detail and e.detail["address"] == "testclient" for e in blocks)


def test_success_resets_the_username_count(
    client: Client, engine: Engine, seed: Any, make_throttle: Any
) -> None:
    seed(lambda s: make_user(s, "rita"))
    use_guard(client, make_throttle)
    for _ in range(FAST_USER.block_after - 1):
        assert attempt(client, "rita", "wrong-password").status_code == 401
    assert attempt(client, "rita", PASSWORD).status_code == 303
    [success] = audit_events(engine, "login.success")
    assert success.actor == "rita" and success.detail == {"address": "testclient"}
    # A fresh count: three more failures (not one) before the block.
    for _ in range(FAST_USER.block_after):
        assert attempt(client, "rita", "wrong-password").status_code == 401
    assert attempt(client, "rita", "wrong-password").status_code == 429


def test_one_address_is_blocked_across_usernames(
    client: Client, seed: Any, make_throttle: Any
) -> None:
    seed(lambda s: make_user(s, "rita"))
    use_guard(client, make_throttle, username_limit=Limit(free=100, block_after=200))
    for n in range(FAST_ADDRESS.block_after):
        assert attempt(client, f"user-{n}", "wrong-password").status_code == 401
    assert attempt(client, "rita", PASSWORD).status_code == 429


def test_forwarded_address_counts_only_behind_a_trusted_proxy(
    engine: Engine, settings: Settings, seed: Any
) -> None:
    seed(lambda s: make_user(s, "rita"))
    proxied = settings.model_copy(update={"trust_proxy_headers": True})
    for app_settings, expected in ((settings, "testclient"), (proxied, "203.0.113.9")):
        with TestClient(create_app(app_settings)) as client:
            # The client wrote the first entry itself; our proxy appended the last one.
            response = attempt(
                client, "rita", "wrong-password", **{"X-Forwarded-For": "10.0.0.1, 203.0.113.9"}
            )
            assert response.status_code == 401
        event = audit_events(engine, "login.failure")[-1]
        assert event.detail is not None and event.detail["address"] == expected
    with engine.connect() as conn:
        keys = set(conn.execute(sa.select(LoginThrottle.key)).scalars())  # type: ignore[call-overload]
    assert keys == {"user:rita", "addr:testclient", "addr:203.0.113.9"}


def test_a_concurrent_storm_is_counted_one_by_one(
    client: Client, engine: Engine, seed: Any, make_throttle: Any
) -> None:
    """Twelve wrong passwords at once: exactly `block_after` are checked, the rest get 429."""
    seed(lambda s: make_user(s, "rita"))
    use_guard(client, make_throttle, address_limit=ROOMY_ADDRESS)
    token = csrf_token(client)
    cookies = {"csrftoken": client.cookies["csrftoken"]}

    async def storm() -> list[int]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver.local", cookies=cookies
        ) as http:
            form = {"username": "rita", "password": "wrong-password", "_csrf_token": token}
            responses = await asyncio.gather(*(http.post("/login", data=form) for _ in range(12)))
        return [r.status_code for r in responses]

    codes = Counter(asyncio.run(storm()))
    assert codes == {401: FAST_USER.block_after, 429: 12 - FAST_USER.block_after}
    assert len(audit_events(engine, "login.failure")) == FAST_USER.block_after


def test_counts_expire_with_their_window(engine: Engine, make_throttle: Any) -> None:
    throttle: Throttle = make_throttle(engine)
    user, address = username_key(f"u-{uuid.uuid4().hex}"), address_key("198.51.100.7")
    start = utcnow()
    for n in range(USERNAME_LIMIT.block_after):
        verdict = throttle.attempt([user, address], start + timedelta(seconds=n))
        assert verdict.blocked_until is None
        assert verdict.delay == USERNAME_LIMIT.delay(n)
    assert USERNAME_LIMIT.delay(USERNAME_LIMIT.free) == 1.0
    late = start + timedelta(seconds=20)
    verdict = throttle.attempt([user, address], late)
    assert verdict.blocked_until is not None
    assert verdict.retry_after(late) == 15 * 60
    assert throttle.blocked_until([user], late) == verdict.blocked_until
    assert throttle.blocked_until([address], late) is None  # the address limit is higher
    # The block and the window end together; the next attempt starts a fresh count.
    after = verdict.blocked_until + timedelta(seconds=1)
    assert throttle.blocked_until([user], after) is None
    fresh = throttle.attempt([user], after)
    assert fresh.blocked_until is None and fresh.delay == 0.0
    assert ADDRESS_LIMIT.block_after > USERNAME_LIMIT.block_after


def test_sweep_drops_finished_counts(engine: Engine) -> None:
    throttle = DatabaseThrottle(engine)
    now = utcnow()
    throttle.attempt([username_key("old")], now - timedelta(hours=1))
    throttle.attempt([username_key("new")], now)
    assert throttle.sweep(now) == 1
    with engine.connect() as conn:
        keys = list(conn.execute(sa.select(LoginThrottle.key)).scalars())  # type: ignore[call-overload]
    assert keys == ["user:new"]


def test_password_hashing_holds_no_database_connection(
    engine: Engine, seed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While argon2 runs, no pooled connection is checked out; a storm queues for the CPUs.

    Each password check records how many pooled connections are out at that moment and how
    many checks run at once; a short pause inside it makes the others queue for the slot.
    """
    seed(lambda s: make_user(s, "rita"))
    during_checks: list[int] = []
    running = [0]
    most_running = [0]
    real_matches = users.password_matches

    def watched(*args: Any, **kwargs: Any) -> bool:
        running[0] += 1
        most_running[0] = max(most_running[0], running[0])
        during_checks.append(engine.pool.checkedout())  # type: ignore[attr-defined]
        try:
            time.sleep(0.2)  # a slow hash: long enough for the other sign-ins to queue
            return real_matches(*args, **kwargs)
        finally:
            running[0] -= 1

    monkeypatch.setattr(users, "password_matches", watched)
    guard = SignInGuard(
        engine,
        DatabaseThrottle(engine),
        hash_slots=1,
        sweep_sessions=True,
        address_limit=ROOMY_ADDRESS,
        username_limit=Limit(free=100, block_after=200),
    )

    # One sign-in alone: while its password is checked, the pool has nothing checked out.
    alone = asyncio.run(guard.sign_in("rita", PASSWORD, "192.0.2.1"))
    assert alone.user is not None
    assert during_checks == [0]

    async def run() -> tuple[list[Any], int]:
        most_waiting = 0
        tasks = [
            asyncio.ensure_future(guard.sign_in("rita", password, "192.0.2.1"))
            for password in (PASSWORD, "wrong-password", "wrong-password")
        ]
        while not all(task.done() for task in tasks):
            most_waiting = max(most_waiting, guard.limiter.statistics().tasks_waiting)
            await asyncio.sleep(0.01)
        return [task.result() for task in tasks], most_waiting

    # A small storm: the checks take the single hashing slot one at a time.
    results, most_waiting = asyncio.run(run())
    assert [r.user is not None for r in results] == [True, False, False]
    assert most_running[0] == 1
    assert most_waiting >= 1  # the others queued for it
