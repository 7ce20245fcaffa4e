"""The role matrix: every page and API route x every role x own and other ids -> status.

DESIGN.md's rule: an agent sees only their own data; a manager the teams they manage; a
reviewer every call and evaluation but no scorecards, reports or admin pages; an admin
everything. An object outside the caller's visibility answers 404 exactly like a missing
one; a route a role may never use answers 403; signed out, pages redirect to the login
page (303) and the API answers 401.

`ROUTES` has one row per route of the app, keyed by (method, path) exactly as Litestar
spells the path; `test_every_route_has_a_row` reads the routes from the app itself, so a
route added later without a row fails. Each path parameter names the kind of object it
takes (`PARAM_KIND`); the first one is the subject whose `own`, `team`, `other` and
`missing` ids the cases try (see `role_matrix_world`). Unsafe methods are tried only
where they must be refused; no case may commit a write to the database.
"""

import json
import re
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session, SQLModel, select

import qm.models  # noqa: F401  (registers every table)
from qm import migrate
from qm.app import create_app
from qm.db import make_engine
from qm.domain.evaluations.queries import may_open_calibration
from qm.domain.tokens import issue_token
from qm.domain.users import get_user
from qm.models import CalibrationSession, Evaluation
from qm.settings import Settings
from tests.conftest import TEST_SECRET
from tests.qm.web.conftest import login
from tests.qm.web.role_matrix_world import PEOPLE, PERIOD, SIGNED_IN, World, build_world

Client = TestClient[Litestar]
ROLES = ("agent", "manager", "reviewer", "admin")
ANON = "signed-out"
EVERYONE = frozenset(ROLES)
REVIEWERS = frozenset({"reviewer", "manager", "admin"})
LEADS = frozenset({"manager", "admin"})
ADMIN = frozenset({"admin"})
AGENT = frozenset({"agent"})
AGENT_DATA = frozenset({"agent", "manager", "admin"})  # scorecards, training: no reviewers
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ALL: Set[str] = frozenset({"own", "team", "other"})

# Which objects of each kind a role may see (missing ones nobody sees).
BY_TEAM: dict[str, Set[str]] = {
    "agent": {"own"},
    "manager": {"own", "team"},
    "reviewer": ALL,
    "admin": ALL,
}
VISIBLE: dict[str, Mapping[str, Set[str]]] = {
    "call": BY_TEAM,
    "evaluation": BY_TEAM,
    "dispute": BY_TEAM,
    "agent": BY_TEAM,
    "training": BY_TEAM,
    "pick": {"agent": set(), "manager": {"own", "team"}, "reviewer": ALL, "admin": ALL},
    # A session is for its organiser, its participants, admins and the managers of all its
    # calls (`own`: organised by mgr-north, scored by rev1; `other`: the admin's session of
    # team south's calls).
    "calibration": {"agent": set(), "manager": {"own"}, "reviewer": {"own"}, "admin": ALL},
    "team": {"agent": set(), "manager": {"own"}, "reviewer": set(), "admin": ALL},
    "user": {"agent": set(), "manager": set(), "reviewer": set(), "admin": ALL},
    "script": {role: {"own"} for role in ROLES},
    "form": {role: {"own"} for role in ROLES},
    "item": {role: {"own"} for role in ROLES},
    "job": {"agent": set(), "manager": set(), "reviewer": set(), "admin": ALL},
    "report": BY_TEAM,
}
# The kind of object each path parameter takes ({key} depends on the route: see Row.key).
PARAM_KIND = {
    "call_id": "call",
    "evaluation_id": "evaluation",
    "dispute_id": "dispute",
    "agent_id": "agent",
    "pick_id": "pick",
    "calibration_id": "calibration",
    "team_id": "team",
    "username": "user",
    "item_id": "item",
    "job_id": "job",
    "assignment_id": "training",
    "report_id": "report",
}
# Never part of the matrix: files, the API docs, the probe, signing in and out, language.
EXEMPT_PREFIXES = ("/static/", "/schema")
EXEMPT_PATHS = frozenset({"/health", "/login", "/logout", "/language"})
AUTOMATIC_METHODS = frozenset({"OPTIONS", "HEAD"})

Key = tuple[str, str]  # (role, target)


@dataclass(frozen=True)
class Row:
    """What one route answers.

    roles: who may use the route at all; anyone else gets 403.
    ok: the status of an allowed role on an object it may see (safe methods only: the
        success of a write is the feature tests' business).
    guarded: True when the role check comes before the object is looked up (a route
        guard: 403 even for hidden objects); False when the object is looked up first
        (a hidden object answers 404 to every role, a visible one 403 to a wrong role).
    key: the kind of object a `{key}` parameter takes.
    query: appended to the path.
    body: sent with an unsafe method: JSON on the API, a form on pages.
    special: statuses that differ from the rule, by (role, target), with why in a comment.
    xfail: (role, target) cases where the app is wrong today, in a file another engineer
        owns this session: the row keeps the right expectation, marked with the leak
        ((role, "leak") marks the page's case in the leak test).
    """

    roles: frozenset[str]
    ok: int = 200
    guarded: bool = True
    key: str = ""
    query: str = ""
    body: Any = None
    special: Mapping[Key, int] = field(default_factory=dict)
    xfail: Mapping[Key, str] = field(default_factory=dict)


DISPUTE = {"items": ["accuracy"], "comment": "the fee I gave was right"}
RESOLVE = {"outcome": "upheld", "comment": "the recording confirms the score"}
OVERRIDE = {"hit": False, "comment": "not said"}
PATCH = {"version": 1, "answers": {"tone": {"answer": 4}}}
FORM_OVERRIDE = {"hit": "false", "comment": "not said"}
TRANSCRIPT = {
    "call_id": "c-n1",
    "language": "en",
    "segments": [{"speaker": "agent", "start": 0.0, "end": 1.0, "text": "hello"}],
}


ROUTES: dict[tuple[str, str], Row] = {
    ("GET", "/"): Row(EVERYONE, ok=302),
    # Calls: pages and API.
    ("GET", "/calls"): Row(EVERYONE),
    ("GET", "/calls/{call_id:str}"): Row(EVERYONE),
    ("GET", "/calls/{call_id:str}/audio"): Row(EVERYONE),
    ("POST", "/calls/{call_id:str}/keypoints/{item_id:str}/override"): Row(
        REVIEWERS, guarded=False, body=FORM_OVERRIDE
    ),
    ("GET", "/calls/{call_id:str}/transcript/edit"): Row(REVIEWERS),
    ("POST", "/calls/{call_id:str}/transcript/edit"): Row(REVIEWERS, body={"segments": "[]"}),
    ("GET", "/api/calls"): Row(EVERYONE),
    ("GET", "/api/calls/{call_id:str}"): Row(EVERYONE),
    ("GET", "/api/calls/{call_id:str}/transcript"): Row(EVERYONE),
    ("PUT", "/api/calls/{call_id:str}/transcript"): Row(REVIEWERS, body=TRANSCRIPT),
    ("POST", "/api/calls/{call_id:str}/keypoints/{item_id:str}/override"): Row(
        REVIEWERS, guarded=False, body=OVERRIDE
    ),
    # Evaluations.
    ("GET", "/api/calls/{call_id:str}/evaluations"): Row(EVERYONE),
    ("POST", "/api/calls/{call_id:str}/evaluations"):
    # Starting an evaluation is for reviewers: an agent is refused whatever the call.
    Row(REVIEWERS, body={"form_id": "bank-standard"}),
    ("POST", "/calls/{call_id:str}/evaluations"): Row(REVIEWERS, guarded=False, body={}),
    ("GET", "/evaluations/{evaluation_id:int}"): Row(EVERYONE, ok=303),
    ("GET", "/evaluations/{evaluation_id:int}/total"): Row(EVERYONE),
    ("POST", "/evaluations/{evaluation_id:int}"): Row(
        REVIEWERS, guarded=False, body={"version": "1", "answer.tone": "4"}
    ),
    ("POST", "/evaluations/{evaluation_id:int}/submit"): Row(REVIEWERS, guarded=False, body={}),
    ("POST", "/evaluations/{evaluation_id:int}/release"): Row(REVIEWERS, guarded=False),
    ("GET", "/api/evaluations/{evaluation_id:int}"): Row(EVERYONE),
    ("PATCH", "/api/evaluations/{evaluation_id:int}"): Row(REVIEWERS, guarded=False, body=PATCH),
    ("GET", "/api/evaluations/{evaluation_id:int}/history"): Row(EVERYONE),
    ("POST", "/api/evaluations/{evaluation_id:int}/submit"): Row(REVIEWERS, guarded=False),
    ("POST", "/api/evaluations/{evaluation_id:int}/release"): Row(REVIEWERS, guarded=False),
    # Only the evaluated agent acknowledges or disputes.
    ("POST", "/api/evaluations/{evaluation_id:int}/acknowledge"): Row(
        frozenset({"agent"}), guarded=False
    ),
    ("POST", "/api/evaluations/{evaluation_id:int}/disputes"): Row(
        frozenset({"agent"}), guarded=False, body=DISPUTE
    ),
    ("GET", "/api/disputes"): Row(EVERYONE),
    ("POST", "/api/disputes/{dispute_id:int}/resolve"): Row(REVIEWERS, guarded=False, body=RESOLVE),
    # The review queue.
    ("GET", "/review"): Row(REVIEWERS),
    ("GET", "/api/review-queue"): Row(REVIEWERS),
    ("POST", "/review/{pick_id:int}/start"): Row(
        REVIEWERS,
        # rev2's picks: a reviewer sees them but works only their own.
        special={("reviewer", "team"): 403, ("reviewer", "other"): 403},
    ),
    ("POST", "/review/{pick_id:int}/skip"): Row(
        REVIEWERS,
        body={"why": "duplicate"},
        special={("reviewer", "team"): 403, ("reviewer", "other"): 403},
    ),
    ("POST", "/review/sample"): Row(LEADS, body={"period": PERIOD}),
    ("GET", "/review/rules"): Row(LEADS),
    ("POST", "/review/rules"): Row(LEADS, body={"random_per_agent": "2"}),
    # Definitions.
    ("GET", "/api/scripts"): Row(REVIEWERS),
    ("GET", "/api/scripts/{key:str}"): Row(REVIEWERS, key="script"),
    ("POST", "/api/scripts"): Row(ADMIN, body={"id": "x"}),
    ("GET", "/api/forms"): Row(REVIEWERS),
    ("GET", "/api/forms/{key:str}"): Row(REVIEWERS, key="form"),
    ("POST", "/api/forms"): Row(ADMIN, body={"id": "x"}),
    # Me, agents' scorecards and training.
    ("GET", "/api/me"): Row(EVERYONE),
    ("GET", "/api/agents/{agent_id:str}/scorecard"): Row(AGENT_DATA, query=f"?period={PERIOD}"),
    ("GET", "/api/agents/{agent_id:str}/training"): Row(AGENT_DATA),
    # Administration.
    ("GET", "/users"): Row(ADMIN),
    ("POST", "/users"): Row(ADMIN, body={"username": "mallory", "password": "x" * 12}),
    ("GET", "/admin/forms"): Row(ADMIN),
    ("POST", "/admin/forms"): Row(ADMIN, body={}),
    ("POST", "/admin/forms/assign"): Row(ADMIN, body={"form_key": "bank-standard"}),
    ("GET", "/admin/forms/{key:str}"): Row(ADMIN, key="form"),
    ("GET", "/admin/forms/new"): Row(ADMIN),
    ("GET", "/admin/forms/{key:str}/edit"): Row(ADMIN, key="form"),
    ("POST", "/admin/forms/edit"): Row(ADMIN, body={}),
    # Uploads (admins).
    ("GET", "/admin/imports"): Row(ADMIN),
    ("POST", "/admin/imports"): Row(ADMIN, body={}),
    ("GET", "/admin/imports/{job_id:int}"): Row(ADMIN),
    ("POST", "/api/imports"): Row(ADMIN, body={}),
    ("GET", "/api/imports/{job_id:int}"): Row(ADMIN),
    # Calibration.
    ("GET", "/calibrations"): Row(REVIEWERS),
    ("GET", "/calibrations/new"): Row(LEADS),
    ("POST", "/calibrations"): Row(LEADS, body={"name": "x"}),
    ("GET", "/calibrations/{calibration_id:int}"): Row(EVERYONE),
    ("POST", "/calibrations/{calibration_id:int}/close"): Row(LEADS),
    ("POST", "/api/calibrations"): Row(LEADS, body={"name": "x"}),
    ("GET", "/api/calibrations/{calibration_id:int}"): Row(EVERYONE),
    # The agent's own pages.
    ("GET", "/me/scorecard"): Row(AGENT, query=f"?period={PERIOD}"),
    ("GET", "/me/evaluations"): Row(AGENT),
    ("GET", "/me/evaluations/{evaluation_id:int}"): Row(AGENT),
    ("POST", "/me/evaluations/{evaluation_id:int}/acknowledge"): Row(AGENT),
    ("POST", "/me/evaluations/{evaluation_id:int}/dispute"): Row(
        AGENT, body={"items": "accuracy", "comment": "the fee I gave was right"}
    ),
    ("GET", "/me/training"): Row(AGENT),
    ("POST", "/me/training/{assignment_id:int}/acknowledge"): Row(AGENT),
    ("POST", "/me/training/{assignment_id:int}/complete"): Row(AGENT),
    # Deciding disputes.
    ("GET", "/disputes"): Row(REVIEWERS),
    ("GET", "/disputes/{dispute_id:int}"): Row(REVIEWERS),
    ("POST", "/disputes/{dispute_id:int}/resolve"): Row(
        REVIEWERS, body={"outcome": "upheld", "comment": "the recording confirms it"}
    ),
    # The admin pages.
    ("GET", "/admin"): Row(ADMIN),
    ("GET", "/admin/scripts"): Row(ADMIN),
    ("GET", "/admin/scripts/new"): Row(ADMIN),
    ("GET", "/admin/scripts/{key:str}/edit"): Row(ADMIN, key="script"),
    ("POST", "/admin/scripts/edit"): Row(ADMIN, body={}),
    ("POST", "/admin/scripts/{key:str}/assign"): Row(ADMIN, key="script", body={}),
    ("GET", "/admin/scripts/{key:str}/suggestions"): Row(ADMIN, key="script"),
    ("POST", "/admin/scripts/{key:str}/suggestions"): Row(ADMIN, key="script", body={}),
    ("GET", "/admin/targets"): Row(ADMIN),
    ("POST", "/admin/targets"): Row(ADMIN, body={}),
    ("POST", "/admin/targets/clear"): Row(ADMIN, body={}),
    ("POST", "/admin/targets/weights"): Row(ADMIN, body={}),
    ("GET", "/admin/teams"): Row(ADMIN),
    ("POST", "/admin/teams"): Row(ADMIN, body={}),
    ("POST", "/admin/teams/queues"): Row(ADMIN, body={}),
    ("POST", "/admin/teams/agents"): Row(ADMIN, body={}),
    ("GET", "/admin/training"): Row(ADMIN),
    ("POST", "/admin/training"): Row(ADMIN, body={}),
    ("POST", "/admin/training/reset"): Row(ADMIN, body={}),
    ("GET", "/users/{username:str}/edit"): Row(ADMIN),
    ("POST", "/users/{username:str}/edit"): Row(ADMIN, body={}),
    ("POST", "/users/{username:str}/password"): Row(ADMIN, body={}),
    ("POST", "/users/{username:str}/active"): Row(ADMIN, body={}),
    # Team dashboards: a team's manager and admins.
    ("GET", "/dashboard"): Row(
        LEADS,
        # A manager of one team goes straight to that team's dashboard.
        special={("manager", "-"): 302},
    ),
    ("GET", "/teams/{team_id:str}/dashboard"): Row(LEADS, query=f"?period={PERIOD}"),
    ("GET", "/api/teams/{team_id:str}/dashboard"): Row(LEADS, query=f"?period={PERIOD}"),
    # Reports: agents their own, managers their teams', admins all; never reviewers.
    ("GET", "/reports"): Row(AGENT_DATA),
    ("GET", "/api/reports"): Row(AGENT_DATA),
    ("GET", "/api/reports/{report_id:int}/pdf"): Row(AGENT_DATA),
    # Agreement.
    ("GET", "/agreement"): Row(REVIEWERS),
    ("GET", "/api/agreement"): Row(REVIEWERS),
}


def is_api(path: str) -> bool:
    """The JSON API answers problems; pages answer HTML and redirects."""
    return path == "/api" or path.startswith("/api/")


PARAMETER = re.compile(r"\{(\w+):\w+\}")  # a path parameter as Litestar spells it: {name:type}


def params(path: str) -> list[str]:
    """The names of the path's parameters, in order."""
    return PARAMETER.findall(path)


def kind_of(row: Row, name: str) -> str:
    """The kind of object the parameter `name` of a route takes."""
    return row.key if name == "key" else PARAM_KIND[name]


def subject(row: Row, path: str) -> str | None:
    """The kind of object the route is about (its first path parameter), if any."""
    names = params(path)
    return kind_of(row, names[0]) if names else None


def targets(row: Row, path: str) -> list[str]:
    """The targets to try: each id of the subject that the world has, or none."""
    kind = subject(row, path)
    if kind is None:
        return ["-"]
    return [t for t in ("own", "team", "other", "missing") if t in WORLD_KINDS[kind]]


# The targets the world has for each kind (fixed by role_matrix_world).
WORLD_KINDS: dict[str, Set[str]] = {
    "call": ALL | {"missing"},
    "evaluation": ALL | {"missing"},
    "agent": ALL | {"missing"},
    "dispute": frozenset({"own", "other", "missing"}),
    "pick": ALL | {"missing"},
    "calibration": frozenset({"own", "other", "missing"}),
    "team": frozenset({"own", "other", "missing"}),
    "user": ALL | {"missing"},
    "script": frozenset({"own", "missing"}),
    "form": frozenset({"own", "missing"}),
    "item": frozenset({"own", "missing"}),
    "job": frozenset({"own", "missing"}),
    "training": ALL | {"missing"},
    "report": ALL | {"missing"},
    "draft": frozenset({"team", "missing"}),
}


def expected(method: str, path: str, row: Row, role: str, target: str) -> int | None:
    """The status the rule gives, or None for a write that would succeed (not tried)."""
    if role == ANON:
        return 401 if is_api(path) else 303
    if (role, target) in row.special:
        return row.special[(role, target)]
    kind = subject(row, path)
    visible = kind is None or target in VISIBLE[kind][role]
    if role not in row.roles:
        return 403 if row.guarded or visible else 404
    if not visible:
        return 404
    return None if method in UNSAFE else row.ok


def cases() -> Iterator[Any]:
    """One pytest case per route, role and target."""
    for (method, path), row in ROUTES.items():
        for role in (*ROLES, ANON):
            for target in targets(row, path) if role != ANON else targets(row, path)[:1]:
                status = expected(method, path, row, role, target)
                if status is None:
                    continue
                marks = []
                if (role, target) in row.xfail:
                    marks.append(pytest.mark.xfail(strict=True, reason=row.xfail[(role, target)]))
                yield pytest.param(
                    method,
                    path,
                    role,
                    target,
                    status,
                    marks=marks,
                    id=f"{method} {path} {role} {target}",
                )


# The tables that change on every request whatever it does (sessions renew, sign-in
# throttles count, tokens note their last use); a refused write must write nothing else.
VOLATILE_TABLES = frozenset({"web_session", "login_throttle", "api_token"})
WRITE = re.compile(r'^\s*(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.I)


class CommittedWrites:
    """The tables that committed transactions on an engine wrote to (a rolled-back
    transaction writes nothing), seen from SQLAlchemy's events: cheaper than comparing
    the whole database before and after each of some hundred requests."""

    def __init__(self, engine: Engine) -> None:
        self.pending: dict[int, set[str]] = {}
        self.tables: set[str] = set()
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self._rollback)

    def _statement(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        found = WRITE.match(statement)
        if found and found.group(1).lower() not in VOLATILE_TABLES:
            self.pending.setdefault(id(conn), set()).add(found.group(1).lower())

    def _commit(self, conn: Any) -> None:
        self.tables |= self.pending.pop(id(conn), set())

    def _rollback(self, conn: Any) -> None:
        self.pending.pop(id(conn), None)

    def take(self) -> set[str]:
        """The tables written since the last call."""
        tables, self.tables = self.tables, set()
        return tables


@dataclass
class Matrix:
    """The world, its engine and one signed-in browser per role."""

    world: World
    engine: Engine
    writes: CommittedWrites
    clients: dict[str, Client]

    def url(self, path: str, row: Row, target: str) -> str:
        """`path` with the target's ids filled in (further parameters: their own ids)."""
        names = params(path)

        def fill(found: re.Match[str]) -> str:
            name = found.group(1)
            return self.world.id_of(kind_of(row, name), target if name == names[0] else "own")

        return PARAMETER.sub(fill, path) + row.query

    def send(self, role: str, method: str, url: str, row: Row) -> Any:
        """The request as that role's browser makes it (with the CSRF token on writes)."""
        client = self.clients[role]
        headers = {}
        token = client.cookies.get("csrftoken")
        if method in UNSAFE and token:
            headers["x-csrftoken"] = token
        body: dict[str, Any] = {}
        if method in UNSAFE and row.body is not None:
            body = {"json": row.body} if is_api(url) else {"data": row.body}
        return client.request(method, url, headers=headers, follow_redirects=False, **body)


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """The world on a SQLite file, built once, and a signed-in client per role."""
    directory = tmp_path_factory.mktemp("role-matrix")
    url = f"sqlite:///{directory / 'qm.db'}"
    engine = make_engine(url)
    SQLModel.metadata.create_all(engine)
    migrate.stamp_head(engine)
    world = build_world(engine, directory, directory / "reports")
    # The cases were drawn from WORLD_KINDS when the tests were collected.
    assert {kind: set(ids) for kind, ids in world.ids.items()} == WORLD_KINDS
    settings = Settings(
        database_url=url,
        secret_key=TEST_SECRET,
        scheduler_enabled=False,
        demo_dir=directory / "demo",
        report_dir=directory / "reports",
        _env_file=None,  # type: ignore[call-arg]
    )
    app = create_app(settings)
    # One app (its lifespan run by the first client); a browser, with its own cookies, per role.
    with TestClient(app) as first:
        clients = {role: first if role == ROLES[0] else TestClient(app) for role in (*ROLES, ANON)}
        for role, client in clients.items():
            if role == ANON:
                client.get("/login")
            else:
                login(client, SIGNED_IN[role])
                client.get("/api/me")  # sets the CSRF cookie
        yield Matrix(world, engine, CommittedWrites(app.state.engine), clients)
    engine.dispose()


def app_routes(app: Litestar) -> set[tuple[str, str]]:
    """(method, path) of every handler of the app but the exempt ones."""
    found = set()
    for route in app.routes:
        if (
            not isinstance(route, HTTPRoute)
            or route.path.startswith(EXEMPT_PREFIXES)
            or route.path in EXEMPT_PATHS
        ):
            continue
        for handler in route.route_handlers:
            for method in getattr(handler, "http_methods", ()):
                if method not in AUTOMATIC_METHODS:
                    found.add((method, route.path))
    return found


def test_every_route_has_a_row(matrix: Matrix) -> None:
    app = matrix.clients["admin"].app
    routes = app_routes(app)
    assert sorted(routes - set(ROUTES)) == [], "routes without a row in the role matrix"
    assert sorted(set(ROUTES) - routes) == [], "rows for routes the app no longer has"


@pytest.mark.parametrize(("method", "path", "role", "target", "status"), list(cases()))
def test_status(
    matrix: Matrix, method: str, path: str, role: str, target: str, status: int
) -> None:
    row = ROUTES[(method, path)]
    url = matrix.url(path, row, target)
    matrix.writes.take()
    response = matrix.send(role, method, url, row)
    assert response.status_code == status, response.text[:300]
    if status == 303 and role == ANON:
        assert response.headers["location"].startswith("/login?next=")
    assert matrix.writes.take() == set(), "a refused request changed the database"


# What an agent must never read: the other agents' names, ids and calls.
def others_of(targets: tuple[str, ...]) -> list[str]:
    """The names, agent ids and call ids of the people at `targets` in the world."""
    people = [PEOPLE[t] for t in targets]
    texts = [text for p in people for text in (p.name, p.agent_id, p.call_id)]
    # Chinese names also as JSON writes them when it escapes non-ASCII characters.
    return texts + [json.dumps(text)[1:-1] for text in texts if not text.isascii()]


NOT_FOR = {
    "agent": others_of(("team", "other", "other2")),
    "manager": others_of(("other", "other2")),
}


def leak_cases() -> Iterator[Any]:
    """Every safe route an agent or a manager opens successfully, on their own ids."""
    for (method, path), row in ROUTES.items():
        if method in UNSAFE:
            continue
        for role in NOT_FOR:
            for target in targets(row, path):
                if target in ("own", "-") and expected(method, path, row, role, target) == 200:
                    marks = []
                    if (role, "leak") in row.xfail:
                        reason = row.xfail[(role, "leak")]
                        marks.append(pytest.mark.xfail(strict=True, reason=reason))
                    yield pytest.param(path, role, target, marks=marks, id=f"{path} {role}")


@pytest.mark.parametrize(("path", "role", "target"), list(leak_cases()))
@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_no_page_shows_another_agents_data(
    matrix: Matrix, path: str, role: str, target: str, lang: str
) -> None:
    row = ROUTES[("GET", path)]
    url = matrix.url(path, row, target)
    url += ("&" if "?" in url else "?") + f"lang={lang}"
    response = matrix.send(role, "GET", url, row)
    assert response.status_code == 200, response.text[:300]
    shown = [text for text in NOT_FOR[role] if text in response.text]
    assert shown == [], f"{role} sees {shown} on {url}"


def test_the_write_check_sees_a_write(matrix: Matrix) -> None:
    """The control for "a refused request changed nothing": an allowed write is seen."""
    client = matrix.clients["admin"]
    matrix.writes.take()
    response = client.post(
        "/users",
        data={"username": "张伟", "password": "x" * 12, "role": "reviewer"},
        headers={"x-csrftoken": client.cookies["csrftoken"]},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:300]
    assert "user" in matrix.writes.take()


def hidden_cases() -> Iterator[Any]:
    """Every safe route whose object an agent or a manager may not see (`other`)."""
    for (method, path), row in ROUTES.items():
        if method in UNSAFE or "other" not in targets(row, path):
            continue
        for role in ("agent", "manager"):
            hidden = expected(method, path, row, role, "other")
            if hidden == 404 and (role, "other") not in row.xfail:
                yield pytest.param(path, role, id=f"{path} {role}")


@pytest.mark.parametrize(("path", "role"), list(hidden_cases()))
def test_a_hidden_object_answers_exactly_like_a_missing_one(
    matrix: Matrix, path: str, role: str
) -> None:
    row = ROUTES[("GET", path)]
    kind = subject(row, path)
    assert kind is not None
    answers = []
    for target in ("other", "missing"):
        response = matrix.send(role, "GET", matrix.url(path, row, target), row)
        some_id = re.escape(matrix.world.id_of(kind, target))
        text = re.sub(rf"(?<![\w.-]){some_id}(?![\w.-])", "<id>", response.text)
        answers.append((response.status_code, response.headers.get("content-type"), text))
    assert answers[0][:2] == answers[1][:2]
    assert answers[0][2].splitlines() == answers[1][2].splitlines()


@pytest.mark.parametrize("path", ["/calls", "/api/calls"])
def test_the_leak_check_looks_for_what_a_reviewer_sees(matrix: Matrix, path: str) -> None:
    """The control for the leak check: a reviewer's call list names every agent and call
    it looks for (plain text), so its strings are what the pages really show."""
    response = matrix.send("reviewer", "GET", path, ROUTES[("GET", path)])
    assert response.status_code == 200
    plain = [text for text in NOT_FOR["agent"] if "\\u" not in text]
    assert [text for text in plain if text not in response.text] == []


def test_a_manager_opens_the_sessions_of_their_teams_calls(matrix: Matrix) -> None:
    """Not only the sessions they run: the admin's session of team south's calls is open
    to south's manager (and to no one else's)."""
    with Session(matrix.engine) as s:
        session = s.get(CalibrationSession, int(matrix.world.id_of("calibration", "other")))
        assert session is not None
        managers = {name: get_user(s, name) for name in ("mgr-south", "mgr-north")}
        opens = {name: may_open_calibration(s, m, session) for name, m in managers.items()}
    assert opens == {"mgr-south": True, "mgr-north": False}


def test_an_agent_sees_only_their_released_evaluation_of_a_scored_call(matrix: Matrix) -> None:
    """Their call is also in a running calibration session: its blind drafts (never the
    agent's business) are not listed, to them; a reviewer sees the session's own draft."""
    own = matrix.world.id_of("evaluation", "own")
    listed = {}
    for role in ("agent", "reviewer"):
        response = matrix.send(role, "GET", "/api/calls/c-n1/evaluations", Row(EVERYONE))
        assert response.status_code == 200
        listed[role] = [(e["id"], e["kind"]) for e in response.json()]
    assert listed["agent"] == [(int(own), "standard")]
    assert sorted(kind for _, kind in listed["reviewer"]) == ["calibration", "standard"]


def token_cases() -> Iterator[Any]:
    """Every API route an agent reads, on another agent's id (or on none)."""
    for (method, path), row in ROUTES.items():
        if method in UNSAFE or not is_api(path):
            continue
        target = "other" if "other" in targets(row, path) else targets(row, path)[0]
        status = expected(method, path, row, "agent", target)
        yield pytest.param(path, target, status, id=f"{path} {target}")


@pytest.mark.parametrize(("path", "target", "status"), list(token_cases()))
def test_an_api_token_sees_what_its_user_sees(
    matrix: Matrix, path: str, target: str, status: int
) -> None:
    """An integration's `Authorization: Bearer` acts as its user: the agent's token gets
    the agent's answers, and their lists name no one else."""
    with Session(matrix.engine) as s:
        token = issue_token(s, SIGNED_IN["agent"], actor="test")
        s.commit()
    row = ROUTES[("GET", path)]
    url = matrix.url(path, row, target)
    anonymous = matrix.clients[ANON]
    response = anonymous.get(url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status, response.text[:300]
    if status == 200:  # a refusal repeats the id asked for, and nothing else
        assert [text for text in NOT_FOR["agent"] if text in response.text] == []


def test_the_call_page_opens_no_evaluation_an_agent_may_not_see(matrix: Matrix) -> None:
    """`/calls/{own call}?evaluation=N` for every evaluation in the world: the agent's
    released one opens; another agent's, and the blind calibration drafts of their own
    call, answer 404 like a missing one."""
    with Session(matrix.engine) as s:
        kinds = {e.id or 0: e.kind for e in s.exec(select(Evaluation)).all()}
    own = int(matrix.world.id_of("evaluation", "own"))
    missing = max(kinds) + 1
    answers = {
        eid: matrix.clients["agent"].get(f"/calls/c-n1?evaluation={eid}").status_code
        for eid in [*kinds, missing]
    }
    assert answers == {eid: 200 if eid == own else 404 for eid in [*kinds, missing]}
    assert {kinds[e] for e, status in answers.items() if status == 404 and e in kinds} == {
        "standard",
        "calibration",
    }


DRAFT_WRITES = [
    ("PATCH", "/api/evaluations/{draft}", PATCH),
    ("POST", "/api/evaluations/{draft}/submit", None),
    ("POST", "/evaluations/{draft}", {"version": "1", "answer.tone": "4"}),
    ("POST", "/evaluations/{draft}/submit", {}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body"), DRAFT_WRITES)
def test_only_its_reviewer_changes_or_submits_a_draft(
    matrix: Matrix, role: str, method: str, path: str, body: Any
) -> None:
    """rev2's draft: the agent does not see it (404); the other reviewer, the team's
    manager and the admin see it but may not change or submit it (403); nothing is written."""
    url = path.format(draft=matrix.world.id_of("draft", "team"))
    matrix.writes.take()
    response = matrix.send(role, method, url, Row(REVIEWERS, body=body))
    assert response.status_code == (404 if role == "agent" else 403), response.text[:300]
    assert matrix.writes.take() == set()
