"""Teams and queues (admins only).

GET  /admin/teams?team=T&queue=Q   every team and queue; with `team` or `queue`, the
                                   edit form filled in with that one's values
POST /admin/teams                  add a team or rename one
POST /admin/teams/agents           put an agent in a team (or in none)
POST /admin/teams/queues           add or change a queue: script, form, FCR window and
                                   handle-time band; a new script re-checks the
                                   queue's calls in the background (`qm.web.rechecks`)
"""

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from litestar.response import Redirect, Template
from sqlalchemy import func
from sqlmodel import Session, col, select

from qm.auth import requires_role
from qm.domain import definitions, rechecks
from qm.domain.evaluations.forms import assign_form
from qm.domain.queues import configure_queue, list_queues
from qm.domain.teams import place_agent, save_team
from qm.errors import NotFound, ValidationFailed
from qm.i18n import gettext as _
from qm.models import Agent, FormAssignment, Queue, Role, Team, User
from qm.web.admin.problems import FieldProblem, problem_of
from qm.web.rechecks import recheck_after_response

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
IdParam = Annotated[str | None, Parameter(max_length=100)]


@dataclass(frozen=True, slots=True)
class TeamRow:
    """A team with how many agents are in it."""

    id: str
    name: str
    agents: int


@dataclass(frozen=True, slots=True)
class QueueRow:
    """A queue's settings and the form assigned to it."""

    queue: Queue
    form_key: str | None


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value or "").strip()


def _number(field: str, raw: str, kind: type[int] | type[float]) -> Any:
    """A number typed in a box (None when empty); the field is named when it is none."""
    if not raw:
        return None
    try:
        return kind(raw.replace(",", "."))
    except ValueError:
        what = _("must be a whole number") if kind is int else _("must be a number")
        raise ValidationFailed("queue", None, field, what) from None


def _teams(db: Session) -> list[TeamRow]:
    counts = dict(db.exec(select(Agent.team_id, func.count()).group_by(col(Agent.team_id))).all())
    teams = db.exec(select(Team).order_by(col(Team.id))).all()
    return [TeamRow(t.id, t.name, int(counts.get(t.id, 0))) for t in teams]


def _queues(db: Session) -> list[QueueRow]:
    forms = {
        a.queue: a.form_key
        for a in db.exec(select(FormAssignment).where(col(FormAssignment.queue).is_not(None)))
    }
    return [QueueRow(q, forms.get(q.id)) for q in list_queues(db)]


def _page(
    db: Session,
    *,
    team_form: dict[str, str] | None = None,
    queue_form: dict[str, str] | None = None,
    problem: FieldProblem | None = None,
    which: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Template:
    team_fields = ("team_id", "name")
    queue_fields = ("queue", "script_key", "form_key", "fcr_window_days", "aht_min_seconds",
                    "aht_max_seconds")  # fmt: skip
    context = {
        "teams": _teams(db),
        "queues": _queues(db),
        "agents": db.exec(select(Agent).order_by(col(Agent.name), col(Agent.id))).all(),
        "scripts": definitions.script_summaries(db),
        "forms": definitions.form_summaries(db),
        "team_form": {name: (team_form or {}).get(name, "") for name in team_fields},
        "queue_form": {name: (queue_form or {}).get(name, "") for name in queue_fields},
        "problem": problem,
        "which": which,
        "notice": notice,
    }
    return Template(template_name="admin/teams.html", context=context, status_code=status)


class TeamsAdminController(Controller):
    """Admins add and rename teams and configure queues."""

    path = "/admin/teams"
    guards = [requires_role(Role.ADMIN)]  # noqa: RUF012  (Litestar reads a plain list)
    include_in_schema = False

    @get("/", sync_to_thread=True)
    def show(
        self,
        db: NamedDependency[Session],
        team: IdParam = None,
        queue: IdParam = None,
        saved: IdParam = None,
        rechecked: Annotated[int | None, Parameter(ge=0)] = None,
    ) -> Template:
        """Every team and queue; the edit forms, filled in for `team` or `queue`."""
        team_form: dict[str, str] = {}
        queue_form: dict[str, str] = {}
        if team:
            found = db.get(Team, team)
            if found is None:
                raise NotFound(_("no such team"))
            team_form = {"team_id": found.id, "name": found.name}
        if queue:
            row = next((r for r in _queues(db) if r.queue.id == queue), None)
            if row is None:
                raise NotFound(_("no such queue"))
            q = row.queue
            queue_form = {
                "queue": q.id,
                "script_key": q.script_key or "",
                "form_key": row.form_key or "",
                "fcr_window_days": str(q.fcr_window_days),
                "aht_min_seconds": "" if q.aht_min_seconds is None else f"{q.aht_min_seconds:g}",
                "aht_max_seconds": "" if q.aht_max_seconds is None else f"{q.aht_max_seconds:g}",
            }
        notice = None
        if saved:
            notice = _("Saved %(what)s.", what=saved)
            if rechecked:
                notice += " " + _(
                    "%(n)s calls of the queue are being re-checked with its script.", n=rechecked
                )
        return _page(db, team_form=team_form, queue_form=queue_form, notice=notice)

    @post("/", sync_to_thread=True)
    def save_team(
        self, request: Request[User, Any, State], db: NamedDependency[Session], data: FormData
    ) -> Redirect | Template:
        """Add a team, or rename the team with that id."""
        form = {"team_id": _text(data.get("team_id")), "name": _text(data.get("name"))}
        try:
            team = save_team(db, form["team_id"], name=form["name"], actor=request.user.username)
        except ValidationFailed as exc:
            return _page(db, team_form=form, problem=problem_of(exc), which="team", status=422)
        return Redirect("/admin/teams", query_params={"saved": team.id}, status_code=303)

    @post("/agents", sync_to_thread=True)
    def move_agent(
        self, request: Request[User, Any, State], db: NamedDependency[Session], data: FormData
    ) -> Redirect | Template:
        """Put an agent in a team; an empty team takes the agent out of any."""
        agent_id, team_id = _text(data.get("agent_id")), _text(data.get("team_id")) or None
        try:
            agent = place_agent(db, agent_id, team_id=team_id, actor=request.user.username)
        except NotFound as exc:
            db.rollback()
            no_team = team_id is not None and db.get(Team, team_id) is None
            problem = FieldProblem("team_id" if no_team else "agent_id", str(exc))
            return _page(db, problem=problem, which="agent", status=422)
        except ValidationFailed as exc:
            return _page(db, problem=problem_of(exc), which="agent", status=422)
        return Redirect("/admin/teams", query_params={"saved": agent.id}, status_code=303)

    @post("/queues", sync_to_thread=True)
    def save_queue(
        self, request: Request[User, Any, State], db: NamedDependency[Session], data: FormData
    ) -> Redirect | Template:
        """Add or change a queue. A box left empty leaves that setting as it is ("no
        handle-time band" removes the band); a script other than the queue's present one
        re-checks its calls after the response."""
        fields = ("queue", "script_key", "form_key", "fcr_window_days")
        form = {name: _text(data.get(name)) for name in fields}
        form |= {n: _text(data.get(n)) for n in ("aht_min_seconds", "aht_max_seconds")}
        actor = request.user.username
        step = "script_key"  # which setting a NotFound is about
        try:
            before = db.get(Queue, form["queue"]) if form["queue"] else None
            old_script = None if before is None else before.script_key
            queue = configure_queue(
                db,
                form["queue"],
                actor=actor,
                script_key=form["script_key"] or None,
                fcr_window_days=_number("fcr_window_days", form["fcr_window_days"], int),
                aht_min_seconds=_number("aht_min_seconds", form["aht_min_seconds"], float),
                aht_max_seconds=_number("aht_max_seconds", form["aht_max_seconds"], float),
                clear_handle_band=bool(data.get("clear_band")),
            )
            db.flush()
            step = "form_key"
            if form["form_key"]:
                assign_form(db, form["form_key"], queue=queue.id, actor=actor)
            marked = 0
            if queue.script_key is not None and queue.script_key != old_script:
                marked = rechecks.recheck_queue(db, queue=queue.id, actor=actor)
        except NotFound as exc:
            db.rollback()  # nothing half-written: the queue's settings stay as they were
            problem = FieldProblem(step, str(exc))
            return _page(db, queue_form=form, problem=problem, which="queue", status=422)
        except ValidationFailed as exc:
            db.rollback()
            return _page(db, queue_form=form, problem=problem_of(exc), which="queue", status=422)
        query = {"saved": queue.id} | ({"rechecked": str(marked)} if marked else {})
        later = recheck_after_response(request.app.state, queue=queue.id) if marked else None
        return Redirect("/admin/teams", query_params=query, status_code=303, background=later)
