"""indexes for the call list at 100,000 calls

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 17:45:00.000000

The call list reads a queue's calls newest first (queue, started_at replaces the index on
queue alone, which it covers), and the filter form lists the distinct reasons.
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0011'
down_revision: Union[str, None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('call', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_queue'))
        batch_op.create_index('ix_call_queue_started', ['queue', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_call_reason'), ['reason'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('call', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_reason'))
        batch_op.drop_index('ix_call_queue_started')
        batch_op.create_index(batch_op.f('ix_call_queue'), ['queue'], unique=False)
