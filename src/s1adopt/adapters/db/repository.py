"""The migration repository on SQLAlchemy Core: bulk reads and writes, one connection."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Delete,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from s1adopt.adapters.db import tables as t
from s1adopt.domain.devices import (
    CredentialHolder,
    CredentialPurpose,
    Device,
    DeviceType,
    SmiStatus,
)
from s1adopt.domain.errors import InvalidIdentity, MigrationFileRejected
from s1adopt.domain.failures import FailureReason
from s1adopt.domain.identities import Eui64
from s1adopt.domain.installation import Installation, InstallationType, MigrationState
from s1adopt.domain.meter_points import MeterPointKind, ServiceFlag
from s1adopt.domain.records import MigrationFileHeader
from s1adopt.services.ports import (
    BatchInfo,
    HeldBy,
    KnownInstallation,
    MigrationUnit,
    NewInstallation,
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
    ) -> dict[Eui64 | str, HeldBy]:
        """Who holds each of the devices and meter points the inventory already has."""
        held: dict[Eui64 | str, HeldBy] = {}
        values = [d.value for d in device_ids]
        dev = t.device
        for part in _chunked(values):
            rows = self._c.execute(
                select(dev.c.device_id, dev.c.installation_id, dev.c.smi_status).where(
                    dev.c.device_id.in_(part)
                )
            )
            for row in rows:
                held[Eui64(row.device_id)] = HeldBy(
                    row.installation_id, row.smi_status == SmiStatus.WITHDRAWN.value
                )
        mp = t.meter_point
        for part in _chunked(list(meter_points)):
            points = self._c.execute(
                select(mp.c.mpxn, mp.c.installation_id).where(mp.c.mpxn.in_(part))
            )
            for mpxn, inst_id in points:
                held[mpxn] = HeldBy(inst_id)
        return held

    def known_installations(
        self, smso: Eui64, references: Sequence[str]
    ) -> dict[str, KnownInstallation]:
        """The installations of this SMSO with these references, by reference."""
        inst = t.installation
        found: dict[str, KnownInstallation] = {}
        for part in _chunked(list(references)):
            rows = self._c.execute(
                select(inst).where(inst.c.smso == smso.value, inst.c.reference.in_(part))
            ).all()
            if not rows:
                continue
            ids = [r.id for r in rows]
            under_dcc = set(
                self._c.execute(
                    select(t.device.c.installation_id)
                    .where(
                        t.device.c.installation_id.in_(ids),
                        t.device.c.credential_holder.in_(
                            [CredentialHolder.REPLACING.value, CredentialHolder.DCC.value]
                        ),
                    )
                    .distinct()
                ).scalars()
            )
            for row in rows:
                found[row.reference] = KnownInstallation(
                    row.id, _installation_from_row(row), row.id in under_dcc
                )
        return found

    def add_installations(self, items: Sequence[NewInstallation], at: datetime) -> None:
        """Insert new installations and update corrected ones, with history, devices,
        credentials and meter points."""
        if not items:
            return
        new = [i for i in items if i.existing_id is None]
        ids: list[int] = []
        if new:
            ids = self._insert_installations(new, at)
        corrected = [i for i in items if i.existing_id is not None]
        if corrected:
            self._c.execute(
                update(t.installation).where(t.installation.c.id == bindparam("b_id")),
                [{**_installation_row(i, at), "b_id": i.existing_id} for i in corrected],
            )
            self._release_old_data([i.existing_id for i in corrected if i.existing_id], at)
        history, devices, statuses, creds, points = [], [], [], [], []
        pairs = list(zip(ids, new, strict=True)) + [
            (i.existing_id, i) for i in corrected if i.existing_id is not None
        ]
        reclaimed = self._reclaimed_devices(
            [d.device_id.value for _, item in pairs for d in item.devices]
        )
        for inst_id, item in pairs:
            inst = item.installation
            history.extend(_history_rows(inst_id, inst))
            inst.history.clear()
            if inst.state is MigrationState.VALIDATED:
                for mpxn, kind in (
                    (item.mpan, MeterPointKind.MPAN),
                    (item.mprn, MeterPointKind.MPRN),
                ):
                    if mpxn:
                        points.append(
                            {"mpxn": mpxn, "kind": kind.value, "installation_id": inst_id}
                        )
            for dev in item.devices:
                if dev.device_id.value in reclaimed:
                    self._c.execute(
                        update(t.device)
                        .where(t.device.c.device_id == dev.device_id.value)
                        .values(**_device_row(inst_id, dev))
                    )
                else:
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
        self._insert(
            t.attempt,
            [
                {
                    "installation_id": inst_id,
                    "number": 0,
                    "day": at.date(),
                    "party": item.party.value if item.party else None,
                    "outcome": "excluded_in_validation",
                    "reason": item.installation.failure_reason,
                }
                for inst_id, item in pairs
                if item.excluded_in_validation
            ],
        )
        for part in _chunked([c["device_id"] for c in creds]):
            self._c.execute(
                delete(t.device_credential).where(
                    t.device_credential.c.device_id.in_(part),
                    t.device_credential.c.purpose == CredentialPurpose.SMSO.value,
                )
            )
        self._insert(t.device_credential, creds)
        self._insert(t.meter_point, points)

    def _insert_installations(self, new: Sequence[NewInstallation], at: datetime) -> list[int]:
        """Insert new installations in one executemany; their ids, in the items' order.

        The ids are read back by (smso, reference), which is unique: a RETURNING with the
        parameters' order would make SQLite insert the rows one statement at a time."""
        inst = t.installation
        try:
            self._c.execute(insert(inst), [_installation_row(i, at) for i in new])
        except IntegrityError as exc:
            raise MigrationFileRejected(
                "an installation reference appears twice in the file; references must be "
                "unique per SMSO"
            ) from exc
        by_key: dict[tuple[str, str], int] = {}
        for smso in {i.smso.value for i in new}:
            refs = [i.installation.reference for i in new if i.smso.value == smso]
            for part in _chunked(refs):
                rows = self._c.execute(
                    select(inst.c.reference, inst.c.id).where(
                        inst.c.smso == smso, inst.c.reference.in_(part)
                    )
                )
                by_key.update(((smso, reference), inst_id) for reference, inst_id in rows)
        return [by_key[(i.smso.value, i.installation.reference)] for i in new]

    def _reclaimed_devices(self, device_ids: list[str]) -> set[str]:
        """Devices of a record that already have a row (withdrawn, or of the same
        installation's earlier data): they are updated rather than inserted."""
        found: set[str] = set()
        for part in _chunked(device_ids):
            found.update(
                self._c.execute(
                    select(t.device.c.device_id).where(t.device.c.device_id.in_(part))
                ).scalars()
            )
        return found

    def _release_old_data(self, installation_ids: list[int], at: datetime) -> None:
        """Corrected data replaces a record: the earlier devices are withdrawn (a device the
        new record lists again is brought back by the caller) and the meter points that were
        never enrolled are released."""
        for part in _chunked(installation_ids):
            old = (
                self._c.execute(
                    select(t.device.c.device_id).where(
                        t.device.c.installation_id.in_(part),
                        t.device.c.smi_status == SmiStatus.PENDING.value,
                    )
                )
                .scalars()
                .all()
            )
            if old:
                self._c.execute(
                    update(t.device)
                    .where(t.device.c.device_id.in_(old))
                    .values(smi_status=SmiStatus.WITHDRAWN.value, status_since=at)
                )
                self._insert(
                    t.device_status_history,
                    [
                        {
                            "device_id": d,
                            "status": SmiStatus.WITHDRAWN.value,
                            "effective_from": at,
                            "reason": "replaced by corrected migration data",
                        }
                        for d in old
                    ],
                )
            self._c.execute(
                delete(t.meter_point).where(
                    t.meter_point.c.installation_id.in_(part),
                    t.meter_point.c.service_flag.is_(None),
                )
            )

    def refuse_records(self, batch_id: int, refusals: Sequence[tuple[str, str, str]]) -> None:
        """Record (reference, reason, detail) of records that could not be applied."""
        self._insert(
            t.batch_refusal,
            [
                {"batch_id": batch_id, "reference": r[:64], "reason": why, "detail": detail}
                for r, why, detail in refusals
            ],
        )

    def _insert(self, table: Any, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._c.execute(insert(table), rows)

    def releasable(
        self, *, batch_ids: Sequence[int] | None, day: date | None, limit: int, after_id: int
    ) -> list[int]:
        """Installations ready for an attempt (see the port's rule), in id order."""
        inst = t.installation
        conditions: list[Any] = [
            inst.c.id > after_id,
            inst.c.authorised_by.is_not(None),
            inst.c.blocked.is_(False),
        ]
        if batch_ids is not None:
            conditions.append(inst.c.batch_id.in_(list(batch_ids)))
            conditions.append(inst.c.state == MigrationState.VALIDATED.value)
        if day is not None:
            conditions.append(inst.c.scheduled_for <= day)
            conditions.append(
                or_(
                    inst.c.state == MigrationState.VALIDATED.value,
                    and_(inst.c.state == MigrationState.FAILED.value, inst.c.retry_on <= day),
                )
            )
        rows = self._c.execute(
            select(inst.c.id).where(*conditions).order_by(inst.c.id).limit(limit)
        )
        return [r[0] for r in rows]

    def authorise_batches(self, batch_ids: Sequence[int], by: str, day: date) -> int:
        """Authorise the batches' not yet authorised VALIDATED and FAILED installations."""
        inst = t.installation
        ids = list(
            self._c.execute(
                select(inst.c.id).where(
                    inst.c.batch_id.in_(list(batch_ids)),
                    inst.c.authorised_by.is_(None),
                    inst.c.state.in_([MigrationState.VALIDATED.value, MigrationState.FAILED.value]),
                )
            ).scalars()
        )
        for part in _chunked(ids):
            self._c.execute(
                update(inst).where(inst.c.id.in_(part)).values(authorised_by=by, authorised_on=day)
            )
        return len(ids)

    def clear_schedule(self, installation_ids: Sequence[int]) -> None:
        """Forget the installations' migration day (used up by their release)."""
        for part in _chunked(list(installation_ids)):
            self._c.execute(
                update(t.installation)
                .where(t.installation.c.id.in_(part))
                .values(scheduled_for=None)
            )

    def pending_in_batches(self, batch_ids: Sequence[int]) -> int:
        """How many of the batches' installations are in an attempt."""
        inst = t.installation
        return int(
            self._c.execute(
                select(func.count()).where(
                    inst.c.batch_id.in_(list(batch_ids)),
                    inst.c.state.in_([s.value for s in MigrationState if s.in_attempt]),
                )
            ).scalar_one()
        )

    def find_installation_id(self, identifier: str) -> int | None:
        """An installation by reference, device EUI-64, MPAN or MPRN."""
        text = identifier.strip()
        try:
            device_id = Eui64.parse(text).value
        except InvalidIdentity:
            device_id = None
        if device_id is not None:
            found = self._c.execute(
                select(t.device.c.installation_id).where(t.device.c.device_id == device_id)
            ).scalar_one_or_none()
            if found is not None:
                return int(found)
        inst = t.installation
        found = self._c.execute(
            select(inst.c.id)
            .where((inst.c.reference == text) | (inst.c.mpan == text) | (inst.c.mprn == text))
            .order_by(inst.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        return int(found) if found is not None else None

    def load_installations(self, installation_ids: Sequence[int]) -> list[MigrationUnit]:
        """Installations without devices or credentials, in id order."""
        units: list[MigrationUnit] = []
        for part in _chunked(list(installation_ids)):
            rows = self._c.execute(
                select(t.installation).where(t.installation.c.id.in_(part))
            ).all()
            units.extend(_unit_from_row(row, [], {}, None) for row in rows)
        units.sort(key=lambda u: u.installation_id)
        return units

    def load_units(self, installation_ids: Sequence[int], queue: str) -> list[MigrationUnit]:
        """The installations with their devices, sealed credentials and work step."""
        if not installation_ids:
            return []
        ids = list(installation_ids)
        insts = self._c.execute(select(t.installation).where(t.installation.c.id.in_(ids))).all()
        devs = self._c.execute(select(t.device).where(t.device.c.installation_id.in_(ids))).all()
        steps = dict(
            self._c.execute(
                select(t.work_item.c.subject_id, t.work_item.c.step).where(
                    t.work_item.c.queue == queue, t.work_item.c.subject_id.in_(ids)
                )
            ).all()
        )
        by_inst: dict[int, list[Device]] = defaultdict(list)
        for row in devs:
            if row.smi_status != SmiStatus.WITHDRAWN.value:
                by_inst[row.installation_id].append(_device_from_row(row, ""))
        device_ids = [row.device_id for row in devs]
        creds: dict[int, dict[tuple[Eui64, str], bytes]] = defaultdict(dict)
        owner = {row.device_id: row.installation_id for row in devs}
        for part in _chunked(device_ids):
            for row in self._c.execute(
                select(t.device_credential).where(t.device_credential.c.device_id.in_(part))
            ):
                creds[owner[row.device_id]][(Eui64(row.device_id), row.purpose)] = row.sealed
        units = [
            _unit_from_row(row, by_inst[row.id], creds[row.id], steps.get(row.id))
            for row in sorted(insts, key=lambda r: r.id)
        ]
        for unit in units:
            for dev in unit.devices:
                dev.installation_ref = unit.installation.reference
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
        attempts: list[dict[str, Any]] = []
        enrol: dict[MeterPointKind, list[int]] = defaultdict(list)
        for unit in units:
            inst = unit.installation
            values = _installation_values(inst)
            if unit.stored.get(_INSTALLATION) != values:
                inst_rows.append(
                    {
                        "b_id": unit.installation_id,
                        **dict(zip(_INSTALLATION_COLUMNS, values, strict=True)),
                    }
                    | {"updated_at": at}
                )
                unit.stored[_INSTALLATION] = values
            history.extend(_history_rows(unit.installation_id, inst))
            for dev in unit.devices:
                dev_values = _device_values(dev)
                if unit.stored.get(dev.device_id) != dev_values:
                    dev_rows.append(
                        {
                            "b_id": dev.device_id.value,
                            **dict(zip(_DEVICE_COLUMNS, dev_values, strict=True)),
                        }
                    )
                    unit.stored[dev.device_id] = dev_values
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
            for kind in unit.enrol:
                enrol[kind].append(unit.installation_id)
            if unit.ended is not None:
                attempts.append(
                    {
                        "installation_id": unit.installation_id,
                        "number": unit.ended.number,
                        "day": at.date(),
                        "party": unit.party.value if unit.party else None,
                        "outcome": unit.ended.outcome,
                        "reason": unit.ended.reason,
                    }
                )
        if inst_rows:
            self._c.execute(
                update(t.installation).where(t.installation.c.id == bindparam("b_id")),
                inst_rows,
            )
        if dev_rows:
            self._c.execute(
                update(t.device).where(t.device.c.device_id == bindparam("b_id")), dev_rows
            )
        if creds_drop:  # by key, one executemany
            self._c.execute(
                _delete_credential(),
                [{"b_device": device, "b_purpose": purpose} for device, purpose in creds_drop],
            )
        self._insert(t.device_credential, creds_store)
        self._insert(t.installation_history, history)
        self._insert(t.device_status_history, statuses)
        self._insert(t.credential_audit, audit)
        self._insert(t.attempt, attempts)
        for kind, inst_ids in enrol.items():
            self._enrol(kind, inst_ids, at)
        for unit in units:
            unit.installation.history.clear()
            for dev in unit.devices:
                dev.history.clear()
            unit.store_credentials.clear()
            unit.drop_credentials.clear()
            unit.audit.clear()
            unit.enrol = frozenset()
            unit.ended = None
            unit.changed = False

    def _enrol(self, kind: MeterPointKind, installation_ids: list[int], at: datetime) -> None:
        """Set the DCC Service Flag of the installations' meter points of ``kind`` to
        Enrolled, recording each change for the registration status file."""
        mp = t.meter_point
        for part in _chunked(installation_ids):
            where = (
                mp.c.installation_id.in_(part),
                mp.c.kind == kind.value,
                or_(mp.c.service_flag.is_(None), mp.c.service_flag != ServiceFlag.ENROLLED.value),
            )
            changed = self._c.execute(select(mp.c.mpxn).where(*where)).scalars().all()
            if not changed:
                continue
            self._c.execute(
                update(mp)
                .where(*where)
                .values(service_flag=ServiceFlag.ENROLLED.value, flag_since=at)
            )
            self._insert(
                t.flag_change,
                [
                    {
                        "mpxn": mpxn,
                        "kind": kind.value,
                        "flag": ServiceFlag.ENROLLED.value,
                        "at": at,
                        "day": at.date(),
                    }
                    for mpxn in changed
                ],
            )


def _delete_credential() -> Delete:
    cred = t.device_credential
    return delete(cred).where(
        cred.c.device_id == bindparam("b_device"), cred.c.purpose == bindparam("b_purpose")
    )


_INSTALLATION = "installation"  # the key of an installation's values in ``MigrationUnit.stored``
_INSTALLATION_COLUMNS = (
    "batch_id",
    "state",
    "attempts",
    "failure_reason",
    "failure_detail",
    "electricity_only",
    "authorised_by",
    "retry_on",
    "blocked",
)
_DEVICE_COLUMNS = (
    "smi_status",
    "status_since",
    "credential_holder",
    "firmware_version",
    "firmware_target",
)


def _installation_values(inst: Installation) -> tuple[object, ...]:
    """The installation's values for ``_INSTALLATION_COLUMNS``."""
    return (
        inst.batch_id,
        str(inst.state),
        inst.attempts,
        inst.failure_reason,
        inst.failure_detail,
        inst.electricity_only,
        inst.authorised_by,
        inst.retry_on,
        inst.blocked,
    )


def _device_values(dev: Device) -> tuple[object, ...]:
    """The device's values for ``_DEVICE_COLUMNS``."""
    return (
        str(dev.status),
        dev.status_since,
        str(dev.credential_holder),
        dev.firmware_version,
        dev.firmware_target,
    )


def _installation_row(item: NewInstallation, at: datetime) -> dict[str, Any]:
    inst = item.installation
    return {
        "batch_id": inst.batch_id,
        "reference": inst.reference,
        "installation_type": str(inst.installation_type),
        "cohort": item.cohort,
        "smso": item.smso.value,
        "mpan": (item.mpan or None) and item.mpan[:24],
        "mprn": (item.mprn or None) and item.mprn[:24],
        "state": str(inst.state),
        "attempts": inst.attempts,
        "failure_reason": inst.failure_reason,
        "failure_detail": inst.failure_detail,
        "electricity_only": inst.electricity_only,
        "party": item.party.value if item.party else None,
        "authorised_by": inst.authorised_by,
        "authorised_on": item.authorised_on if inst.authorised_by else None,
        "retry_on": inst.retry_on,
        "blocked": inst.blocked,
        "updated_at": at,
    }


def _installation_from_row(row: Any) -> Installation:
    return Installation(
        reference=row.reference,
        batch_id=row.batch_id,
        installation_type=InstallationType(row.installation_type),
        state=MigrationState(row.state),
        attempts=row.attempts,
        failure_reason=FailureReason(row.failure_reason) if row.failure_reason else None,
        failure_detail=row.failure_detail,
        electricity_only=bool(row.electricity_only),
        authorised_by=row.authorised_by,
        retry_on=row.retry_on,
        blocked=bool(row.blocked),
    )


def _unit_from_row(
    row: Any,
    devices: list[Device],
    credentials: dict[tuple[Eui64, str], bytes],
    step: str | None,
) -> MigrationUnit:
    unit = _bare_unit(row, devices, credentials, step)
    unit.stored[_INSTALLATION] = _installation_values(unit.installation)
    for dev in devices:
        unit.stored[dev.device_id] = _device_values(dev)
    return unit


def _bare_unit(
    row: Any,
    devices: list[Device],
    credentials: dict[tuple[Eui64, str], bytes],
    step: str | None,
) -> MigrationUnit:
    return MigrationUnit(
        installation_id=row.id,
        installation=_installation_from_row(row),
        smso=Eui64(row.smso),
        mpxns=[p for p in (row.mpan, row.mprn) if p],
        devices=devices,
        credentials=credentials,
        party=Eui64(row.party) if row.party else None,
        step=step,
        next_step=step,
    )


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
