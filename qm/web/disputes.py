"""The resolvers' side of disputes: the queue and the page that decides one.

    GET  /disputes                  open disputes: assigned to me first, then the rest
    GET  /disputes/{id}             the disputed items, the agent's comment, the evidence
    POST /disputes/{id}/resolve     `outcome` upheld | changed, `answer.<item>`, `comment`

For reviewers, managers (their teams' disputes only) and admins; agents are refused (403).
A dispute whose evaluation the caller may not see answers 404. Who may decide follows the
routing rule (`qm.domain.evaluations.disputes`): not the disputing agent, and not the
reviewer who scored it while another reviewer is active; the JSON API applies the same.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter, URLEncodedBody
from litestar.response import Redirect, Template
from sqlmodel import Session

from qm.auth import requires_role
from qm.domain.bounds import MAX_ROW_ID
from qm.domain.evaluations import commands
from qm.domain.evaluations.disputes import (
    RESOLVER_ROLES,
    dispute_queue,
    resolution_changes,
    resolver_problem,
    visible_dispute,
)
from qm.domain.evaluations.forms import parsed_form
from qm.errors import NotFound, ValidationFailed
from qm.i18n import gettext as _
from qm.models import Agent, DisputeState, EvaluationForm, User
from qm.web.evaluations_pages import CHOICES, NA, posted_answers
from scoring.forms import Answer, FormItem

RowId = Annotated[int, Parameter(ge=1, le=MAX_ROW_ID)]
MAX_WHY = 2000


@dataclass(frozen=True, slots=True)
class DisputedItem:
    """One item of the disputed evaluation, as the resolver judges it."""

    item: FormItem
    answer: Answer | None
    comment: str
    evidence: dict[str, Any] | None
    disputed: bool
    choices: tuple[tuple[str, str], ...]


class DisputePagesController(Controller):
    """The disputes queue and the resolve page."""

    include_in_schema = False
    guards = [requires_role(*RESOLVER_ROLES)]  # noqa: RUF012  (Litestar reads a plain list)

    @get("/disputes", sync_to_thread=True)
    def queue(self, request: Request[User, Any, State], db: NamedDependency[Session]) -> Template:
        """Open disputes the caller may see, theirs first."""
        rows = dispute_queue(db, request.user)
        context = {"mine": [r for r in rows if r.mine], "others": [r for r in rows if not r.mine]}
        return Template(template_name="disputes/list.html", context=context)

    @get("/disputes/{dispute_id:int}", sync_to_thread=True)
    def show(
        self,
        dispute_id: FromPath[RowId],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
    ) -> Template:
        """The dispute with its items, evidence and, while open, the form to decide it."""
        dispute, evaluation = visible_dispute(db, dispute_id, request.user)
        form_row = db.get(EvaluationForm, evaluation.form_id)
        if form_row is None:  # the foreign key makes this impossible
            raise NotFound(_("no dispute %(id)s", id=dispute_id))
        form = parsed_form(form_row)
        disputed = set(dispute.items)
        items = []
        for item in form.items().values():
            stored = evaluation.answers.get(item.id, {})
            evidence = stored.get("evidence")
            items.append(
                DisputedItem(
                    item=item,
                    answer=stored.get("answer"),
                    comment=stored.get("comment") or "",
                    evidence=evidence if isinstance(evidence, dict) else None,
                    disputed=item.id in disputed,
                    choices=CHOICES[item.type] + ((NA,) if item.na_allowed else ()),
                )
            )
        agent = db.get(Agent, evaluation.agent_id)
        scorer = db.get(User, evaluation.reviewer_id)
        assigned = db.get(User, dispute.assigned_to) if dispute.assigned_to else None
        is_open = dispute.state == DisputeState.OPEN
        context = {
            "dispute": dispute,
            "evaluation": evaluation,
            "agent": agent,
            "scorer": scorer,
            "assigned": assigned,
            "disputed_items": [i for i in items if i.disputed],
            "other_items": [i for i in items if not i.disputed],
            "problem": resolver_problem(db, request.user, dispute, evaluation) if is_open else None,
            "is_open": is_open,
            "changes": resolution_changes(db, evaluation, dispute),
            "labels": {i.id: i.label for i in form.items().values()},
        }
        return Template(template_name="disputes/detail.html", context=context)

    @post("/disputes/{dispute_id:int}/resolve", sync_to_thread=True, status_code=303)
    def resolve(
        self,
        dispute_id: FromPath[RowId],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: URLEncodedBody[dict[str, str]],
    ) -> Redirect:
        """Uphold the answers, or change the disputed ones, with a comment; the agent
        sees the outcome on their evaluation page."""
        dispute, evaluation = visible_dispute(db, dispute_id, request.user)
        where = f"dispute {dispute_id}"
        outcome = data.get("outcome") or ""
        why = (data.get("comment") or "").replace("\r\n", "\n")
        if len(why) > MAX_WHY:
            raise ValidationFailed(where, None, "comment", _("at most %(n)s characters", n=MAX_WHY))
        answers = None
        if outcome == "changed":
            form_row = db.get(EvaluationForm, evaluation.form_id)
            if form_row is None:  # the foreign key makes this impossible
                raise NotFound(_("no dispute %(id)s", id=dispute_id))
            posted = posted_answers(parsed_form(form_row), data, where)
            answers = {
                item_id: entry
                for item_id, entry in posted.items()
                if item_id in dispute.items
                and (
                    entry["answer"] != evaluation.answers[item_id].get("answer")
                    or entry["comment"] != (evaluation.answers[item_id].get("comment") or "")
                )
            }
        commands.resolve_dispute(
            db, dispute.id or 0, actor=request.user, outcome=outcome, comment=why, answers=answers
        )
        return Redirect(f"/disputes/{dispute_id}", status_code=303)
