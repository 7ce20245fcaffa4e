"""contacts that reached no agent, and a call's time in the queue

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 01:00:00.000000

`unanswered_contact` holds the contacts a telephony import reads that no agent answered
(abandoned in a queue, IVR-only): they count as the customer's contacts for FCR
(qm.domain.repeat_contacts). `call.queue_seconds` is the time the customer waited in the
queue before the agent answered, apart from hold during the call. No rows existed before,
so no flag changes here.
"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import qm.models.base

revision: str = "0019"
down_revision: Union[str, None] = "0018"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "unanswered_contact",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("customer_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("queue", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("started_at", qm.models.base.UTCDateTime(), nullable=False),
        sa.Column("queue_seconds", sa.Float(), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("imported_at", qm.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_unanswered_contact_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["queue"], ["queue.id"], name=op.f("fk_unanswered_contact_queue_queue")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unanswered_contact")),
    )
    with op.batch_alter_table("unanswered_contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_unanswered_contact_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_unanswered_contact_started_at"), ["started_at"], unique=False
        )
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queue_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call", schema=None) as batch_op:
        batch_op.drop_column("queue_seconds")
    op.drop_table("unanswered_contact")
