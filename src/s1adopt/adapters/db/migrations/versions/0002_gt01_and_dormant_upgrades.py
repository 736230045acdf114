"""GT01 (electricity migrated alone) and dormant firmware upgrade targets

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("installation") as batch_op:
        batch_op.add_column(
            sa.Column("electricity_only", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("device") as batch_op:
        batch_op.add_column(sa.Column("firmware_target", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device") as batch_op:
        batch_op.drop_column("firmware_target")
    with op.batch_alter_table("installation") as batch_op:
        batch_op.drop_column("electricity_only")
