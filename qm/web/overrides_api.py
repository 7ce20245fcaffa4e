"""`POST /api/calls/{call_id}/keypoints/{item_id}/override`: a reviewer's key-point decision.

The body is `{"hit": bool, "start"?: seconds, "end"?: seconds, "comment": text}`
(DESIGN.md); the answer is the stored decision, 201. The rules (who may decide, which
items, the span, when a comment is needed) are `qm.domain.overrides`'s. A body of the
wrong shape is a 400 naming the key; a value the rules refuse is a 422 naming the field;
a call the caller may not see is a 404.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import Body, FromPath
from sqlmodel import Session

from qm.domain.overrides import OverrideView, override_key_point
from qm.models import User


@dataclass
class OverrideRequest:
    """A reviewer's decision on one key point of a call."""

    hit: bool
    comment: str
    start: float | None = None
    end: float | None = None


@dataclass
class OverrideResponse:
    """A stored decision: the reviewer's answer beside the machine's at the time."""

    id: int
    call_id: str
    item_id: str
    hit: bool
    start: float | None
    end: float | None
    evidence: str
    comment: str
    auto_hit: bool | None
    confirmed: bool
    reviewer: str
    created_at: datetime
    # What the decision taught the checker for the next calls: "hit" (a line that says
    # the key point), "miss" (a line worded like this does not), or null (nothing).
    taught: Literal["hit", "miss"] | None = None


def override_json(view: OverrideView) -> OverrideResponse:
    """The API's form of a stored decision."""
    return OverrideResponse(
        id=view.id,
        call_id=view.call_id,
        item_id=view.item_id,
        hit=view.hit,
        start=view.start,
        end=view.end,
        evidence=view.evidence,
        comment=view.comment,
        auto_hit=view.auto_hit,
        confirmed=view.confirmed,
        reviewer=view.reviewer,
        created_at=view.created_at,
        taught=None if view.taught is None else ("hit" if view.taught else "miss"),
    )


class OverrideApiController(Controller):
    """Reviewers confirm or correct the machine's key-point answers."""

    path = "/api/calls/{call_id:str}/keypoints/{item_id:str}/override"
    tags = ["key points"]  # noqa: RUF012  (Litestar reads a plain list)

    @post("/", sync_to_thread=True)
    def override(
        self,
        call_id: FromPath[str],
        item_id: FromPath[str],
        request: Request[User, Any, State],
        db: NamedDependency[Session],
        data: Annotated[
            OverrideRequest,
            Body(
                description=(
                    "hit: the reviewer's answer; start/end: the evidence span in seconds "
                    "(both or neither); comment: why (required when contradicting a certain "
                    "automatic answer, at most 2000 characters)."
                )
            ),
        ],
    ) -> OverrideResponse:
        """Record a decision (reviewers, admins, managers of the agent's team); the newest
        decision per key point counts, older ones stay as its history."""
        view = override_key_point(
            db,
            call_id=call_id,
            item_id=item_id,
            hit=data.hit,
            start=data.start,
            end=data.end,
            comment=data.comment,
            actor=request.user,
        )
        return override_json(view)
