"""Read-side aggregates over the stored per-call results."""

from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from qm.models import Call, KeyPointResult, MysteryShop, ResultKind
from scoring.mystery import Shop


def key_point_counts(
    session: Session,
    start: datetime,
    end: datetime | None,
    *,
    agents: Collection[str] | None = None,
) -> dict[tuple[str, str], tuple[int, int, float, bool]]:
    """(agent, key point) -> (hits, calls checked, weight, critical) for required key
    points on calls started in [start, end) (open-ended when `end` is None), of `agents`
    only when given."""
    query = (
        sa.select(
            col(Call.agent_id),
            col(KeyPointResult.item_id),
            sa.func.sum(sa.case((col(KeyPointResult.hit), 1), else_=0)),
            sa.func.count(),
            sa.func.max(KeyPointResult.weight),
            sa.func.max(sa.case((col(KeyPointResult.critical), 1), else_=0)),
        )
        .join(Call, col(Call.id) == col(KeyPointResult.call_id))
        .where(
            col(KeyPointResult.kind) == ResultKind.KEY_POINT,
            col(KeyPointResult.required),
            col(Call.started_at) >= start,
        )
        .group_by(col(Call.agent_id), col(KeyPointResult.item_id))
    )
    if end is not None:
        query = query.where(col(Call.started_at) < end)
    if agents is not None:
        query = query.where(col(Call.agent_id).in_(sorted(agents)))
    return {
        (agent, item): (int(hits), int(n), float(weight), bool(critical))
        for agent, item, hits, n, weight, critical in session.execute(query).all()
    }


def mystery_shops(session: Session, first: date, end: date, *, agents: Any = None) -> list[Shop]:
    """The mystery shops dated in [first, end), of `agents` only when given (a list of
    ids or a scalar subquery of them), as the scoring library takes them."""
    query = sa.select(
        col(MysteryShop.id),
        col(MysteryShop.agent_id),
        col(MysteryShop.date),
        col(MysteryShop.items),
        col(MysteryShop.score),
        col(MysteryShop.scenario),
    ).where(col(MysteryShop.date) >= first, col(MysteryShop.date) < end)
    if agents is not None:
        query = query.where(col(MysteryShop.agent_id).in_(agents))
    return [Shop(*row) for row in session.execute(query)]


def mystery_counts(
    session: Session, start: date, end: date | None
) -> dict[tuple[str, str], tuple[int, int]]:
    """(agent, item) -> (shops passing, shops scoring it) for shops dated in [start, end)."""
    query = select(MysteryShop).where(col(MysteryShop.date) >= start)
    if end is not None:
        query = query.where(col(MysteryShop.date) < end)
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for shop in session.exec(query).all():
        for item, answer in shop.items.items():
            if answer in ("yes", "no"):
                counts[(shop.agent_id, item)][0] += answer == "yes"
                counts[(shop.agent_id, item)][1] += 1
    return {k: (v[0], v[1]) for k, v in counts.items()}
