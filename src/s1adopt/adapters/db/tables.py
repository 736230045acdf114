"""SQLAlchemy Core tables of the store (the schema itself is created by Alembic migrations).

Secrets are stored only as vault-sealed blobs in ``device_credential``; no other table holds
them, and ``credential_audit`` records events without any secret.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TZ = DateTime(timezone=True)
EUI = String(23)

migration_batch = Table(
    "migration_batch",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("file_name", String(255), nullable=False),
    Column("file_id", String(64), nullable=False),
    Column("file_digest", String(64), nullable=False, unique=True),
    Column("schema_version", String(16), nullable=False),
    Column("smso", EUI, nullable=False),
    Column("responsible_supplier", EUI, nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("received_at", TZ, nullable=False),
)

installation = Table(
    "installation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", ForeignKey("migration_batch.id"), nullable=False, index=True),
    Column("reference", String(64), nullable=False, index=True),
    Column("installation_type", String(16), nullable=False),
    Column("cohort", String(64), nullable=False),
    Column("smso", EUI, nullable=False),
    Column("mpan", String(24)),
    Column("mprn", String(24)),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("failure_reason", String(40)),
    Column("failure_detail", Text, nullable=False),
    Column("electricity_only", Boolean, nullable=False, server_default=false()),
    Column("updated_at", TZ, nullable=False),
    UniqueConstraint("batch_id", "reference"),
)

installation_history = Table(
    "installation_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("installation_id", ForeignKey("installation.id"), nullable=False, index=True),
    Column("state", String(16), nullable=False),
    Column("at", TZ, nullable=False),
    Column("reason", String(40)),
    Column("detail", Text, nullable=False),
)

device = Table(
    "device",
    metadata,
    Column("device_id", EUI, primary_key=True),
    Column("installation_id", ForeignKey("installation.id"), nullable=False, index=True),
    Column("device_type", String(8), nullable=False),
    Column("manufacturer", String(64), nullable=False),
    Column("model", String(64), nullable=False),
    Column("firmware_version", String(64)),
    Column("firmware_target", String(64)),
    Column("associated_with", EUI),
    Column("mpxn", String(24), index=True),
    Column("smi_status", String(32), nullable=False),
    Column("status_since", TZ, nullable=False),
    Column("credential_holder", String(16), nullable=False),
)

device_status_history = Table(
    "device_status_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", ForeignKey("device.device_id"), nullable=False, index=True),
    Column("status", String(32), nullable=False),
    Column("effective_from", TZ, nullable=False),
    Column("reason", Text, nullable=False),
)

device_credential = Table(
    "device_credential",
    metadata,
    Column("device_id", ForeignKey("device.device_id"), primary_key=True),
    Column("purpose", String(16), primary_key=True),
    Column("sealed", LargeBinary, nullable=False),
    Column("created_at", TZ, nullable=False),
)

credential_audit = Table(
    "credential_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", EUI, nullable=False, index=True),
    Column("installation_id", ForeignKey("installation.id"), nullable=False),
    Column("event", String(64), nullable=False),
    Column("at", TZ, nullable=False),
)

meter_point = Table(
    "meter_point",
    metadata,
    Column("mpxn", String(24), primary_key=True),
    Column("kind", String(4), nullable=False),
    Column("installation_id", ForeignKey("installation.id"), nullable=False, index=True),
    Column("service_flag", String(16)),
    Column("flag_since", TZ),
)

work_item = Table(
    "work_item",
    metadata,
    Column("installation_id", ForeignKey("installation.id"), primary_key=True),
    Column("batch_id", ForeignKey("migration_batch.id"), nullable=False),
    Column("step", String(16), nullable=False),
    Column("created_at", TZ, nullable=False),
    Index("ix_work_item_batch_installation", "batch_id", "installation_id"),
)
