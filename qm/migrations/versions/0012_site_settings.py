"""targets, composite weights and the training catalog, edited by admins

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 17:00:00.000000
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0012'
down_revision: Union[str, None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
