"""disputes routed to a reviewer other than the one who scored

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 17:00:00.000000

`dispute.assigned_to` names the user a dispute is routed to (the resolvers' queue lists a
user's own first); indexed because every queue page filters on it.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: Union[str, None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('dispute', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assigned_to', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_dispute_assigned_to'), ['assigned_to'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_dispute_assigned_to_user'), 'user', ['assigned_to'], ['id']
        )


def downgrade() -> None:
    with op.batch_alter_table('dispute', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_dispute_assigned_to_user'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_dispute_assigned_to'))
        batch_op.drop_column('assigned_to')
