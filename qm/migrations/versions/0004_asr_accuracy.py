"""asr accuracy per call and engine/model

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:30:00.000000
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
import qm.models.base


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('asr_accuracy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('engine', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('model', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('wer', sa.Float(), nullable=False),
    sa.Column('cer', sa.Float(), nullable=False),
    sa.Column('substitutions', sa.Integer(), nullable=False),
    sa.Column('deletions', sa.Integer(), nullable=False),
    sa.Column('insertions', sa.Integer(), nullable=False),
    sa.Column('reference_units', sa.Integer(), nullable=False),
    sa.Column('corrected_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('measured_at', qm.models.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['call.id'], name=op.f('fk_asr_accuracy_call_id_call'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_asr_accuracy')),
    sa.UniqueConstraint('call_id', 'engine', 'model', name=op.f('uq_asr_accuracy_call_id'))
    )
    with op.batch_alter_table('asr_accuracy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asr_accuracy_call_id'), ['call_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('asr_accuracy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asr_accuracy_call_id'))

    op.drop_table('asr_accuracy')
