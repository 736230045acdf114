"""SQLAlchemy Core tables of the store (the schema itself is created by Alembic migrations).

Secrets are stored only as vault-sealed blobs in ``device_credential``; no other table holds
them, and ``credential_audit`` records events without any secret.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
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

from s1adopt.domain.duis import MAX_SERIAL_DIGITS

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
    # the migration programme (revision 0003)
    Column("party", EUI),  # the authoriser, else the responsible supplier
    Column("authorised_by", EUI),  # a supplier's EUI-64 or "operator"
    Column("authorised_on", Date),
    Column("scheduled_for", Date),
    Column("retry_on", Date),
    Column("blocked", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("smso", "reference", name="uq_installation_smso_reference"),
    Index("ix_installation_mpan", "mpan"),
    Index("ix_installation_mprn", "mprn"),
    Index("ix_installation_party_state", "party", "state"),
    Index("ix_installation_scheduled_for", "scheduled_for"),
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
    Column("queue", String(16), primary_key=True),
    Column("subject_id", Integer, primary_key=True),
    Column("step", String(16), nullable=False),
    Column("due_at", TZ),
    Column("created_at", TZ, nullable=False),
    # a worker of a distributed engine holds the item while it works on it (adapters.work)
    Column("claimed_by", String(64)),
    Column("claimed_until", TZ),
)

session_lease = Table(  # one row per session a head end carries: who may use it, until when
    "session_lease",
    metadata,
    Column("headend", String(64), primary_key=True),
    Column("slot", Integer, primary_key=True),
    Column("holder", String(64)),
    Column("expires_at", TZ),
)

session_claimant = Table(  # the processes that want a head end's sessions, with a heartbeat
    "session_claimant",
    metadata,
    Column("headend", String(64), primary_key=True),
    Column("holder", String(64), primary_key=True),
    Column("expires_at", TZ, nullable=False),
)

service_lock = Table(  # singleton processes (the scheduler): who holds the lock, until when
    "service_lock",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(64)),
    Column("expires_at", TZ),
)

batch_refusal = Table(  # records of a file that could not be applied to their installation
    "batch_refusal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", ForeignKey("migration_batch.id"), nullable=False, index=True),
    Column("reference", String(64), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("detail", Text, nullable=False),
)

party = Table(
    "party",
    metadata,
    Column("eui", EUI, primary_key=True),
    Column("short_code", String(16), nullable=False),
    Column("name", String(128), nullable=False),
    Column("roles", String(64), nullable=False),  # space-separated role codes
    Column("status", String(16), nullable=False),
    Column("updated_at", TZ, nullable=False),
    Column("endpoint", String(512)),  # where its asynchronous responses and alerts go (0004)
)

registration = Table(
    "registration",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mpxn", String(24), nullable=False),
    Column("kind", String(4), nullable=False),
    Column("supplier", EUI, nullable=False),
    Column("network_operator", EUI, nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("file_id", Integer, nullable=False),  # exchange_file.id, or a registration load
    UniqueConstraint("mpxn", "effective_from", name="uq_registration_mpxn_effective"),
)

exchange_file = Table(  # every file taken in (from the exchange or the command line)
    "exchange_file",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("sender", String(32), nullable=False),
    Column("received_at", TZ, nullable=False),
    Column("accepted", Boolean, nullable=False),
    Column("summary", Text, nullable=False),
    Column("faults", JSON, nullable=False),
    UniqueConstraint("digest", "name", name="uq_exchange_file_digest_name"),
)

demand = Table(
    "demand",
    metadata,
    Column("party", EUI, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("cohort", String(16), primary_key=True),
    Column("installations", Integer, nullable=False),
    Column("reference", String(32), nullable=False),  # of the demand file (the latest wins)
)

allocation = Table(
    "allocation",
    metadata,
    Column("day", Date, primary_key=True),
    Column("cohort", String(16), primary_key=True),
    Column("party", EUI, primary_key=True),
    Column("demand", Integer, nullable=False),
    Column("allocated", Integer, nullable=False),
    Column("scheduled", Integer, nullable=False),
    Column("decided_on", Date, nullable=False),
)

authorisation = Table(
    "authorisation",
    metadata,
    Column("mpxn", String(24), primary_key=True),
    Column("party", EUI, nullable=False),
    Column("file_id", Integer, nullable=False),
    Column("authorised_on", Date, nullable=False),
)

notice = Table(
    "notice",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("installation_id", ForeignKey("installation.id"), primary_key=True),
    Column("day", Date, primary_key=True),  # the upgrade or migration day it announces
    Column("party", EUI, nullable=False),
    Column("sent_on", Date, nullable=False),
)

attempt = Table(  # how each attempt ended, for the Migration Reporting Regime
    "attempt",
    metadata,
    Column("installation_id", ForeignKey("installation.id"), primary_key=True),
    Column("number", Integer, primary_key=True),  # 0: an exclusion without an attempt
    Column("day", Date, nullable=False, index=True),
    Column("party", EUI),
    Column("outcome", String(24), nullable=False),  # commissioned | failed | excluded | ...
    Column("reason", String(40)),
)

flag_change = Table(  # DCC Service Flag changes, for the registration status file
    "flag_change",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mpxn", String(24), nullable=False),
    Column("kind", String(4), nullable=False),
    Column("flag", String(16), nullable=False),
    Column("at", TZ, nullable=False),
    Column("day", Date, nullable=False, index=True),
)

programme_day = Table(
    "programme_day",
    metadata,
    Column("day", Date, primary_key=True),
    Column("started_at", TZ, nullable=False),
    Column("completed_at", TZ),
)

party_day = Table(  # the report of a party for a migration day, as it stood at the day's end
    "party_day",
    metadata,
    Column("day", Date, primary_key=True),
    Column("party", EUI, primary_key=True),
    Column("counts", JSON, nullable=False),
)

# DUIS (revision 0004)

user_certificate = Table(  # users' XML-signing certificates, found by issuer and serial
    "user_certificate",
    metadata,
    Column("serial", String(MAX_SERIAL_DIGITS), primary_key=True),  # decimal
    Column("issuer", String(255), primary_key=True),  # RFC 4514, normalised
    Column("eui", EUI, ForeignKey("party.eui"), nullable=False, index=True),
    Column("certificate", Text, nullable=False),  # PEM
    Column("added_at", TZ, nullable=False),
)

request_counter = Table(  # anti-replay: the highest RequestID counter per originator
    "request_counter",
    metadata,
    Column("originator", EUI, primary_key=True),
    Column("last_counter", String(20), nullable=False),  # zero-padded decimal, 0..2^64-1
)

service_request = Table(  # every DUIS request answered, for audit and retrieval
    "service_request",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(80), unique=True),  # None when it could not be read
    Column("originator", EUI, index=True),
    Column("srv", String(16)),
    Column("command_variant", Integer),
    Column("endpoint", String(16), nullable=False),
    Column("received_at", TZ, nullable=False),
    Column("digest", String(64), nullable=False),  # SHA-256 of the request as received
    Column("response_code", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # answered | quarantined | released | deleted
    Column("verdicts", JSON, nullable=False),  # [[check, verdict], ...]
    Column("request", LargeBinary),  # kept for quarantined requests (to release them)
    Column("response", LargeBinary, nullable=False),
    Index("ix_service_request_originator_srv_received", "originator", "srv", "received_at"),
)

anomaly_count = Table(  # requests per originator and SRV in fixed windows (anomaly detection)
    "anomaly_count",
    metadata,
    Column("originator", EUI, primary_key=True),
    Column("srv", String(16), primary_key=True),
    Column("window_start", Integer, primary_key=True),  # seconds since the epoch
    Column("requests", Integer, nullable=False),
)

prenotified_device = Table(  # devices a user announced with Device Pre-notification (12.2)
    "prenotified_device",
    metadata,
    Column("device_id", EUI, primary_key=True),
    Column("device_type", String(8), nullable=False),
    Column("manufacturer", String(64), nullable=False),
    Column("model", String(64), nullable=False),
    Column("firmware_version", String(64)),
    Column("smets_chts_version", String(64)),
    Column("esme_variant", String(8)),
    Column("smi_status", String(32), nullable=False),
    Column("notified_by", EUI, nullable=False),
    Column("notified_at", TZ, nullable=False),
)

dcc_alert = Table(  # DCC alerts raised by the service (delivered to users later)
    "dcc_alert",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(8), nullable=False),
    Column("recipient", EUI),
    Column("raised_at", TZ, nullable=False),
    Column("detail", Text, nullable=False),
    Column("delivered_at", TZ),
)

# --- the SMETS1 device service (0005) -----------------------------------------------------------

device_command = Table(  # a device request (or a schedule's run) to carry out: the durable queue
    "device_command",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(80)),  # None for a DCC schedule's run
    Column("originator", EUI, nullable=False),
    Column("device_id", EUI, nullable=False, index=True),
    Column("srv", String(16), nullable=False),
    Column("command_variant", Integer, nullable=False),
    Column("counter", String(20), nullable=False),  # the request's counter (response header)
    Column("request_values", JSON, nullable=False),  # the request's values (never secrets)
    Column("context", JSON, nullable=False),  # model, hub, known devices: to plan the steps
    Column("smso", EUI, nullable=False),  # whose head end carries it out: the queue
    Column("status", String(12), nullable=False),  # queued | sent | done
    Column("due_at", TZ, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("sent_at", TZ),
    Column("finished_at", TZ),
    Column("attempts", Integer, nullable=False),
    Column("claim", String(32)),  # the worker that took it
    Column("schedule_id", Integer),
    Column("future_dated", Boolean, nullable=False, server_default=false()),
    Column("dco_signature", LargeBinary),  # the DCO's countersignature of a critical command
    Column("response_code", String(16)),
    Column("outcome", Text),  # what became of it, in a sentence (no secrets)
    Index("ix_device_command_queue", "smso", "status", "due_at"),
    UniqueConstraint("schedule_id", "due_at", name="uq_device_command_schedule_run"),
)

outbox = Table(  # responses and alerts to deliver to users' endpoints, in order per recipient
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recipient", EUI, nullable=False),
    Column("kind", String(12), nullable=False),  # response | alert
    Column("reference", String(80), nullable=False),  # RequestID or ResponseID
    Column("command_id", Integer),
    Column("response_code", String(16), nullable=False),
    Column("document", LargeBinary, nullable=False),  # the DSP-signed Response
    Column("status", String(12), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", TZ, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("delivered_at", TZ),
    Column("last_error", Text),
    Index("ix_outbox_recipient_status", "recipient", "status", "id"),
)

dcc_schedule = Table(  # DCC schedules (5.1): a read run on a calendar, each result delivered
    "dcc_schedule",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the DSPScheduleID
    Column("owner", EUI, nullable=False, index=True),
    Column("device_id", EUI, nullable=False),
    Column("srv", String(16), nullable=False),
    Column("command", String(64), nullable=False),  # the DSP element, e.g. DSPReadMeterBalance
    Column("frequency", String(16), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("execution_time", String(8), nullable=False),  # HH:MM:SS UTC
    Column("period", JSON),  # log reads: offsets in days and times of day
    Column("request_id", String(80), nullable=False),  # the 5.1 request that made it
    Column("created_at", TZ, nullable=False),
    Column("deleted_at", TZ),
    Column("next_run_at", TZ),  # None once it has run its last time
)

pre_command = Table(  # pre-commands the transform service (CV4) issued
    "pre_command",
    metadata,
    Column("request_id", String(80), primary_key=True),  # of the CV4 request
    Column("originator", EUI, nullable=False),
    Column("device_id", EUI, nullable=False),
    Column("srv", String(16), nullable=False),
    Column("request_values", JSON, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("issued_at", TZ, nullable=False),
    Column("used_by", String(80)),  # the CV5 request that sent it
)

supplier_credentials = Table(  # whose supplier credentials a device holds (change of supplier)
    "supplier_credentials",
    metadata,
    Column("device_id", EUI, primary_key=True),
    Column("supplier", EUI, nullable=False),
    Column("since", TZ, nullable=False),
)
