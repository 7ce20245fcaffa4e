"""which script version produced a call's results

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:30:00.000000

`call_metrics` names the script version the key-point stage checked the call with, and
when. Calls checked before this migration get them from their stored results (the
script row their key-point results point at) and their key-point stage's time.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes
import qm.models.base


revision: str = '0010'
down_revision: Union[str, None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# One version per call: all of a call's results come from one check.
_RESULT_SCRIPT = (
    "(SELECT s.{column} FROM key_point_result r JOIN script s ON s.id = r.script_id"
    " WHERE r.call_id = call_metrics.call_id ORDER BY r.id LIMIT 1)"
)
_CHECKED_AT = (
    "(SELECT st.updated_at FROM call_stage st"
    " WHERE st.call_id = call_metrics.call_id AND st.stage = 'keypoints' AND st.status = 'done')"
)


def upgrade() -> None:
    with op.batch_alter_table('call_metrics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('script_key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.add_column(sa.Column('script_version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('checked_at', qm.models.base.UTCDateTime(), nullable=True))

    op.execute(
        "UPDATE call_metrics SET"
        f" script_key = {_RESULT_SCRIPT.format(column='key')},"
        f" script_version = {_RESULT_SCRIPT.format(column='version')},"
        f" checked_at = {_CHECKED_AT}"
    )


def downgrade() -> None:
    with op.batch_alter_table('call_metrics', schema=None) as batch_op:
        batch_op.drop_column('checked_at')
        batch_op.drop_column('script_version')
        batch_op.drop_column('script_key')
