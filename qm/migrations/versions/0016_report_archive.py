"""the report archive, its e-mail deliveries, and the scheduler's lease and runs

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 18:00:00.000000

`report` holds one row per rendered PDF (the file lives in the report folder),
`report_delivery` one row per e-mail of a report to a user (unique per report, user and
re-send round, so a re-run sends nothing twice), `scheduler_lease` the one process that
runs the scheduler, and `scheduled_run` the periodic runs claimed or done per period.
APScheduler's own `apscheduler_jobs` table is made by its job store, not here.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
import qm.models.base


revision: str = '0016'
down_revision: Union[str, None] = '0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('team_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('agent_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('checksum', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', qm.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agent.id'], name=op.f('fk_report_agent_id_agent')),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_report_team_id_team')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report'))
    )
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_period'), ['period'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_team_id'), ['team_id'], unique=False)

    op.create_table('report_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', qm.models.base.UTCDateTime(), nullable=True),
    sa.Column('sent_at', qm.models.base.UTCDateTime(), nullable=True),
    sa.Column('created_at', qm.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['report.id'], name=op.f('fk_report_delivery_report_id_report'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_report_delivery_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_delivery')),
    sa.UniqueConstraint('report_id', 'user_id', 'round', name=op.f('uq_report_delivery_report_id'))
    )
    with op.batch_alter_table('report_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_delivery_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_delivery_state'), ['state'], unique=False)

    op.create_table('scheduler_lease',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('expires_at', qm.models.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_lease'))
    )
    op.create_table('scheduled_run',
    sa.Column('job', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('holder', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('started_at', qm.models.base.UTCDateTime(), nullable=False),
    sa.Column('finished_at', qm.models.base.UTCDateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('job', 'period', name=op.f('pk_scheduled_run'))
    )


def downgrade() -> None:
    op.drop_table('scheduled_run')
    op.drop_table('scheduler_lease')
    with op.batch_alter_table('report_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_delivery_state'))
        batch_op.drop_index(batch_op.f('ix_report_delivery_report_id'))

    op.drop_table('report_delivery')
    with op.batch_alter_table('report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_team_id'))
        batch_op.drop_index(batch_op.f('ix_report_period'))
        batch_op.drop_index(batch_op.f('ix_report_agent_id'))

    op.drop_table('report')
