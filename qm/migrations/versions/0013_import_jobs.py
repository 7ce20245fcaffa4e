"""uploads processed in the background, with their progress

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 17:00:00.000000
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0013'
down_revision: Union[str, None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
