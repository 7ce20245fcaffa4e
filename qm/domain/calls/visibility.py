"""Who may see a call: agents only their own agent's calls, managers the calls of the
agents in the teams they manage, reviewers and admins every call. A hidden call is
`NotFound`, exactly like a missing one."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from qm.domain.bounds import MAX_CALL_ID, control_character
from qm.errors import NotFound
from qm.i18n import gettext as _
from qm.models import (
    Agent,
    Call,
    Role,
    User,
    UserTeam,
)


def managed_agents(viewer: User) -> Any:
    """A subquery of the ids of the agents in the teams `viewer` manages.

    Its own alias of the agent table, never correlated: a query that already reads the
    agents (the filter form's agent list) must not turn it into "this agent's team".
    """
    agent = aliased(Agent)
    return (
        sa.select(col(agent.id))
        .join(UserTeam, col(UserTeam.team_id) == col(agent.team_id))
        .where(col(UserTeam.user_id) == viewer.id)
        .correlate(None)
    )


def may_see(session: Session, viewer: User, call: Call) -> bool:
    """Whether `viewer` may see `call` (the row-level form of `visible_conditions`)."""
    if viewer.role == Role.AGENT:
        return viewer.agent_id is not None and call.agent_id == viewer.agent_id
    if viewer.role == Role.MANAGER:
        found = session.execute(
            sa.select(sa.literal(1))
            .where(col(Call.agent_id).in_(managed_agents(viewer)))
            .where(col(Call.id) == call.id)
        ).first()
        return found is not None
    return True


def visible_conditions(viewer: User) -> list[Any]:
    """SQL conditions limiting calls to those `viewer` may see."""
    if viewer.role == Role.AGENT:
        # An agent account not linked to an agent sees nothing rather than everything.
        return [col(Call.agent_id) == viewer.agent_id] if viewer.agent_id else [sa.false()]
    if viewer.role == Role.MANAGER:
        # A manager of no team sees no call.
        return [col(Call.agent_id).in_(managed_agents(viewer))]
    return []


def visible_call(session: Session, call_id: str, viewer: User) -> Call:
    """The call with this id, when `viewer` may see it.

    Raises:
        NotFound: no call has this id, or `viewer` may not see it (the same error, so
            that a hidden call cannot be told from a missing one).
    """
    # An id no call can have (too long for the column, control characters that
    # PostgreSQL would refuse) is simply not found, without asking the database.
    plausible = len(call_id) <= MAX_CALL_ID and control_character(call_id) is None
    call = session.get(Call, call_id) if plausible else None
    if call is None or not may_see(session, viewer, call):
        raise NotFound(
            _("no call with id %(call_id)s", call_id=repr(call_id))
            if plausible
            else _("no call with this id")
        )
    return call
