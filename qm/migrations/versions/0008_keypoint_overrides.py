"""reviewers' key-point overrides

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 16:30:00.000000

A reviewer's decision on a key point of a call (hit or miss, evidence span, comment),
one row per decision, kept apart from the results that a re-check rewrites.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
import qm.models.base


revision: str = '0008'
down_revision: Union[str, None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('key_point_override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('item_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('hit', sa.Boolean(), nullable=False),
    sa.Column('start', sa.Float(), nullable=True),
    sa.Column('end', sa.Float(), nullable=True),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('auto_hit', sa.Boolean(), nullable=True),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('created_at', qm.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['call.id'], name=op.f('fk_key_point_override_call_id_call'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['user.id'], name=op.f('fk_key_point_override_reviewer_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_point_override'))
    )
    with op.batch_alter_table('key_point_override', schema=None) as batch_op:
        batch_op.create_index('ix_key_point_override_call_item', ['call_id', 'item_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_key_point_override_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_key_point_override_reviewer_id'), ['reviewer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('key_point_override', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_key_point_override_reviewer_id'))
        batch_op.drop_index(batch_op.f('ix_key_point_override_created_at'))
        batch_op.drop_index('ix_key_point_override_call_item')

    op.drop_table('key_point_override')
