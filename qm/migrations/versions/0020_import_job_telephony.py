"""telephony exports as upload jobs: the export's time zone and the import summary

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 01:30:00.000000

`import_job.kind` is a plain string column, so the new kinds (asterisk, freeswitch, cdr)
need no change; a telephony job keeps the zone its export's times are written in (NULL:
the site's) and the importer's summary lines (contacts by kind, recordings missing).
"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0020"
down_revision: Union[str, None] = "0019"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.drop_column("summary")
        batch_op.drop_column("timezone")
