"""targets, composite weights and the training catalog, edited by admins

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 17:00:00.000000

One row per setting name and scope (the site, or one team), its value as JSON.
"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
import qm.models.base


revision: str = "0012"
down_revision: Union[str, None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "site_setting",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("updated_at", qm.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", "scope", name=op.f("pk_site_setting")),
    )


def downgrade() -> None:
    op.drop_table("site_setting")
