"""`GET /api/me`: who the caller is, so an integration or the browser can adapt to the role."""

from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlmodel import Session, col, select

from qm.models import Agent, Role, Team, User, UserTeam


class TeamOut(msgspec.Struct):
    """A team by id and name."""

    id: str
    name: str


class MeOut(msgspec.Struct):
    """The signed-in user.

    `teams` are the teams a manager manages, or the one team an agent works in; empty
    for reviewers and admins, who see every team. `language` is null when the user
    follows the browser's.
    """

    username: str
    display_name: str
    role: Role
    agent_id: str | None
    teams: list[TeamOut]
    language: str | None
    email: str | None


def _teams(db: Session, user: User) -> list[TeamOut]:
    if user.role == Role.MANAGER:
        ids = set(db.exec(select(UserTeam.team_id).where(col(UserTeam.user_id) == user.id)).all())
    elif user.role == Role.AGENT:
        # The agent's own team is the one dashboards group by; the user's copy may lag.
        agent = db.get(Agent, user.agent_id) if user.agent_id else None
        team = agent.team_id if agent is not None and agent.team_id else user.team_id
        ids = {team} if team else set()
    else:
        return []
    rows = db.exec(select(Team).where(col(Team.id).in_(ids)).order_by(col(Team.id))).all()
    return [TeamOut(t.id, t.name) for t in rows]


class MeApiController(Controller):
    """The caller's own account."""

    path = "/api/me"
    tags = ["users"]  # noqa: RUF012  (Litestar reads a plain list)

    @get("/", sync_to_thread=True)
    def me(self, request: Request[User, Any, State], db: NamedDependency[Session]) -> MeOut:
        """The signed-in user: name, role, agent id, teams and language."""
        user = request.user
        return MeOut(
            username=user.username,
            display_name=user.display_name or user.username,
            role=Role(user.role),
            agent_id=user.agent_id,
            teams=_teams(db, user),
            language=user.language,
            email=user.email,
        )
