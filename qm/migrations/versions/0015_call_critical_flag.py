"""the call list's critical filter without reading every result

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 17:00:00.000000

`call.critical_failed` copies `call_metrics.critical_failed` (the key-point stage writes
both), and three partial indexes hold only the calls with a critical miss: newest first,
alone, per agent and per queue.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: Union[str, None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INDEXES = {
    'ix_call_critical_started': ['started_at'],
    'ix_call_critical_agent': ['agent_id', 'started_at'],
    'ix_call_critical_queue': ['queue', 'started_at'],
}


def upgrade() -> None:
    with op.batch_alter_table('call', schema=None) as batch_op:
        batch_op.add_column(sa.Column('critical_failed', sa.Boolean(), nullable=True))
    op.execute(
        'UPDATE call SET critical_failed = '
        '(SELECT m.critical_failed FROM call_metrics m WHERE m.call_id = call.id)'
    )
    for name, columns in INDEXES.items():
        op.create_index(
            name,
            'call',
            columns,
            unique=False,
            sqlite_where=sa.text('critical_failed = 1'),
            postgresql_where=sa.text('critical_failed'),
        )


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name='call')
    with op.batch_alter_table('call', schema=None) as batch_op:
        batch_op.drop_column('critical_failed')
