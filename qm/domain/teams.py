"""Teams and the agents in them: names and membership, audited."""

from sqlmodel import Session, col, select

from qm.domain.audit import record
from qm.domain.bounds import MAX_AGENT_ID, normalize, text_problem
from qm.errors import NotFound, ValidationFailed
from qm.i18n import gettext as _
from qm.models import Agent, Team

MAX_NAME = 200  # characters of a team's or an agent's display name (the columns' width)


def _checked(field: str, value: str, limit: int) -> str:
    value = normalize(value)
    problem = "must not be empty" if not value else text_problem(value, limit)
    if problem is not None:
        raise ValidationFailed("team", None, field, problem)
    return value


def save_team(session: Session, team_id: str, *, name: str, actor: str) -> Team:
    """Create the team `team_id`, or rename it.

    Raises:
        ValidationFailed: an empty or over-long id or name.
    """
    team_id = _checked("team_id", team_id, 64)
    name = _checked("name", name, MAX_NAME)
    team = session.get(Team, team_id) or Team(id=team_id, name=name)
    team.name = name
    session.add(team)
    record(session, actor=actor, action="team.save", entity="team", entity_id=team_id,
           detail={"name": name})  # fmt: skip
    return team


def place_agent(
    session: Session, agent_id: str, *, team_id: str | None, name: str | None = None, actor: str
) -> Agent:
    """Put an agent in a team (None: in none) and, when given, set the name shown for them.

    Raises:
        NotFound: no such agent or team.
        ValidationFailed: an empty or over-long name.
    """
    agent = session.get(Agent, _checked("agent_id", agent_id, MAX_AGENT_ID))
    if agent is None:
        raise NotFound(_("no agent %(agent_id)s", agent_id=repr(agent_id)))
    if team_id is not None and session.get(Team, team_id) is None:
        raise NotFound(_("no team %(team_id)s", team_id=repr(team_id)))
    agent.team_id = team_id
    if name is not None:
        agent.name = _checked("name", name, MAX_NAME)
    session.add(agent)
    record(session, actor=actor, action="agent.place", entity="agent", entity_id=agent.id,
           detail={"team": team_id, "name": agent.name})  # fmt: skip
    return agent


def team_agents(session: Session, team_id: str) -> list[Agent]:
    """The agents of a team, by id."""
    return list(
        session.exec(select(Agent).where(Agent.team_id == team_id).order_by(col(Agent.id))).all()
    )
