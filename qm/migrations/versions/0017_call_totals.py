"""per-call repeat-contact flag and courtesy score, so that a month's figures are sums

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 21:00:00.000000

Covering indexes let the monthly totals read a month without visiting the tables.
`call.compliance` and `call.courtesy_score` copy the call's two scores from its metrics.
`call.repeat_contact`: whether the same customer called again within the call's FCR
window (qm.domain.repeat_contacts); `call_metrics.courtesy_score`: the call's courtesy
score in [0, 1] (scoring.courtesy.courtesy_score of `courtesy`). Both are filled here for
the calls already stored.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = "0017"
down_revision: Union[str, None] = "0016"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


TOTALS_COLUMNS = [
    "queue",
    "customer_id",
    "repeat_contact",
    "talk_seconds",
    "hold_seconds",
    "wrap_seconds",
    "transfers",
    "resolved",
    "compliance",
    "courtesy_score",
]


def upgrade() -> None:
    # Imported here: the functions read the tables through the current models, which
    # is right only once the columns exist.
    from qm.domain.repeat_contacts import refresh_all
    from scoring.courtesy import courtesy_score

    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.add_column(sa.Column("compliance", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("courtesy_score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("repeat_contact", sa.Boolean(), nullable=True))
    with op.batch_alter_table("call_metrics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("courtesy_score", sa.Float(), nullable=True))
    # Covering indexes for the monthly totals; the first replaces (agent, start).
    op.drop_index("ix_call_agent_started", table_name="call")
    op.create_index("ix_call_agent_totals", "call", ["agent_id", "started_at", *TOTALS_COLUMNS])
    op.create_index("ix_call_month_totals", "call", ["started_at", "agent_id", *TOTALS_COLUMNS])
    conn = op.get_bind()
    # No contact without an agent existed yet (that table came with 0019).
    refresh_all(conn, unanswered=False)
    metrics = sa.table(
        "call_metrics", sa.column("call_id", sa.String), sa.column("courtesy", sa.JSON)
    )
    scores = [
        {"row_id": call_id, "score": courtesy_score(courtesy)}
        for call_id, courtesy in conn.execute(
            sa.select(metrics.c.call_id, metrics.c.courtesy).where(metrics.c.courtesy.is_not(None))
        )
        if courtesy
    ]
    if scores:
        conn.execute(
            sa.text("UPDATE call_metrics SET courtesy_score = :score WHERE call_id = :row_id"),
            scores,
        )
    # The call's copies of the two scores.
    op.execute(
        "UPDATE call SET compliance = "
        "(SELECT m.compliance FROM call_metrics m WHERE m.call_id = call.id), "
        "courtesy_score = "
        "(SELECT m.courtesy_score FROM call_metrics m WHERE m.call_id = call.id)"
    )


def downgrade() -> None:
    op.drop_index("ix_call_month_totals", table_name="call")
    op.drop_index("ix_call_agent_totals", table_name="call")
    op.create_index("ix_call_agent_started", "call", ["agent_id", "started_at"])
    with op.batch_alter_table("call_metrics", schema=None) as batch_op:
        batch_op.drop_column("courtesy_score")
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.drop_column("repeat_contact")
        batch_op.drop_column("courtesy_score")
        batch_op.drop_column("compliance")
