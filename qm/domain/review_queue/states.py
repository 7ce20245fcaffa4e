"""A pick's state as the queue shows it, derived from its evaluation where it has one.

The stored `ReviewPick.state` says `open`, `skipped`, or `in_progress` once a review
was started from the pick. Finishing the evaluation is not written back to the pick (the
evaluation's own commands know nothing of the queue); instead a pick whose evaluation is
past `draft` (submitted, released, acknowledged, disputed, resolved) counts as `done`,
and one with a draft evaluation as `in_progress`.
"""

from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from qm.models import Evaluation, EvaluationState, PickState, ReviewPick

FINISHED_EVALUATION = tuple(s.value for s in EvaluationState if s != EvaluationState.DRAFT)
UNFINISHED = (PickState.OPEN.value, PickState.IN_PROGRESS.value)


def state_expression() -> Any:
    """SQL for each pick's `PickState`; the query must outer-join `Evaluation` on
    `ReviewPick.evaluation_id`."""
    return sa.case(
        (col(ReviewPick.state) == PickState.SKIPPED.value, PickState.SKIPPED.value),
        (col(Evaluation.state).in_(FINISHED_EVALUATION), PickState.DONE.value),
        (col(ReviewPick.evaluation_id).is_not(None), PickState.IN_PROGRESS.value),
        else_=col(ReviewPick.state),
    )


def derived_state(pick: ReviewPick, evaluation_state: str | None) -> PickState:
    """The same rule for one pick in Python."""
    if pick.state == PickState.SKIPPED:
        return PickState.SKIPPED
    if evaluation_state is not None and evaluation_state in FINISHED_EVALUATION:
        return PickState.DONE
    if pick.evaluation_id is not None:
        return PickState.IN_PROGRESS
    return PickState(pick.state)
