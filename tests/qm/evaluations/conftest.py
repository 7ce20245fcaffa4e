"""People, calls and forms shared by the evaluation tests.

Team "north" has agent a-1 (user `agent1`, manager `mgr`); team "south" has agent a-2
(user `agent2`, manager `mgr_south`). Calls c-1 and c-2 (a-1) and c-3 (a-2) are in
queue "billing", which is assigned the bank-standard form. Call c-1 has automatic
results: greeting hit with evidence, verify uncertain.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from qm.domain.evaluations.forms import assign_form, load_form_file
from qm.domain.users import create_user
from qm.models import Role, User
from tests.factories import PASSWORD, make_call, make_results

FORMS = Path(__file__).parent / "forms"


@dataclass
class People:
    """The users of the test world, by role."""

    rev1: User
    rev2: User
    admin: User
    mgr: User
    mgr_south: User
    agent1: User
    agent2: User


def _user(
    session: Session,
    name: str,
    role: Role,
    *,
    agent_id: str | None = None,
    team_ids: tuple[str, ...] = (),
) -> User:
    return create_user(
        session, username=name, password=PASSWORD, role=role, agent_id=agent_id, team_ids=team_ids
    )


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the fresh database, with the world below committed."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def people(session: Session) -> People:
    """Users, agents, teams, calls, results and the assigned form (committed)."""
    for call_id, agent_id in (("c-1", "a-1"), ("c-2", "a-1"), ("c-3", "a-2")):
        make_call(session, call_id, agent_id=agent_id)
    make_results(
        session,
        "c-1",
        [
            {
                "item_id": "greeting",
                "hit": True,
                "start": 1.5,
                "end": 3.25,
                "evidence": "thank you for calling harper valley",
            },
            {"item_id": "verify", "hit": False, "uncertain": True, "evidence": ""},
        ],
    )
    world = People(
        rev1=_user(session, "rev1", Role.REVIEWER),
        rev2=_user(session, "rev2", Role.REVIEWER),
        admin=_user(session, "admin", Role.ADMIN),
        mgr=_user(session, "mgr", Role.MANAGER, team_ids=("north",)),
        mgr_south=_user(session, "mgr_south", Role.MANAGER, team_ids=("south",)),
        agent1=_user(session, "agent1", Role.AGENT, agent_id="a-1", team_ids=("north",)),
        agent2=_user(session, "agent2", Role.AGENT, agent_id="a-2", team_ids=("south",)),
    )
    load_form_file(session, FORMS / "bank-standard.yaml", actor="admin")
    load_form_file(session, FORMS / "two-questions.json", actor="admin")
    assign_form(session, "bank-standard", queue="billing", actor="admin")
    session.commit()
    return world
