"""An agent's own figures over JSON: the monthly scorecard and the training assignments.

    GET /api/agents/{agent_id}/scorecard?period=YYYY-MM   the `qm scorecard --json` object
    GET /api/agents/{agent_id}/training                   assignments with their status

Who sees them (DESIGN.md, "Visibility"): the agent their own, a manager the agents of the
teams they manage, admins everyone. Reviewers see calls and evaluations but not people's
scorecards and training plans (DESIGN.md: "no reports"), so the role is refused (403);
an agent the caller may not see answers 404, exactly as one that does not exist.
"""

from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from sqlmodel import Session, col, select

from qm.auth import requires_role
from qm.domain.bounds import MAX_AGENT_ID, control_character
from qm.domain.evaluations.queries import managed_teams
from qm.domain.scorecards import ScorecardRequest, compute_scorecards, parse_period
from qm.domain.targets import scorecard_config
from qm.errors import NotFound, ValidationFailed
from qm.i18n import N_
from qm.i18n import gettext as _
from qm.models import Agent, Role, TrainingAssignment, TrainingStatus, User
from qm.settings import Settings

# Messages people read, in one place for the translation catalogs.
NO_AGENT = "no agent {agent_id!r}"
NO_CALLS = N_("agent {agent_id!r} has no calls in {period}")

Period = Annotated[
    str, QueryParameter(description="The calendar month, YYYY-MM in the site's time zone.")
]


class TrainingOut(msgspec.Struct):
    """A training module assigned for the gaps found in one month."""

    id: int
    module_id: str
    module_title: str
    period: str
    status: TrainingStatus
    priority: float
    due_date: date
    criteria: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


def visible_agent(db: Session, agent_id: str, viewer: User) -> Agent:
    """The agent, when `viewer` may see that agent's figures.

    Raises:
        NotFound: no such agent, or `viewer` may not see it (the same error).
    """
    plausible = len(agent_id) <= MAX_AGENT_ID and control_character(agent_id) is None
    agent = db.get(Agent, agent_id) if plausible else None
    hidden = agent is None or (
        (viewer.role == Role.AGENT and viewer.agent_id != agent_id)
        or (viewer.role == Role.MANAGER and agent.team_id not in managed_teams(db, viewer))
    )
    if hidden or agent is None:
        raise NotFound(NO_AGENT.format(agent_id=agent_id) if plausible else "no such agent")
    return agent


class AgentApiController(Controller):
    """Scorecards and training plans by agent, for the agent, their managers and admins."""

    path = "/api/agents/{agent_id:str}"
    tags = ["agents"]  # noqa: RUF012  (Litestar reads a plain list)
    guards = [requires_role(Role.AGENT, Role.MANAGER, Role.ADMIN)]  # noqa: RUF012

    @get("/scorecard", sync_to_thread=True)
    def scorecard(
        self,
        agent_id: FromPath[str],
        period: Period,
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        settings: NamedDependency[Settings],
    ) -> dict[str, Any]:
        """The agent's scorecard for the month: each metric with n and a 95% interval,
        the composite and rank, the trend against the month before, mystery-shop gaps
        (the object `qm scorecard --json` prints)."""
        agent = visible_agent(db, agent_id, request.user)
        try:
            month = str(parse_period(period))
        except ValidationFailed as exc:
            raise ValidationFailed("query", None, "period", exc.message) from None
        config = scorecard_config(db, settings, agent.team_id)
        cards = compute_scorecards(
            db, ScorecardRequest(month, agent.id), tz=settings.tz, config=config
        )
        if not cards:
            raise NotFound(_(NO_CALLS).format(agent_id=agent.id, period=month))
        return cards[0].to_dict()

    @get("/training", sync_to_thread=True)
    def training(
        self,
        agent_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> list[TrainingOut]:
        """The agent's training assignments, newest month first, with their status."""
        agent = visible_agent(db, agent_id, request.user)
        rows = db.exec(
            select(TrainingAssignment)
            .where(col(TrainingAssignment.agent_id) == agent.id)
            .order_by(
                col(TrainingAssignment.period).desc(), col(TrainingAssignment.priority).desc()
            )
        ).all()
        return [
            TrainingOut(
                id=r.id or 0,
                module_id=r.module_id,
                module_title=r.module_title,
                period=r.period,
                status=TrainingStatus(r.status),
                priority=r.priority,
                due_date=r.due_date,
                criteria=list(r.criteria),
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
            for r in rows
        ]
