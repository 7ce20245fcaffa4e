"""Editing users in the browser: profile, role, agent, teams, language, password, sign-in;
every change audited, refused fields named, the last admin kept."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from qm.domain import tokens, users
from qm.domain.teams import save_team
from qm.models import ApiToken, AuditEvent, Role, User, UserTeam
from tests.factories import PASSWORD, make_agent, make_user
from tests.qm.web.conftest import Client, csrf_token, login, soup


@pytest.fixture
def admin(client: Client, seed: Callable[..., None]) -> Client:
    def world(s: Session) -> None:
        make_user(s, "ada", Role.ADMIN)
        make_user(s, "rita", Role.REVIEWER)
        make_agent(s, "a-1", name="王小明")
        make_user(s, "xiaoming", Role.AGENT, agent_id="a-1")
        save_team(s, "north", name="北方组", actor="test")
        save_team(s, "south", name="South", actor="test")

    seed(world)
    login(client, "ada")
    return client


def profile(client: Client, username: str, **changes: Any) -> Any:
    """Post the profile form of `username` with its current values and `changes`."""
    page = soup(client.get(f"/users/{username}/edit").text)
    data: dict[str, Any] = {"_csrf_token": csrf_token(client, f"/users/{username}/edit")}
    form = page.select_one("#profile-form")
    assert form is not None
    for field in form.select("input[name]:not([type=checkbox]):not([type=hidden])"):
        data[str(field["name"])] = field.get("value", "")
    for select_ in form.select("select"):
        chosen = select_.select_one("option[selected]")
        data[str(select_["name"])] = chosen["value"] if chosen else ""
    data["teams"] = [str(box["value"]) for box in form.select("input[name=teams][checked]")]
    data.update(changes)
    return client.post(f"/users/{username}/edit", data=data, follow_redirects=False)


def user(engine: Engine, username: str) -> User:
    with Session(engine) as s:
        return s.exec(select(User).where(col(User.username) == username)).one()


def audit_actions(engine: Engine, username: str) -> list[str]:
    with Session(engine) as s:
        query = select(AuditEvent.action).where(col(AuditEvent.entity_id) == username)
        return list(s.exec(query.order_by(col(AuditEvent.id))).all())


def test_edit_profile_role_teams_and_language_is_saved_and_audited(
    admin: Client, engine: Engine
) -> None:
    response = profile(
        admin,
        "rita",
        display_name="李丽塔",
        email="rita@example.cn",
        role="manager",
        teams=["north", "south"],
        language="zh-CN",
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/users/rita/edit?saved=profile"
    rita = user(engine, "rita")
    assert (rita.display_name, rita.email, rita.role, rita.language) == (
        "李丽塔",
        "rita@example.cn",
        Role.MANAGER,
        "zh-CN",
    )
    with Session(engine) as s:
        managed = s.exec(select(UserTeam.team_id).where(col(UserTeam.user_id) == rita.id)).all()
    assert sorted(managed) == ["north", "south"]
    with Session(engine) as s:
        event = s.exec(select(AuditEvent).where(col(AuditEvent.action) == "user.update")).one()
    assert event.actor == "ada" and event.entity_id == "rita" and event.detail is not None
    assert event.detail["role"] == {"old": "reviewer", "new": "manager"}
    assert event.detail["teams"] == {"old": [], "new": ["north", "south"]}
    # The form shows what was saved; the saved user's own pages now come in Chinese.
    page = soup(admin.get("/users/rita/edit?saved=profile").text)
    assert page.select_one("#notice") is not None
    assert page.select_one("option[value=zh-CN][selected]") is not None
    assert page.select_one("input[name=teams][value=north][checked]") is not None
    # Back to the browser's language and one team fewer.
    assert profile(admin, "rita", language="", teams=["south"]).status_code == 303
    assert user(engine, "rita").language is None


def test_a_manager_demoted_to_reviewer_loses_their_teams(admin: Client, engine: Engine) -> None:
    profile(admin, "rita", role="manager", teams=["north"])
    assert profile(admin, "rita", role="reviewer", teams=[]).status_code == 303
    with Session(engine) as s:
        assert s.exec(select(UserTeam)).all() == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"role": "overlord"}, "role"),
        ({"role": "agent", "agent_id": ""}, "agent_id"),
        ({"agent_id": "nobody"}, "agent_id"),
        ({"language": "fr"}, "language"),
        ({"role": "reviewer", "teams": ["north"]}, "team"),
        ({"display_name": "x" * 201}, "display_name"),
        ({"display_name": "bad\x00name"}, "display_name"),
    ],
)
def test_a_refused_field_is_named_and_nothing_changes(
    admin: Client, engine: Engine, changes: dict[str, Any], field: str
) -> None:
    before = user(engine, "rita")
    response = profile(admin, "rita", **changes)
    assert response.status_code == 422
    page = soup(response.text)
    assert page.select_one(f'.field-error[data-field="{field}"]') is not None, response.text
    after = user(engine, "rita")
    assert (after.role, after.email, after.display_name) == (
        before.role,
        before.email,
        before.display_name,
    )
    assert "user.update" not in audit_actions(engine, "rita")


def test_agent_user_is_linked_to_an_agent_and_one_team(admin: Client, engine: Engine) -> None:
    response = profile(admin, "xiaoming", teams=["north"])
    assert response.status_code == 303
    assert user(engine, "xiaoming").team_id == "north"
    response = profile(admin, "xiaoming", teams=["north", "south"])
    assert response.status_code == 422
    assert "one team" in response.text


def test_reset_password(admin: Client, engine: Engine, client: Client) -> None:
    url = "/users/rita/password"
    short = admin.post(url, data={"password": "short", "_csrf_token": csrf_token(admin, "/users")})
    assert short.status_code == 422
    assert soup(short.text).select_one('.field-error[data-field="password"]') is not None
    done = admin.post(
        url,
        data={"password": "新的密码-long-enough", "_csrf_token": csrf_token(admin, "/users")},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "user.set_password" in audit_actions(engine, "rita")
    with Session(engine) as s:
        assert users.authenticate(s, "rita", "新的密码-long-enough") is not None
        assert users.authenticate(s, "rita", PASSWORD) is None


def test_disable_revokes_tokens_and_enable_lets_them_back_in(admin: Client, engine: Engine) -> None:
    with Session(engine) as s:
        tokens.issue_token(s, "rita", actor="test")
        s.commit()
    token = {"_csrf_token": csrf_token(admin, "/users")}
    response = admin.post(
        "/users/rita/active", data=token | {"active": "false"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert user(engine, "rita").active is False
    with Session(engine) as s:
        assert all(t.revoked_at is not None for t in s.exec(select(ApiToken)).all())
    page = soup(admin.get("/users/rita/edit").text)
    assert page.select_one("#active-form input[name=active]")["value"] == "true"  # type: ignore[index]
    response = admin.post(
        "/users/rita/active", data=token | {"active": "true"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert user(engine, "rita").active is True
    assert audit_actions(engine, "rita")[-2:] == ["user.disable", "user.enable"]
    bad = admin.post("/users/rita/active", data=token | {"active": "maybe"})
    assert bad.status_code == 422


def test_the_last_active_admin_can_be_neither_demoted_nor_disabled(
    admin: Client, engine: Engine, seed: Callable[..., None]
) -> None:
    response = profile(admin, "ada", role="reviewer")
    assert response.status_code == 422
    assert soup(response.text).select_one('.field-error[data-field="role"]') is not None
    token = {"_csrf_token": csrf_token(admin, "/users")}
    response = admin.post("/users/ada/active", data=token | {"active": "false"})
    assert response.status_code == 422
    assert "last active admin" in response.text
    assert user(engine, "ada").role == Role.ADMIN and user(engine, "ada").active
    # With another admin, the first may step down.
    seed(lambda s: make_user(s, "grace", Role.ADMIN))
    response = profile(admin, "ada", role="reviewer")
    assert response.status_code == 303
    assert response.headers["location"] == "/"  # no longer theirs to open
    assert user(engine, "ada").role == Role.REVIEWER


def test_unknown_user_is_404(admin: Client) -> None:
    assert admin.get("/users/nobody/edit").status_code == 404
    token = {"_csrf_token": csrf_token(admin, "/users")}
    assert (
        admin.post("/users/nobody/password", data=token | {"password": "x" * 12}).status_code == 404
    )


@pytest.mark.parametrize("role", [Role.AGENT, Role.REVIEWER, Role.MANAGER])
def test_other_roles_are_refused(
    client: Client, seed: Callable[..., None], engine: Engine, role: Role
) -> None:
    def world(s: Session) -> None:
        make_user(s, "ada", Role.ADMIN)
        make_user(s, "someone", role, agent_id="a-9" if role == Role.AGENT else None)

    seed(world)
    login(client, "someone")
    assert client.get("/users/ada/edit").status_code == 403
    token = {"_csrf_token": csrf_token(client, "/login")}
    response = client.post("/users/someone/edit", data=token | {"role": "admin"})
    assert response.status_code == 403
    assert user(engine, "someone").role == role


def test_edit_page_in_chinese(admin: Client) -> None:
    page = admin.get("/users/xiaoming/edit?lang=zh-CN")
    assert page.status_code == 200
    html = soup(page.text)
    assert html.select_one("html")["lang"].startswith("zh")  # type: ignore[index,union-attr]
    assert "北方组" in html.text and "王小明" in html.text
