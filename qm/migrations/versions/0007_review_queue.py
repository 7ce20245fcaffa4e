"""review queue: sampling rules and picks

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 16:30:00.000000

Sampling rules per team and/or queue, and the calls they pick for review each month
(one pick per call and month, with its reviewer, due date and evaluation).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
import qm.models.base


revision: str = '0007'
down_revision: Union[str, None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('sampling_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('queue', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('random_per_agent', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('targeted_per_agent', sa.Integer(), nullable=False),
    sa.Column('low_courtesy_below', sa.Float(), nullable=False),
    sa.Column('reviewer_ids', sa.JSON(), nullable=False),
    sa.Column('assignment', sa.String(length=20), nullable=False),
    sa.Column('due_days', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('updated_at', qm.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['queue'], ['queue.id'], name=op.f('fk_sampling_rule_queue_queue')),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_sampling_rule_team_id_team')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sampling_rule'))
    )
    with op.batch_alter_table('sampling_rule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sampling_rule_queue'), ['queue'], unique=False)
        batch_op.create_index(batch_op.f('ix_sampling_rule_team_id'), ['team_id'], unique=False)

    op.create_table('review_pick',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=True),
    sa.Column('sample', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('reasons', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('due', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=True),
    sa.Column('created_at', qm.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['call.id'], name=op.f('fk_review_pick_call_id_call'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluation.id'], name=op.f('fk_review_pick_evaluation_id_evaluation')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['user.id'], name=op.f('fk_review_pick_reviewer_id_user')),
    sa.ForeignKeyConstraint(['rule_id'], ['sampling_rule.id'], name=op.f('fk_review_pick_rule_id_sampling_rule')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_pick')),
    sa.UniqueConstraint('call_id', 'period', name=op.f('uq_review_pick_call_id'))
    )
    with op.batch_alter_table('review_pick', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_pick_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_pick_period'), ['period'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_pick_reviewer_id'), ['reviewer_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('review_pick', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_pick_reviewer_id'))
        batch_op.drop_index(batch_op.f('ix_review_pick_period'))
        batch_op.drop_index(batch_op.f('ix_review_pick_call_id'))

    op.drop_table('review_pick')
    with op.batch_alter_table('sampling_rule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sampling_rule_team_id'))
        batch_op.drop_index(batch_op.f('ix_sampling_rule_queue'))

    op.drop_table('sampling_rule')
