"""`GET /api/agents/{id}/scorecard` and `/training`: the agent's own figures, their managers',
admins'; reviewers are refused and anyone else's agent is not found."""

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from qm.db import session_scope
from qm.domain import tokens
from qm.domain.users import create_user
from qm.models import Role, TrainingAssignment
from tests.factories import PASSWORD, T0, make_call, make_metrics


def build_world(s: Session) -> None:
    # Agent a-1 (team north, user 张伟) took three calls in March 2024, one transferred;
    # a-2 (team south) one.
    for n, transfers in enumerate((0, 1, 0)):
        make_call(
            s,
            f"c-{n}",
            agent_id="a-1",
            customer_id=f"k-{n}",
            started_at=T0 + timedelta(days=n),
            transfers=transfers,
        )
        make_metrics(s, f"c-{n}", compliance=1.0 if n else 0.5)
    make_call(s, "c-south", agent_id="a-2", customer_id="k-9")
    for name, role, agent, teams in (
        ("张伟", Role.AGENT, "a-1", ("north",)),
        ("other", Role.AGENT, "a-2", ("south",)),
        ("mgr", Role.MANAGER, None, ("north",)),
        ("mgr_south", Role.MANAGER, None, ("south",)),
        ("rita", Role.REVIEWER, None, ()),
        ("ada", Role.ADMIN, None, ()),
    ):
        create_user(s, username=name, password=PASSWORD, role=role, agent_id=agent, team_ids=teams)
    s.add(
        TrainingAssignment(
            agent_id="a-1",
            module_id="verify-caller",
            module_title="核实客户身份",
            period="2024-03",
            criteria=[{"criterion": "key_point:verify", "rate": 0.4, "n": 5}],
            priority=2.5,
            due_date=date(2024, 4, 30),
        )
    )


@pytest.fixture
def get_as(client: Any, engine: Engine, seed: Callable[..., None]) -> Callable[[str, str], Any]:
    seed(build_world)

    def get(username: str, url: str) -> Any:
        with session_scope(engine) as s:
            token = tokens.issue_token(s, username, actor="test")
        return client.get(url, headers={"Authorization": f"Bearer {token}"})

    return get


def test_the_agent_reads_their_scorecard_and_training(get_as: Callable[[str, str], Any]) -> None:
    response = get_as("张伟", "/api/agents/a-1/scorecard?period=2024-03")
    assert response.status_code == 200, response.text
    card = response.json()
    assert card["agent_id"] == "a-1" and card["period"] == "2024-03" and card["contacts"] == 3
    transfer = card["metrics"]["transfer_rate"]
    assert transfer["value"] == pytest.approx(1 / 3) and transfer["n"] == 3
    assert card["status"] == "not enough data"  # fewer than QM_MIN_CONTACTS calls
    training = get_as("张伟", "/api/agents/a-1/training")
    assert training.status_code == 200
    [assignment] = training.json()
    assert assignment["module_title"] == "核实客户身份" and assignment["status"] == "assigned"
    assert assignment["due_date"] == "2024-04-30"
    assert assignment["criteria"][0]["criterion"] == "key_point:verify"


@pytest.mark.parametrize(
    ("username", "agent", "status"),
    [
        ("张伟", "a-2", 404),  # another agent's
        ("other", "a-1", 404),
        ("mgr", "a-1", 200),  # the team they manage
        ("mgr", "a-2", 404),
        ("mgr_south", "a-1", 404),
        ("ada", "a-2", 200),
        ("ada", "nobody", 404),
        ("rita", "a-1", 403),  # reviewers see calls and evaluations, not scorecards
    ],
)
def test_who_sees_whose_figures(
    get_as: Callable[[str, str], Any], username: str, agent: str, status: int
) -> None:
    for url in (f"/api/agents/{agent}/scorecard?period=2024-03", f"/api/agents/{agent}/training"):
        response = get_as(username, url)
        assert response.status_code == status, (url, response.text)
        if status != 200:
            assert response.headers["content-type"].startswith("application/problem+json")


def test_a_bad_or_empty_period(get_as: Callable[[str, str], Any]) -> None:
    bad = get_as("ada", "/api/agents/a-1/scorecard?period=2024-13")
    assert bad.status_code == 422 and bad.json()["field"] == "period"
    assert get_as("ada", "/api/agents/a-1/scorecard").status_code == 400
    empty = get_as("ada", "/api/agents/a-1/scorecard?period=2023-01")
    assert empty.status_code == 404 and "no calls in 2023-01" in empty.json()["detail"]
    assert get_as("ada", "/api/agents/a%00b/training").status_code == 404
