"""Sharing new picks among reviewers: in turn (round robin) or to the least loaded.

A rule names its reviewers, or leaves it to every active reviewer. Only people who may
evaluate the call's agent are considered (a manager in a pool takes only calls of the
teams they manage). Choices are deterministic: pools are ordered by user id, round robin
continues after whoever got the newest pick of the pool, and ties of load go to the
lowest user id.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, select

from qm.domain.evaluations.commands import may_evaluate_agent
from qm.domain.review_queue.rules import RuleSpec
from qm.domain.review_queue.states import UNFINISHED, state_expression
from qm.models import AssignmentMode, Evaluation, ReviewPick, Role, User

REVIEWING_ROLES = (Role.REVIEWER, Role.MANAGER, Role.ADMIN)


def reviewer_pool(session: Session, spec: RuleSpec) -> list[User]:
    """The active reviewers of a rule, by user id: the named ones, or every reviewer."""
    query = select(User).where(col(User.active)).order_by(col(User.id))
    if spec.reviewer_ids:
        query = query.where(
            col(User.id).in_(spec.reviewer_ids), col(User.role).in_(REVIEWING_ROLES)
        )
    else:
        query = query.where(col(User.role) == Role.REVIEWER)
    return list(session.exec(query).all())


def open_load(session: Session, user_ids: Sequence[int]) -> dict[int, int]:
    """How many unfinished (open or in-progress) picks each of these users holds."""
    if not user_ids:
        return {}
    state = state_expression()
    rows = session.exec(
        select(col(ReviewPick.reviewer_id), sa.func.count())
        .select_from(ReviewPick)
        .outerjoin(Evaluation, col(Evaluation.id) == col(ReviewPick.evaluation_id))
        .where(col(ReviewPick.reviewer_id).in_(user_ids), state.in_(UNFINISHED))
        .group_by(col(ReviewPick.reviewer_id))
    ).all()
    load = dict.fromkeys(user_ids, 0)
    load.update({user_id: count for user_id, count in rows if user_id is not None})
    return load


def _last_assigned(session: Session, user_ids: Sequence[int]) -> int | None:
    """Who got the newest pick among these users (where round robin goes on from)."""
    if not user_ids:
        return None
    return session.exec(
        select(ReviewPick.reviewer_id)
        .where(col(ReviewPick.reviewer_id).in_(user_ids))
        .order_by(col(ReviewPick.id).desc())
        .limit(1)
    ).first()


class Assigner:
    """Chooses the reviewer of each new pick of one sampling run.

    Keeps, per pool, where round robin stands and each member's load, so that a run's
    picks are spread as if they had been assigned one after another.
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self._pools: dict[tuple[int, ...], list[User]] = {}
        self._turn: dict[tuple[int, ...], int] = {}
        self._load: dict[int, int] = {}

    def _pool(self, spec: RuleSpec) -> tuple[tuple[int, ...], list[User]]:
        pool = reviewer_pool(self._session, spec)
        key = tuple(u.id or 0 for u in pool)
        if key not in self._pools:
            self._pools[key] = pool
            last = _last_assigned(self._session, key)
            # Start with the member after the last one served (the first if none was).
            self._turn[key] = key.index(last) + 1 if last in key else 0
            missing = [i for i in key if i not in self._load]
            self._load.update(open_load(self._session, missing))
        return key, self._pools[key]

    def assign(self, spec: RuleSpec, agent_id: str) -> User | None:
        """The reviewer of a new pick of `agent_id`'s call under `spec`; None if nobody may."""
        key, pool = self._pool(spec)
        eligible = [u for u in pool if may_evaluate_agent(self._session, u, agent_id)]
        if not eligible:
            return None
        if spec.assignment == AssignmentMode.BY_LOAD:
            chosen = min(eligible, key=lambda u: (self._load[u.id or 0], u.id or 0))
        else:
            chosen = self._next_in_turn(key, pool, eligible)
        self._load[chosen.id or 0] += 1
        return chosen

    def _next_in_turn(self, key: tuple[int, ...], pool: list[User], eligible: list[User]) -> User:
        allowed = {u.id for u in eligible}
        start = self._turn[key]
        for step in range(len(pool)):
            member = pool[(start + step) % len(pool)]
            if member.id in allowed:
                self._turn[key] = (start + step + 1) % len(pool)
                return member
        return eligible[0]  # unreachable: every eligible user is in the pool
