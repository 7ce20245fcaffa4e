"""Saves from several web workers at once wait their turn instead of failing.

Two apps (two workers) over one database, each saving its own evaluation in a tight loop
from its own thread: every save answers 200 and every version is kept. On SQLite a
request that reads and then writes must hold the write lock from its start, or a commit
by the other worker in between makes its write fail ("database is locked").
"""

import threading
from collections.abc import Callable

from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.app import create_app
from qm.db import session_scope
from qm.domain import tokens
from qm.domain.evaluations.commands import start_evaluation
from qm.models import Evaluation, User
from qm.settings import Settings
from tests.factories import make_call
from tests.qm.web.test_evaluations_api import build_world

SAVES = 12


def test_two_workers_saving_at_once_never_fail(
    engine: Engine, settings: Settings, seed: Callable[..., None]
) -> None:
    seed(build_world)
    seed(lambda s: make_call(s, "c-2", agent_id="a-1"))
    ids: dict[str, int] = {}
    headers: dict[str, dict[str, str]] = {}
    with session_scope(engine) as s:
        for name, call in (("rev1", "c-1"), ("rev2", "c-2")):
            actor = s.exec(select(User).where(col(User.username) == name)).one()
            ids[name] = start_evaluation(s, call, actor=actor).id or 0
            headers[name] = {"Authorization": f"Bearer {tokens.issue_token(s, name, actor='t')}"}
    statuses: dict[str, list[int]] = {"rev1": [], "rev2": []}

    def save_loop(client: TestClient[Litestar], name: str) -> None:
        url = f"/api/evaluations/{ids[name]}"
        for n in range(SAVES):
            got = client.get(url, headers=headers[name])
            assert got.status_code == 200, got.text
            version = got.json()["version"]
            body = {"version": version, "answers": {"tone": {"answer": 1 + n % 5}}}
            response = client.patch(url, json=body, headers=headers[name])
            statuses[name].append(response.status_code)

    # One app per worker, started here: apps built in threads race on lazy imports.
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        threads = [
            threading.Thread(target=save_loop, args=(client, name))
            for client, name in ((one, "rev1"), (two, "rev2"))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert statuses == {name: [200] * SAVES for name in statuses}
    with Session(engine) as s:
        for name, evaluation_id in ids.items():
            row = s.get(Evaluation, evaluation_id)
            assert row is not None and row.version == 1 + SAVES, name
