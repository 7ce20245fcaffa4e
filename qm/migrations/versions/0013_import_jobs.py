"""uploads processed in the background, with their progress

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 17:00:00.000000

One row per upload made in the browser (a call manifest with its files, or a
mystery-shopper CSV): its state, its counts and, when refused, the file, row and field.
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
import qm.models.base


revision: str = "0013"
down_revision: Union[str, None] = "0012"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "import_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("folder", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("created_at", qm.models.base.UTCDateTime(), nullable=False),
        sa.Column("started_at", qm.models.base.UTCDateTime(), nullable=True),
        sa.Column("finished_at", qm.models.base.UTCDateTime(), nullable=True),
        sa.Column("total_rows", sa.Integer(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("transcripts", sa.Integer(), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("process_failed", sa.Integer(), nullable=False),
        sa.Column("process_note", sa.Text(), nullable=True),
        sa.Column("error_file", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("error_row", sa.Integer(), nullable=True),
        sa.Column("error_field", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
    )
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_job_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_job_state"))

    op.drop_table("import_job")
