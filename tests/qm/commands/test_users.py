"""`qm users`: add, list, disable and API tokens, in-process (CliRunner)."""

import json
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.cli import cli
from qm.domain.tokens import user_for_token
from qm.domain.users import authenticate
from qm.models import Agent, AuditEvent, Team, User, UserTeam
from qm.settings import Settings
from tests.conftest import TEST_SECRET
from tests.factories import make_agent

PASSWORD = "long-enough-1"


def invoke(settings: Settings, *args: str, password: str | None = PASSWORD, **kw: Any) -> Result:
    env = {"QM_DATABASE_URL": settings.database_url, "QM_SECRET_KEY": TEST_SECRET}
    env["QM_NEW_PASSWORD"] = password or ""
    return CliRunner().invoke(cli, ["users", *args], env=env, **kw)


def actions(engine: Engine) -> list[tuple[str, str, str]]:
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
        return [(e.actor, e.action, e.entity_id) for e in events]


def test_add_a_manager_of_two_teams_and_list(engine: Engine, settings: Settings) -> None:
    result = invoke(
        settings,
        "add",
        "mona",
        "--role",
        "manager",
        "--team",
        "north",
        "--team",
        "south",
        "--email",
        "mona@example.com",
        "--language",
        "zh-CN",
    )
    assert result.exit_code == 0, result.output
    assert "Added manager mona" in result.output
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == "mona")).one()
        assert (user.email, user.language, user.active) == ("mona@example.com", "zh-CN", True)
        links = session.exec(select(UserTeam).where(UserTeam.user_id == user.id)).all()
        assert sorted(link.team_id for link in links) == ["north", "south"]
        team = session.get(Team, "north")
        assert team is not None and team.name == "north"  # created, id doubling as name
        assert authenticate(session, "mona", PASSWORD) is not None
    assert actions(engine) == [("cli", "user.create", "mona")]

    table = invoke(settings, "list")
    assert table.exit_code == 0
    header, line = table.output.splitlines()
    assert header.split() == [
        "user",
        "role",
        "agent",
        "teams",
        "e-mail",
        "language",
        "state",
        "tokens",
    ]
    assert line.split() == [
        "mona",
        "manager",
        "-",
        "north,",
        "south",
        "mona@example.com",
        "zh-CN",
        "active",
        "0",
    ]
    rows = [json.loads(x) for x in invoke(settings, "list", "--json").output.splitlines()]
    assert rows == [
        {
            "username": "mona",
            "role": "manager",
            "agent_id": None,
            "teams": ["north", "south"],
            "email": "mona@example.com",
            "language": "zh-CN",
            "active": True,
            "live_tokens": 0,
        }
    ]


def test_an_agent_user_joins_its_agent_to_the_team(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        make_agent(session, "a-7")
        session.commit()
    result = invoke(settings, "add", "amy", "--role", "agent", "--agent", "a-7", "--team", "north")
    assert result.exit_code == 0, result.output
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == "amy")).one()
        agent = session.get(Agent, "a-7")
        assert user.agent_id == "a-7" and user.team_id == "north"
        assert agent is not None and agent.team_id == "north"


def test_the_password_is_asked_twice_when_not_in_the_environment(
    engine: Engine, settings: Settings
) -> None:
    typed = f"{PASSWORD}\n{PASSWORD}\n"
    result = invoke(settings, "add", "rita", "--role", "reviewer", password=None, input=typed)
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden input is not echoed
    with Session(engine) as session:
        assert authenticate(session, "rita", PASSWORD) is not None

    mismatch = invoke(
        settings,
        "add",
        "rob",
        "--role",
        "reviewer",
        password=None,
        input=f"{PASSWORD}\nother-one-2\n",
    )
    assert mismatch.exit_code != 0
    with Session(engine) as session:
        assert session.exec(select(User).where(User.username == "rob")).first() is None


@pytest.mark.parametrize(
    ("args", "password", "named", "says"),
    [
        (["--role", "agent"], PASSWORD, "--agent", "an agent user must name its agent"),
        (["--role", "agent", "--agent", "ghost"], PASSWORD, "--agent", "no agent with id 'ghost'"),
        (["--role", "reviewer", "--team", "north"], PASSWORD, "--team", "only managers and agents"),
        (["--role", "manager", "--email", "not-an-address"], PASSWORD, "--email", "not an e-mail"),
        (["--role", "reviewer"], "short", "QM_NEW_PASSWORD", "at least 8 characters"),
        (["--role", "boss"], PASSWORD, "--role", "'boss' is not one of"),
        (["--role", "admin", "--language", "fr"], PASSWORD, "--language", "'fr' is not one of"),
    ],
)
def test_bad_input_is_a_click_error_naming_the_parameter(
    engine: Engine, settings: Settings, args: list[str], password: str, named: str, says: str
) -> None:
    result = invoke(settings, "add", "newbie", *args, password=password)
    assert result.exit_code == 2, result.output
    assert named in result.output and says in result.output
    assert "Traceback" not in result.output
    with Session(engine) as session:
        assert session.exec(select(User)).all() == []
        assert session.exec(select(Team)).all() == []  # nothing half-written
    assert actions(engine) == []


def test_a_taken_name_is_refused(engine: Engine, settings: Settings) -> None:
    assert invoke(settings, "add", "rita", "--role", "reviewer").exit_code == 0
    again = invoke(settings, "add", "rita", "--role", "admin")
    assert again.exit_code == 2 and "NAME" in again.output and "already exists" in again.output


def test_tokens_are_printed_alone_and_revoked(engine: Engine, settings: Settings) -> None:
    assert invoke(settings, "add", "bot", "--role", "reviewer").exit_code == 0
    first = invoke(settings, "token", "bot")
    second = invoke(settings, "token", "bot")
    assert first.exit_code == 0 and first.output.count("\n") == 1
    token = first.stdout.strip()
    assert token.startswith("qm_") and token != second.stdout.strip()
    with Session(engine) as session:
        user = user_for_token(session, token)
        assert user is not None and user.username == "bot"
    assert invoke(settings, "list").output.splitlines()[1].split()[-1] == "2"
    assert json.loads(invoke(settings, "list", "--json").output)["live_tokens"] == 2

    revoked = invoke(settings, "token", "bot", "--revoke")
    assert revoked.exit_code == 0 and "Revoked 2 API token(s) of bot" in revoked.output
    with Session(engine) as session:
        assert user_for_token(session, token) is None
    unknown = invoke(settings, "token", "nobody")
    assert unknown.exit_code == 2 and "no user named 'nobody'" in unknown.output
    assert [a for _, a, _ in actions(engine)] == [
        "user.create",
        "token.issue",
        "token.issue",
        "token.revoke",
    ]


def test_disable_stops_sign_in_and_revokes_tokens(engine: Engine, settings: Settings) -> None:
    assert invoke(settings, "add", "rita", "--role", "reviewer").exit_code == 0
    token = invoke(settings, "token", "rita").stdout.strip()
    result = invoke(settings, "disable", "rita")
    assert result.exit_code == 0 and "revoked 1 API token(s)" in result.output
    with Session(engine) as session:
        assert authenticate(session, "rita", PASSWORD) is None
        assert user_for_token(session, token) is None
    assert "disabled" in invoke(settings, "list").output
    refused = invoke(settings, "token", "rita")
    assert refused.exit_code == 2 and "rita is disabled" in refused.output
    assert actions(engine)[-2:] == [
        ("cli", "token.revoke", "rita"),
        ("cli", "user.disable", "rita"),
    ]
    missing = invoke(settings, "disable", "nobody")
    assert missing.exit_code == 2 and "NAME" in missing.output


def test_a_token_is_printed_alone_on_stdout(engine: Engine, settings: Settings) -> None:
    assert invoke(settings, "add", "ada", "--role", "admin").exit_code == 0
    printed = invoke(settings, "token", "ada")
    assert printed.exit_code == 0
    assert printed.stdout.startswith("qm_") and printed.stdout.count("\n") == 1
    listed = invoke(settings, "list", "--json").stdout
    assert json.loads(listed)["live_tokens"] == 1


def test_disabling_ends_browser_sessions_and_bearer_access(
    engine: Engine, settings: Settings
) -> None:
    from litestar.testing import TestClient

    from qm.app import create_app
    from tests.qm.web.conftest import login

    assert invoke(settings, "add", "rita", "--role", "reviewer").exit_code == 0
    token = invoke(settings, "token", "rita").stdout.strip()
    with TestClient(create_app(settings)) as browser, TestClient(create_app(settings)) as bot:
        login(browser, "rita", PASSWORD)
        assert browser.get("/calls", follow_redirects=False).status_code == 200
        bearer = {"Authorization": f"Bearer {token}"}
        assert bot.get("/api/calls", headers=bearer).status_code == 200

        assert invoke(settings, "disable", "rita").exit_code == 0
        after = browser.get("/calls", follow_redirects=False)
        assert after.status_code in (302, 303) and "/login" in after.headers["location"]
        assert bot.get("/api/calls", headers=bearer).status_code == 401


def test_the_choices_match_the_domain() -> None:
    from qm.commands import users
    from qm.domain.users import LANGUAGES
    from qm.models import Role

    assert tuple(r.value for r in Role) == users.ROLES
    assert users.LANGUAGES == LANGUAGES
