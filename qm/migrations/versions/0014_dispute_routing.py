"""disputes routed to a reviewer other than the one who scored

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 17:00:00.000000
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0014'
down_revision: Union[str, None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
