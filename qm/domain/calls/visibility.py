"""Who may see a call: agents only their own agent's calls; a hidden call is `NotFound`."""

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from qm.domain.bounds import MAX_CALL_ID, control_character
from qm.errors import NotFound
from qm.models import (
    Call,
    Role,
    User,
)


def may_see(viewer: User, call: Call) -> bool:
    """Whether `viewer` may see `call` (the row-level form of `visible_conditions`)."""
    if viewer.role == Role.AGENT:
        return viewer.agent_id is not None and call.agent_id == viewer.agent_id
    return True


def visible_conditions(viewer: User) -> list[Any]:
    """SQL conditions limiting calls to those `viewer` may see."""
    if viewer.role == Role.AGENT:
        # An agent account not linked to an agent sees nothing rather than everything.
        return [col(Call.agent_id) == viewer.agent_id] if viewer.agent_id else [sa.false()]
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
    if call is None or not may_see(viewer, call):
        raise NotFound(f"no call with id {call_id!r}" if plausible else "no call with this id")
    return call
