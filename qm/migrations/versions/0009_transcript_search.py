"""full-text search over transcripts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 16:30:00.000000

SQLite: an FTS5 trigram index over segment text, kept in step by triggers, filled from the
segments already stored. PostgreSQL: a pg_trgm GIN index on segment text (the extension
is created when missing). See qm.models.transcript_search.
"""
from typing import Sequence, Union

from alembic import op

from qm.models.transcript_search import (
    create_search_index,
    drop_search_index,
    rebuild_search_index,
)


revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    conn = op.get_bind()
    create_search_index(conn)
    rebuild_search_index(conn)


def downgrade() -> None:
    drop_search_index(op.get_bind())
