"""The migration repository on SQLAlchemy Core: bulk reads and writes, one connection."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from s1adopt.adapters.db import tables as t
from s1adopt.domain.devices import (
    CredentialHolder,
    CredentialPurpose,
    Device,
    DeviceType,
    SmiStatus,
)
from s1adopt.domain.errors import MigrationFileRejected
from s1adopt.domain.failures import FailureReason
from s1adopt.domain.identities import Eui64
from s1adopt.domain.installation import Installation, InstallationType, MigrationState
from s1adopt.domain.records import MigrationFileHeader
from s1adopt.services.ports import (
    BatchInfo,
    MigrationUnit,
    NewInstallation,
    Partition,
    WorkStep,
)

IN_CHUNK = 500  # bound on the size of IN (...) lists


def aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes: everything stored is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _chunked(items: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SqlMigrationRepository:
    """``services.ports.MigrationRepository`` on one open connection (inside a transaction)."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def batch_by_digest(self, digest: str) -> BatchInfo | None:
        """The batch taken in from a file with this SHA-256, if any."""
        row = self._c.execute(
            select(t.migration_batch).where(t.migration_batch.c.file_digest == digest)
        ).one_or_none()
        if row is None:
            return None
        return BatchInfo(
            row.id, row.file_name, row.file_id, row.smso, row.record_count, aware(row.received_at)
        )

    def add_batch(
        self, file_name: str, digest: str, header: MigrationFileHeader, at: datetime
    ) -> int:
        """Record a new batch and return its id."""
        result = self._c.execute(
            insert(t.migration_batch).returning(t.migration_batch.c.id),
            {
                "file_name": file_name[:255],
                "file_id": header.file_id,
                "file_digest": digest,
                "schema_version": header.schema_version,
                "smso": header.smso.upper(),
                "responsible_supplier": header.responsible_supplier.upper(),
                "record_count": header.record_count,
                "received_at": at,
            },
        )
        return int(result.scalar_one())

    def held_in_inventory(
        self, device_ids: Sequence[Eui64], meter_points: Sequence[str]
    ) -> set[Eui64 | str]:
        """Those of the devices and meter points already in the inventory."""
        held: set[Eui64 | str] = set()
        values = [d.value for d in device_ids]
        for part in _chunked(values):
            rows = self._c.execute(
                select(t.device.c.device_id).where(t.device.c.device_id.in_(part))
            )
            held.update(Eui64(r[0]) for r in rows)
        for part in _chunked(list(meter_points)):
            rows = self._c.execute(
                select(t.meter_point.c.mpxn).where(t.meter_point.c.mpxn.in_(part))
            )
            held.update(r[0] for r in rows)
        return held

    def add_installations(self, items: Sequence[NewInstallation], at: datetime) -> None:
        """Insert installations with their history, devices, credentials, meter points, work."""
        if not items:
            return
        rows = [
            {
                "batch_id": i.installation.batch_id,
                "reference": i.installation.reference,
                "installation_type": str(i.installation.installation_type),
                "cohort": i.cohort,
                "smso": i.smso.value,
                "mpan": (i.mpan or None) and i.mpan[:24],
                "mprn": (i.mprn or None) and i.mprn[:24],
                "state": str(i.installation.state),
                "attempts": i.installation.attempts,
                "failure_reason": i.installation.failure_reason,
                "failure_detail": i.installation.failure_detail,
                "updated_at": at,
            }
            for i in items
        ]
        try:
            ids = (
                self._c.execute(
                    insert(t.installation).returning(
                        t.installation.c.id, sort_by_parameter_order=True
                    ),
                    rows,
                )
                .scalars()
                .all()
            )
        except IntegrityError as exc:
            raise MigrationFileRejected(
                "an installation reference appears twice in the file; references must be unique"
            ) from exc
        history, devices, statuses, creds, points, work = [], [], [], [], [], []
        for inst_id, item in zip(ids, items, strict=True):
            inst = item.installation
            history.extend(_history_rows(inst_id, inst))
            inst.history.clear()
            if inst.state is MigrationState.VALIDATED:
                work.append(
                    {
                        "installation_id": inst_id,
                        "batch_id": inst.batch_id,
                        "step": WorkStep.TEST,
                        "created_at": at,
                    }
                )
                if item.mpan:
                    points.append({"mpxn": item.mpan, "kind": "MPAN", "installation_id": inst_id})
                if item.mprn:
                    points.append({"mpxn": item.mprn, "kind": "MPRN", "installation_id": inst_id})
            for dev in item.devices:
                devices.append(_device_row(inst_id, dev))
                statuses.extend(_status_rows(dev))
                dev.history.clear()
            for device_id, sealed in item.sealed_credentials.items():
                creds.append(
                    {
                        "device_id": device_id.value,
                        "purpose": CredentialPurpose.SMSO.value,
                        "sealed": sealed,
                        "created_at": at,
                    }
                )
        self._insert(t.installation_history, history)
        self._insert(t.device, devices)
        self._insert(t.device_status_history, statuses)
        self._insert(t.device_credential, creds)
        self._insert(t.meter_point, points)
        self._insert(t.work_item, work)

    def _insert(self, table: Any, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._c.execute(insert(table), rows)

    def pending_count(self, batch_ids: Sequence[int], partition: Partition | None = None) -> int:
        """How many installations of the batches (and partition) wait for work."""
        return int(
            self._c.execute(
                select(func.count())
                .select_from(t.work_item)
                .where(*_work_filter(batch_ids, partition))
            ).scalar_one()
        )

    def next_work(
        self,
        batch_ids: Sequence[int],
        limit: int,
        after_id: int,
        partition: Partition | None = None,
    ) -> list[int]:
        """Up to ``limit`` installation ids with pending work, above ``after_id``, in order."""
        rows = self._c.execute(
            select(t.work_item.c.installation_id)
            .where(*_work_filter(batch_ids, partition), t.work_item.c.installation_id > after_id)
            .order_by(t.work_item.c.installation_id)
            .limit(limit)
        )
        return [r[0] for r in rows]

    def load_units(self, installation_ids: Sequence[int]) -> list[MigrationUnit]:
        """The installations with their devices and sealed credentials (histories empty)."""
        if not installation_ids:
            return []
        ids = list(installation_ids)
        insts = self._c.execute(select(t.installation).where(t.installation.c.id.in_(ids))).all()
        devs = self._c.execute(select(t.device).where(t.device.c.installation_id.in_(ids))).all()
        by_inst: dict[int, list[Device]] = defaultdict(list)
        for row in devs:
            by_inst[row.installation_id].append(_device_from_row(row, ""))
        device_ids = [row.device_id for row in devs]
        creds: dict[int, dict[tuple[Eui64, str], bytes]] = defaultdict(dict)
        owner = {row.device_id: row.installation_id for row in devs}
        for part in _chunked(device_ids):
            for row in self._c.execute(
                select(t.device_credential).where(t.device_credential.c.device_id.in_(part))
            ):
                creds[owner[row.device_id]][(Eui64(row.device_id), row.purpose)] = row.sealed
        units = []
        for row in sorted(insts, key=lambda r: r.id):
            inst = Installation(
                reference=row.reference,
                batch_id=row.batch_id,
                installation_type=InstallationType(row.installation_type),
                state=MigrationState(row.state),
                attempts=row.attempts,
                failure_reason=FailureReason(row.failure_reason) if row.failure_reason else None,
                failure_detail=row.failure_detail,
                electricity_only=bool(row.electricity_only),
            )
            devices = by_inst[row.id]
            for dev in devices:
                dev.installation_ref = row.reference
            units.append(
                MigrationUnit(
                    installation_id=row.id,
                    installation=inst,
                    smso=Eui64(row.smso),
                    mpxns=[p for p in (row.mpan, row.mprn) if p],
                    devices=devices,
                    credentials=creds[row.id],
                )
            )
        return units

    def save_units(self, units: Sequence[MigrationUnit], at: datetime) -> None:
        """Persist the units' changes in bulk and clear their new entries."""
        if not units:
            return
        inst_rows: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        dev_rows: list[dict[str, Any]] = []
        statuses: list[dict[str, Any]] = []
        creds_store: list[dict[str, Any]] = []
        creds_drop: list[tuple[str, str]] = []
        audit: list[dict[str, Any]] = []
        enrol: list[int] = []
        enrol_mpan_only: list[int] = []
        done: list[int] = []
        steps: list[dict[str, Any]] = []
        for unit in units:
            inst = unit.installation
            inst_rows.append(
                {
                    "b_id": unit.installation_id,
                    "state": str(inst.state),
                    "attempts": inst.attempts,
                    "failure_reason": inst.failure_reason,
                    "failure_detail": inst.failure_detail,
                    "electricity_only": inst.electricity_only,
                    "updated_at": at,
                }
            )
            history.extend(_history_rows(unit.installation_id, inst))
            for dev in unit.devices:
                dev_rows.append(
                    {
                        "b_id": dev.device_id.value,
                        "smi_status": str(dev.status),
                        "status_since": dev.status_since,
                        "credential_holder": str(dev.credential_holder),
                        "firmware_version": dev.firmware_version,
                        "firmware_target": dev.firmware_target,
                    }
                )
                statuses.extend(_status_rows(dev))
            for (device_id, purpose), sealed in unit.store_credentials.items():
                creds_store.append(
                    {
                        "device_id": device_id.value,
                        "purpose": purpose,
                        "sealed": sealed,
                        "created_at": at,
                    }
                )
            creds_drop.extend(
                (d.value, p) for d, p in unit.drop_credentials | set(unit.store_credentials)
            )
            audit.extend(
                {
                    "device_id": d.value,
                    "installation_id": unit.installation_id,
                    "event": e,
                    "at": at,
                }
                for d, e in unit.audit
            )
            if unit.enrol_meter_points:
                if unit.installation.electricity_only:
                    enrol_mpan_only.append(unit.installation_id)
                else:
                    enrol.append(unit.installation_id)
            if unit.next_step is None:
                done.append(unit.installation_id)
            else:
                steps.append({"b_id": unit.installation_id, "step": unit.next_step})
        self._c.execute(
            update(t.installation).where(t.installation.c.id == bindparam("b_id")),
            inst_rows,
        )
        if dev_rows:
            self._c.execute(
                update(t.device).where(t.device.c.device_id == bindparam("b_id")), dev_rows
            )
        for part in _chunked(creds_drop):
            self._c.execute(
                delete(t.device_credential).where(
                    tuple_(t.device_credential.c.device_id, t.device_credential.c.purpose).in_(part)
                )
            )
        self._insert(t.device_credential, creds_store)
        self._insert(t.installation_history, history)
        self._insert(t.device_status_history, statuses)
        self._insert(t.credential_audit, audit)
        for part in _chunked(enrol):
            self._c.execute(
                update(t.meter_point)
                .where(t.meter_point.c.installation_id.in_(part))
                .values(service_flag="Enrolled", flag_since=at)
            )
        for part in _chunked(enrol_mpan_only):  # GT01: the MPRN stays outside the service
            self._c.execute(
                update(t.meter_point)
                .where(t.meter_point.c.installation_id.in_(part), t.meter_point.c.kind == "MPAN")
                .values(service_flag="Enrolled", flag_since=at)
            )
        for part in _chunked(done):
            self._c.execute(delete(t.work_item).where(t.work_item.c.installation_id.in_(part)))
        if steps:
            self._c.execute(
                update(t.work_item).where(t.work_item.c.installation_id == bindparam("b_id")),
                steps,
            )
        for unit in units:
            unit.installation.history.clear()
            for dev in unit.devices:
                dev.history.clear()
            unit.store_credentials.clear()
            unit.drop_credentials.clear()
            unit.audit.clear()
            unit.enrol_meter_points = False


def _work_filter(batch_ids: Sequence[int], partition: Partition | None) -> list[Any]:
    """Work of the batches; with a partition (index, count), only installation ids whose
    remainder modulo ``count`` is ``index``, so workers share the work without overlap."""
    conditions: list[Any] = [t.work_item.c.batch_id.in_(list(batch_ids))]
    if partition is not None:
        index, count = partition
        conditions.append(t.work_item.c.installation_id % count == index)
    return conditions


def _history_rows(inst_id: int, inst: Installation) -> list[dict[str, Any]]:
    return [
        {
            "installation_id": inst_id,
            "state": str(h.state),
            "at": h.at,
            "reason": h.reason,
            "detail": h.detail,
        }
        for h in inst.history
    ]


def _status_rows(dev: Device) -> list[dict[str, Any]]:
    return [
        {
            "device_id": dev.device_id.value,
            "status": str(h.status),
            "effective_from": h.effective_from,
            "reason": h.reason,
        }
        for h in dev.history
    ]


def _device_row(inst_id: int, dev: Device) -> dict[str, Any]:
    return {
        "device_id": dev.device_id.value,
        "installation_id": inst_id,
        "device_type": str(dev.device_type),
        "manufacturer": dev.manufacturer,
        "model": dev.model,
        "firmware_version": dev.firmware_version,
        "firmware_target": dev.firmware_target,
        "associated_with": dev.associated_with.value if dev.associated_with else None,
        "mpxn": dev.mpxn,
        "smi_status": str(dev.status),
        "status_since": dev.status_since,
        "credential_holder": str(dev.credential_holder),
    }


def _device_from_row(row: Any, installation_ref: str) -> Device:
    return Device(
        device_id=Eui64(row.device_id),
        device_type=DeviceType(row.device_type),
        manufacturer=row.manufacturer,
        model=row.model,
        firmware_version=row.firmware_version,
        firmware_target=row.firmware_target,
        installation_ref=installation_ref,
        associated_with=Eui64(row.associated_with) if row.associated_with else None,
        mpxn=row.mpxn,
        status=SmiStatus(row.smi_status),
        status_since=aware(row.status_since),
        credential_holder=CredentialHolder(row.credential_holder),
    )
