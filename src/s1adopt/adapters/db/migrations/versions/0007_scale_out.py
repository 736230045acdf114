"""Scale-out: work items a worker holds, head-end session leases shared by all processes, and
locks for singleton processes

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("work_item") as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("claimed_until", TZ, nullable=True))
    op.create_table(
        "session_lease",
        sa.Column("headend", sa.String(length=64), primary_key=True),
        sa.Column("slot", sa.Integer(), primary_key=True),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("expires_at", TZ, nullable=True),
    )
    op.create_table(
        "session_claimant",
        sa.Column("headend", sa.String(length=64), primary_key=True),
        sa.Column("holder", sa.String(length=64), primary_key=True),
        sa.Column("expires_at", TZ, nullable=False),
    )
    op.create_table(
        "service_lock",
        sa.Column("name", sa.String(length=32), primary_key=True),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("expires_at", TZ, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("service_lock")
    op.drop_table("session_claimant")
    op.drop_table("session_lease")
    with op.batch_alter_table("work_item") as batch_op:
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claimed_by")
