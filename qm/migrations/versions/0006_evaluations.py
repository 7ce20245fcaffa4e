"""evaluations, disputes and calibration sessions

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:23:00.980140

Stored evaluation forms and their assignment to queues and teams, evaluations with
their change history, disputes, and calibration sessions.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
import qm.models.base


revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('evaluation_form',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('created_at', qm.models.base.UTCDateTime(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_form')),
    sa.UniqueConstraint('key', 'version', name=op.f('uq_evaluation_form_key'))
    )
    with op.batch_alter_table('evaluation_form', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evaluation_form_key'), ['key'], unique=False)

    op.create_table('form_assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('form_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('queue', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['queue'], ['queue.id'], name=op.f('fk_form_assignment_queue_queue')),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_form_assignment_team_id_team')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_assignment')),
    sa.UniqueConstraint('queue', name=op.f('uq_form_assignment_queue')),
    sa.UniqueConstraint('team_id', name=op.f('uq_form_assignment_team_id'))
    )
    op.create_table('calibration_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('call_ids', sa.JSON(), nullable=False),
    sa.Column('reviewer_ids', sa.JSON(), nullable=False),
    sa.Column('expert_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', qm.models.base.UTCDateTime(), nullable=False),
    sa.Column('closed_at', qm.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['expert_id'], ['user.id'], name=op.f('fk_calibration_session_expert_id_user')),
    sa.ForeignKeyConstraint(['form_id'], ['evaluation_form.id'], name=op.f('fk_calibration_session_form_id_evaluation_form')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calibration_session'))
    )
    op.create_table('evaluation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('form_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('sample', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('calibration_id', sa.Integer(), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('total', sa.Float(), nullable=True),
    sa.Column('critical_failed', sa.Boolean(), nullable=False),
    sa.Column('created_at', qm.models.base.UTCDateTime(), nullable=False),
    sa.Column('updated_at', qm.models.base.UTCDateTime(), nullable=False),
    sa.Column('submitted_at', qm.models.base.UTCDateTime(), nullable=True),
    sa.Column('released_at', qm.models.base.UTCDateTime(), nullable=True),
    sa.Column('acknowledged_at', qm.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('fk_evaluation_agent_id_agent')),
    sa.ForeignKeyConstraint(['calibration_id'], ['calibration_session.id'], name=op.f('fk_evaluation_calibration_id_calibration_session')),
    sa.ForeignKeyConstraint(['call_id'], ['call.id'], name=op.f('fk_evaluation_call_id_call')),
    sa.ForeignKeyConstraint(['form_id'], ['evaluation_form.id'], name=op.f('fk_evaluation_form_id_evaluation_form')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['user.id'], name=op.f('fk_evaluation_reviewer_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation'))
    )
    with op.batch_alter_table('evaluation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evaluation_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evaluation_calibration_id'), ['calibration_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evaluation_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evaluation_reviewer_id'), ['reviewer_id'], unique=False)

    op.create_table('dispute',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=False),
    sa.Column('agent_user_id', sa.Integer(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('resolution', sa.Text(), nullable=False),
    sa.Column('resolved_by', sa.Integer(), nullable=True),
    sa.Column('created_at', qm.models.base.UTCDateTime(), nullable=False),
    sa.Column('resolved_at', qm.models.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['agent_user_id'], ['user.id'], name=op.f('fk_dispute_agent_user_id_user')),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluation.id'], name=op.f('fk_dispute_evaluation_id_evaluation')),
    sa.ForeignKeyConstraint(['resolved_by'], ['user.id'], name=op.f('fk_dispute_resolved_by_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute'))
    )
    with op.batch_alter_table('dispute', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispute_evaluation_id'), ['evaluation_id'], unique=False)

    op.create_table('evaluation_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('at', qm.models.base.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('item_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('old', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('new', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('why', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluation.id'], name=op.f('fk_evaluation_change_evaluation_id_evaluation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_change'))
    )
    with op.batch_alter_table('evaluation_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evaluation_change_evaluation_id'), ['evaluation_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('evaluation_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluation_change_evaluation_id'))

    op.drop_table('evaluation_change')
    with op.batch_alter_table('dispute', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispute_evaluation_id'))

    op.drop_table('dispute')
    with op.batch_alter_table('evaluation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluation_reviewer_id'))
        batch_op.drop_index(batch_op.f('ix_evaluation_call_id'))
        batch_op.drop_index(batch_op.f('ix_evaluation_calibration_id'))
        batch_op.drop_index(batch_op.f('ix_evaluation_agent_id'))

    op.drop_table('evaluation')
    op.drop_table('calibration_session')
    op.drop_table('form_assignment')
    with op.batch_alter_table('evaluation_form', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluation_form_key'))

    op.drop_table('evaluation_form')
