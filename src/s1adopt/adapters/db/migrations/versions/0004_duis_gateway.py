"""DUIS gateway: users' certificates and endpoints, anti-replay counters, service requests,
pre-notified devices, DCC alerts

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

EUI = sa.String(length=23)
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("party") as batch_op:
        batch_op.add_column(sa.Column("endpoint", sa.String(length=512), nullable=True))
    op.create_table(
        "user_certificate",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("eui", EUI, nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("added_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["eui"], ["party.eui"], name=op.f("fk_user_certificate_eui_party")),
        sa.PrimaryKeyConstraint("serial", "issuer", name=op.f("pk_user_certificate")),
    )
    op.create_index(op.f("ix_user_certificate_eui"), "user_certificate", ["eui"])
    op.create_table(
        "request_counter",
        sa.Column("originator", EUI, nullable=False),
        sa.Column("last_counter", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("originator", name=op.f("pk_request_counter")),
    )
    op.create_table(
        "service_request",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(length=80), nullable=True),
        sa.Column("originator", EUI, nullable=True),
        sa.Column("srv", sa.String(length=16), nullable=True),
        sa.Column("command_variant", sa.Integer(), nullable=True),
        sa.Column("endpoint", sa.String(length=16), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("response_code", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("verdicts", sa.JSON(), nullable=False),
        sa.Column("request", sa.LargeBinary(), nullable=True),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_request")),
        sa.UniqueConstraint("request_id", name=op.f("uq_service_request_request_id")),
    )
    op.create_index(op.f("ix_service_request_originator"), "service_request", ["originator"])
    op.create_index(
        "ix_service_request_originator_srv_received",
        "service_request",
        ["originator", "srv", "received_at"],
    )
    op.create_table(
        "anomaly_count",
        sa.Column("originator", EUI, nullable=False),
        sa.Column("srv", sa.String(length=16), nullable=False),
        sa.Column("window_start", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("originator", "srv", "window_start", name=op.f("pk_anomaly_count")),
    )
    op.create_table(
        "prenotified_device",
        sa.Column("device_id", EUI, nullable=False),
        sa.Column("device_type", sa.String(length=8), nullable=False),
        sa.Column("manufacturer", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("firmware_version", sa.String(length=64), nullable=True),
        sa.Column("smets_chts_version", sa.String(length=64), nullable=True),
        sa.Column("esme_variant", sa.String(length=8), nullable=True),
        sa.Column("smi_status", sa.String(length=32), nullable=False),
        sa.Column("notified_by", EUI, nullable=False),
        sa.Column("notified_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_prenotified_device")),
    )
    op.create_table(
        "dcc_alert",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("recipient", EUI, nullable=True),
        sa.Column("raised_at", TZ, nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dcc_alert")),
    )


def downgrade() -> None:
    raise NotImplementedError("revision 0004 cannot be undone: restore a backup instead")
