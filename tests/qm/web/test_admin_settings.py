"""The admin hub and the settings editors: targets and weights, teams and queues, the
training catalog. Each stores through the domain (audited), shows refused input beside
the field with nothing stored, and answers 403 to other roles."""

from collections.abc import Callable

import pytest
from httpx import Response
from sqlalchemy import Engine
from sqlmodel import Session, select

from qm.db import session_scope
from qm.domain.evaluations.forms import load_form_file
from qm.domain.scripts import save_script
from qm.domain.targets import composite_weights, site_targets
from qm.domain.teams import save_team
from qm.domain.training_catalog import is_edited, site_catalog
from qm.models import (
    Agent,
    AuditEvent,
    CallStage,
    FormAssignment,
    Queue,
    Role,
    Stage,
    StageStatus,
    Team,
)
from scoring.scorecard import Weights
from scoring.script import parse_script
from tests.factories import make_agent, make_call, make_stage, make_user
from tests.qm.evaluations.conftest import FORMS
from tests.qm.web.conftest import Client, csrf_token, login, soup

SCRIPT = {
    "id": "en-bank",
    "name": "Bank",
    "language": "en",
    "key_points": [{"id": "hi", "phrases": ["hello"]}],
}
WEIGHTS = {
    "weight-fcr": "30",
    "weight-transfer_rate": "10",
    "weight-aht_seconds": "10",
    "weight-courtesy": "10",
    "weight-script_compliance": "30",
    "weight-mystery_shopper": "10",
}


def world(s: Session) -> None:
    make_user(s, "ada", Role.ADMIN)
    make_user(s, "rita", Role.REVIEWER)
    make_user(s, "mona", Role.MANAGER)
    make_user(s, "alan", Role.AGENT, agent_id="a-1")
    save_team(s, "north", name="北区一组", actor="test")
    make_agent(s, "a-1")
    make_call(s, "c-1", queue="billing")
    make_stage(s, "c-1", Stage.TRANSCRIBE, StageStatus.DONE)
    make_stage(s, "c-1", Stage.KEYPOINTS, StageStatus.DONE)
    save_script(s, parse_script(SCRIPT, source="test"), actor="test")


@pytest.fixture
def admin(client: Client, seed: Callable[..., None]) -> Client:
    seed(world)
    login(client, "ada")
    return client


def post(client: Client, path: str, data: dict[str, str], page: str) -> Response:
    token = csrf_token(client, page)
    return client.post(path, data={"_csrf_token": token, **data}, follow_redirects=False)


def test_hub_links_every_editor_in_both_languages(admin: Client) -> None:
    for lang in ("en", "zh-CN"):
        page = soup(admin.get(f"/admin?lang={lang}").text)
        links = {a["href"] for a in page.select("#admin-links a")}
        assert links == {
            "/users",
            "/admin/scripts",
            "/admin/forms",
            "/admin/training",
            "/admin/teams",
            "/admin/targets",
            "/admin/imports",
        }
        assert page.select_one('nav a[href="/admin"]') is not None


@pytest.mark.parametrize("user", ["rita", "mona", "alan"])
@pytest.mark.parametrize(
    "path", ["/admin", "/admin/targets", "/admin/teams", "/admin/training", "/admin/scripts"]
)
def test_admin_pages_refuse_other_roles(
    client: Client, seed: Callable[..., None], user: str, path: str
) -> None:
    seed(world)
    login(client, user)
    assert client.get(path).status_code == 403


def test_other_roles_cannot_write_settings(
    client: Client, seed: Callable[..., None], engine: Engine
) -> None:
    seed(world)
    login(client, "mona")
    token = csrf_token(client, "/calls")
    for path in ("/admin/targets", "/admin/targets/weights", "/admin/teams", "/admin/training"):
        response = client.post(
            path, data={"_csrf_token": token, "target-fcr": "10", "team_id": "x", "name": "x"}
        )
        assert response.status_code == 403, path
    with session_scope(engine) as s:
        assert site_targets(s)["fcr"].source == "default"
        assert s.get(Team, "x") is None


def test_targets_are_saved_for_the_site_and_a_team(admin: Client, engine: Engine) -> None:
    response = post(
        admin,
        "/admin/targets",
        {"target-fcr": "80", "target-transfer_rate": "12.5"},
        "/admin/targets",
    )
    assert response.status_code == 303
    response = post(
        admin, "/admin/targets", {"team": "north", "target-fcr": "90"}, "/admin/targets?team=north"
    )
    assert response.headers["location"] == "/admin/targets?done=targets&team=north"
    with session_scope(engine) as s:
        assert site_targets(s)["fcr"].value == pytest.approx(0.8)
        assert site_targets(s)["transfer_rate"].value == pytest.approx(0.125)
        assert site_targets(s, "north")["fcr"].value == pytest.approx(0.9)
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "targets.save")).all()
    page = soup(admin.get("/admin/targets?team=north&lang=zh-CN").text)
    assert page.select_one('input[name="target-fcr"]')["value"] == "90"  # type: ignore[index]
    assert page.select_one('input[name="target-transfer_rate"]')["placeholder"] == "12.5"  # type: ignore[index]
    assert page.select_one("#clear-form") is not None
    post(admin, "/admin/targets/clear", {"team": "north"}, "/admin/targets?team=north")
    with session_scope(engine) as s:
        assert site_targets(s, "north")["fcr"].value == pytest.approx(0.8)


def test_bad_target_is_named_and_nothing_is_saved(admin: Client, engine: Engine) -> None:
    response = post(
        admin, "/admin/targets", {"target-fcr": "80", "target-courtesy": "150"}, "/admin/targets"
    )
    assert response.status_code == 422
    page = soup(response.text)
    assert page.select_one("#targets .field-error").get("data-field") == "courtesy"  # type: ignore[union-attr]
    assert page.select_one('input[name="target-courtesy"]')["value"] == "150"  # type: ignore[index]
    response = post(admin, "/admin/targets", {"target-fcr": "lots"}, "/admin/targets")
    assert soup(response.text).select_one("#problem .field").text == "fcr"  # type: ignore[union-attr]
    with session_scope(engine) as s:
        assert site_targets(s)["fcr"].source == "default"


def test_unknown_team_is_404(admin: Client) -> None:
    assert admin.get("/admin/targets?team=nowhere").status_code == 404
    response = post(
        admin, "/admin/targets", {"team": "nowhere", "target-fcr": "5"}, "/admin/targets"
    )
    assert response.status_code == 404


def test_weights_must_add_up_to_100(admin: Client, engine: Engine) -> None:
    response = post(
        admin, "/admin/targets/weights", {**WEIGHTS, "weight-fcr": "50"}, "/admin/targets"
    )
    assert response.status_code == 422
    problem = soup(response.text).select_one("#weights #problem")
    assert problem is not None and "120" in problem.text
    response = post(admin, "/admin/targets/weights", WEIGHTS, "/admin/targets")
    assert response.status_code == 303
    with session_scope(engine) as s:
        assert composite_weights(s) == Weights(0.3, 0.1, 0.1, 0.1, 0.3, 0.1)
    page = soup(admin.get("/admin/targets").text)
    assert page.select_one('input[name="weight-fcr"]')["value"] == "30"  # type: ignore[index]


def test_teams_are_added_and_renamed(admin: Client, engine: Engine) -> None:
    response = post(admin, "/admin/teams", {"team_id": "south", "name": "南区"}, "/admin/teams")
    assert response.status_code == 303
    post(admin, "/admin/teams", {"team_id": "north", "name": "北区二组"}, "/admin/teams")
    with session_scope(engine) as s:
        assert s.get(Team, "south").name == "南区"  # type: ignore[union-attr]
        assert s.get(Team, "north").name == "北区二组"  # type: ignore[union-attr]
    page = soup(admin.get("/admin/teams?team=north").text)
    assert page.select_one('#team-form input[name="name"]')["value"] == "北区二组"  # type: ignore[index]
    response = post(admin, "/admin/teams", {"team_id": "east", "name": ""}, "/admin/teams")
    assert response.status_code == 422
    assert soup(response.text).select_one("#problem .field").text == "name"  # type: ignore[union-attr]
    assert admin.get("/admin/teams?team=nowhere").status_code == 404


def test_agents_are_put_in_teams(admin: Client, engine: Engine) -> None:
    response = post(admin, "/admin/teams/agents", {"agent_id": "a-1", "team_id": "north"},
                    "/admin/teams")  # fmt: skip
    assert response.status_code == 303
    with session_scope(engine) as s:
        assert s.get(Agent, "a-1").team_id == "north"  # type: ignore[union-attr]
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "agent.place")).all()
    page = soup(admin.get("/admin/teams").text)
    assert page.select_one('#team-list tr[data-team="north"] td.num').text == "1"  # type: ignore[union-attr]
    response = post(admin, "/admin/teams/agents", {"agent_id": "a-1", "team_id": "nowhere"},
                    "/admin/teams")  # fmt: skip
    assert response.status_code == 422
    assert soup(response.text).select_one("#problem .field").text == "team_id"  # type: ignore[union-attr]
    response = post(
        admin, "/admin/teams/agents", {"agent_id": "a-9", "team_id": ""}, "/admin/teams"
    )
    assert soup(response.text).select_one("#problem .field").text == "agent_id"  # type: ignore[union-attr]
    post(admin, "/admin/teams/agents", {"agent_id": "a-1", "team_id": ""}, "/admin/teams")
    with session_scope(engine) as s:
        assert s.get(Agent, "a-1").team_id is None  # type: ignore[union-attr]


def test_queue_settings_and_a_new_script_recheck_the_queue(admin: Client, engine: Engine) -> None:
    with session_scope(engine) as s:
        load_form_file(s, FORMS / "two-questions.json", actor="test")
    form_key = "two-questions"
    data = {
        "queue": "billing",
        "script_key": "en-bank",
        "form_key": form_key,
        "fcr_window_days": "3",
        "aht_min_seconds": "60",
        "aht_max_seconds": "600",
    }
    response = post(admin, "/admin/teams/queues", data, "/admin/teams")
    assert response.status_code == 303
    assert "rechecked=1" in response.headers["location"]
    with session_scope(engine) as s:
        queue = s.get(Queue, "billing")
        assert queue is not None and queue.script_key == "en-bank"
        assert (queue.fcr_window_days, queue.aht_min_seconds, queue.aht_max_seconds) == (3, 60, 600)
        assert (
            s.exec(select(FormAssignment.form_key).where(FormAssignment.queue == "billing")).one()
            == form_key
        )
        assert Stage.KEYPOINTS not in s.exec(select(CallStage.stage)).all()
    page = soup(admin.get("/admin/teams?queue=billing").text)
    assert page.select_one('#queue-form input[name="fcr_window_days"]')["value"] == "3"  # type: ignore[index]


def test_a_queues_handle_time_band_is_removed_and_set_again(admin: Client, engine: Engine) -> None:
    band = {"queue": "billing", "aht_min_seconds": "60", "aht_max_seconds": "600"}
    post(admin, "/admin/teams/queues", band, "/admin/teams")
    # Empty boxes leave the band; the box "no handle-time band" removes it.
    post(admin, "/admin/teams/queues", {"queue": "billing"}, "/admin/teams")
    with session_scope(engine) as s:
        queue = s.get(Queue, "billing")
        assert queue is not None and (queue.aht_min_seconds, queue.aht_max_seconds) == (60, 600)
    post(admin, "/admin/teams/queues", {"queue": "billing", "clear_band": "1"}, "/admin/teams")
    with session_scope(engine) as s:
        queue = s.get(Queue, "billing")
        assert queue is not None and (queue.aht_min_seconds, queue.aht_max_seconds) == (None, None)
    # Removed and one end given again: only that end.
    data = {"queue": "billing", "clear_band": "1", "aht_max_seconds": "900"}
    post(admin, "/admin/teams/queues", data, "/admin/teams")
    with session_scope(engine) as s:
        queue = s.get(Queue, "billing")
        assert queue is not None and (queue.aht_min_seconds, queue.aht_max_seconds) == (None, 900)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"fcr_window_days": "999"}, "fcr_window_days"),
        ({"fcr_window_days": "a week"}, "fcr_window_days"),
        ({"aht_min_seconds": "600", "aht_max_seconds": "60"}, "aht"),
        ({"script_key": "missing"}, "script_key"),
        ({"form_key": "missing"}, "form_key"),
    ],
)
def test_bad_queue_settings_are_named_and_nothing_changes(
    admin: Client, engine: Engine, change: dict[str, str], field: str
) -> None:
    response = post(
        admin,
        "/admin/teams/queues",
        {"queue": "billing", "fcr_window_days": "5", **change},
        "/admin/teams",
    )
    assert response.status_code == 422
    assert soup(response.text).select_one("#problem .field").text == field  # type: ignore[union-attr]
    with session_scope(engine) as s:
        queue = s.get(Queue, "billing")
        assert queue is not None and queue.fcr_window_days == 7 and queue.script_key is None


def test_training_catalog_is_edited_and_reset(admin: Client, engine: Engine) -> None:
    page = soup(admin.get("/admin/training").text)
    shipped = [
        str(i["value"]) for i in page.select('#modules tbody input[name$="-id"]') if i["value"]
    ]
    assert "identity-verification" in shipped
    data = {
        "m-0-id": "verify",
        "m-0-title": "身份核实",
        "m-0-minutes": "15",
        "m-0-criteria": "key_point:verify\nmystery:verify",
        "m-5-id": "rest",
        "m-5-title": "Everything else",
        "m-5-criteria": "key_point:*",
    }
    response = post(admin, "/admin/training", data, "/admin/training")
    assert response.status_code == 303
    with session_scope(engine) as s:
        assert [m.id for m in site_catalog(s).modules] == ["verify", "rest"]
    page = soup(admin.get("/admin/training?lang=zh-CN").text)
    assert page.select_one('input[name="m-0-title"]')["value"] == "身份核实"  # type: ignore[index]
    post(admin, "/admin/training/reset", {}, "/admin/training")
    with session_scope(engine) as s:
        assert not is_edited(s)


def test_bad_catalog_row_is_named(admin: Client, engine: Engine) -> None:
    data = {
        "m-0-id": "ok",
        "m-0-title": "OK",
        "m-0-criteria": "metric:fcr",
        "m-1-id": "bad",
        "m-1-title": "Bad",
        "m-1-criteria": "fcr",
    }
    response = post(admin, "/admin/training", data, "/admin/training")
    assert response.status_code == 422
    page = soup(response.text)
    error = page.select_one("#modules .field-error")
    assert error is not None and error["data-field"] == "modules[1].criteria[0]"
    assert page.select_one('textarea[name="m-1-criteria"]').text == "fcr"  # type: ignore[union-attr]
    with session_scope(engine) as s:
        assert not is_edited(s)
