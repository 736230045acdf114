"""Certificate serial numbers up to 64 decimal digits (a 20-octet X.509 serial has up to 49;
the 40 of 0004 refused the project's own certificates on PostgreSQL)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_certificate") as batch_op:
        batch_op.alter_column(
            "serial", existing_type=sa.String(length=40), type_=sa.String(length=64)
        )


def downgrade() -> None:
    with op.batch_alter_table("user_certificate") as batch_op:
        batch_op.alter_column(
            "serial", existing_type=sa.String(length=64), type_=sa.String(length=40)
        )
