"""The SMETS1 device service: device commands, the delivery outbox, DCC schedules,
pre-commands and the supplier whose credentials each device holds

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

EUI = sa.String(length=23)
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "device_command",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=80), nullable=True),
        sa.Column("originator", EUI, nullable=False),
        sa.Column("device_id", EUI, nullable=False),
        sa.Column("srv", sa.String(length=16), nullable=False),
        sa.Column("command_variant", sa.Integer(), nullable=False),
        sa.Column("counter", sa.String(length=20), nullable=False),
        sa.Column("request_values", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("smso", EUI, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("sent_at", TZ, nullable=True),
        sa.Column("finished_at", TZ, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("future_dated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("dco_signature", sa.LargeBinary(), nullable=True),
        sa.Column("response_code", sa.String(length=16), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_command")),
        sa.UniqueConstraint("schedule_id", "due_at", name="uq_device_command_schedule_run"),
    )
    op.create_index(op.f("ix_device_command_device_id"), "device_command", ["device_id"])
    op.create_index("ix_device_command_queue", "device_command", ["smso", "status", "due_at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recipient", EUI, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("reference", sa.String(length=80), nullable=False),
        sa.Column("command_id", sa.Integer(), nullable=True),
        sa.Column("response_code", sa.String(length=16), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index("ix_outbox_recipient_status", "outbox", ["recipient", "status", "id"])
    op.create_table(
        "dcc_schedule",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner", EUI, nullable=False),
        sa.Column("device_id", EUI, nullable=False),
        sa.Column("srv", sa.String(length=16), nullable=False),
        sa.Column("command", sa.String(length=64), nullable=False),
        sa.Column("frequency", sa.String(length=16), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("execution_time", sa.String(length=8), nullable=False),
        sa.Column("period", sa.JSON(), nullable=True),
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("deleted_at", TZ, nullable=True),
        sa.Column("next_run_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dcc_schedule")),
    )
    op.create_index(op.f("ix_dcc_schedule_owner"), "dcc_schedule", ["owner"])
    op.create_table(
        "pre_command",
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("originator", EUI, nullable=False),
        sa.Column("device_id", EUI, nullable=False),
        sa.Column("srv", sa.String(length=16), nullable=False),
        sa.Column("request_values", sa.JSON(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at", TZ, nullable=False),
        sa.Column("used_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_pre_command")),
    )
    op.create_table(
        "supplier_credentials",
        sa.Column("device_id", EUI, nullable=False),
        sa.Column("supplier", EUI, nullable=False),
        sa.Column("since", TZ, nullable=False),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_supplier_credentials")),
    )


def downgrade() -> None:
    raise NotImplementedError("revision 0005 cannot be undone: restore a backup instead")
