"""reviewers' key-point exemplars: what a decision teaches the checker

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 00:00:00.000000

`key_point_exemplar` holds one row per reviewer decision that corrected the checker on
a key point with transcript text to learn from: a positive exemplar (a line that said
the key point) or a negative one (a line the checker matched that did not), for every
later check with the same script, and, for a positive one, its state as a suggested
phrase variant (qm.models.overrides.KeyPointExemplar). Earlier decisions taught nothing,
so the table starts empty.
"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import qm.models.base

revision: str = "0018"
down_revision: Union[str, None] = "0017"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "key_point_exemplar",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("script_key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("item_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("positive", sa.Boolean(), nullable=False),
        sa.Column("override_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("suggestion", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("decided_at", qm.models.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", qm.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["call.id"],
            name=op.f("fk_key_point_exemplar_call_id_call"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["override_id"],
            ["key_point_override.id"],
            name=op.f("fk_key_point_exemplar_override_id_key_point_override"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_key_point_exemplar")),
        sa.UniqueConstraint("override_id", name=op.f("uq_key_point_exemplar_override_id")),
    )
    with op.batch_alter_table("key_point_exemplar", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_key_point_exemplar_call_id"), ["call_id"], unique=False
        )
        batch_op.create_index("ix_key_point_exemplar_script", ["script_key", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("key_point_exemplar")
