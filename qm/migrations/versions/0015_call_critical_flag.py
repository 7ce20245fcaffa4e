"""the call list's critical filter without reading every result

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 17:00:00.000000
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0015'
down_revision: Union[str, None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
