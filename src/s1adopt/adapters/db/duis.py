"""The DUIS repository on SQLAlchemy Core (see ``services.duis.ports.DuisRepository``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from s1adopt.adapters.db import tables as t
from s1adopt.adapters.db.repository import aware
from s1adopt.domain.devices import SmiStatus
from s1adopt.domain.duis import InventoryDevice, PreNotification, normal_issuer
from s1adopt.domain.identities import Eui64
from s1adopt.domain.parties import Party, PartyStatus, parse_roles
from s1adopt.services.duis.ports import DeviceRecord, StoredRequest, UserCertificate

COUNTER_DIGITS = 20  # 2^64 - 1 has 20 digits: zero-padded text compares as numbers
MAX_INVENTORY = 17  # devices a Read Inventory response may list (DUIS V5.4)

# The statements of the request path are built once: building one costs about 100 us.
_uc, _party, _rc, _ac = t.user_certificate, t.party, t.request_counter, t.anomaly_count
_SIGNER = (
    select(_uc, _party.c.short_code, _party.c.name, _party.c.roles, _party.c.status)
    .join(_party, _party.c.eui == _uc.c.eui)
    .where(_uc.c.serial == bindparam("serial"), _uc.c.issuer == bindparam("issuer"))
)
_ADVANCE = (
    update(_rc)
    .where(_rc.c.originator == bindparam("o"), _rc.c.last_counter < bindparam("c"))
    .values(last_counter=bindparam("c"))
)
_COUNTER_EXISTS = select(_rc.c.last_counter).where(_rc.c.originator == bindparam("o"))
_COUNTER_NEW = insert(_rc).values(originator=bindparam("o"), last_counter=bindparam("c"))
_COUNT_UP = (
    update(_ac)
    .where(
        _ac.c.originator == bindparam("o"),
        _ac.c.srv == bindparam("s"),
        _ac.c.window_start == bindparam("w"),
    )
    .values(requests=_ac.c.requests + 1)
    .returning(_ac.c.requests)
)
_COUNT_NEW = insert(_ac).values(
    originator=bindparam("o"), srv=bindparam("s"), window_start=bindparam("w"), requests=1
)
_REQUEST = select(t.service_request).where(t.service_request.c.request_id == bindparam("r"))
_RECORD = insert(t.service_request).returning(t.service_request.c.id)
_d, _i = t.device, t.installation
_DEVICE = (
    select(_d.c.device_type, _d.c.smi_status, _i.c.mpan, _i.c.mprn)
    .join(_i, _i.c.id == _d.c.installation_id)
    .where(_d.c.device_id == bindparam("d"))
)
_INVENTORY_OF_METER_POINT = (
    select(_d)
    .where(
        _d.c.installation_id
        == select(_i.c.id)
        .where((_i.c.mpan == bindparam("m")) | (_i.c.mprn == bindparam("m")))
        .order_by(_i.c.id.desc())
        .limit(1)
        .scalar_subquery(),
        _d.c.smi_status != SmiStatus.WITHDRAWN.value,
    )
    .order_by(_d.c.device_type, _d.c.device_id)
    .limit(MAX_INVENTORY)
)
_INVENTORY_OF_DEVICE = (
    select(_d)
    .where(
        _d.c.installation_id
        == select(_d.c.installation_id).where(_d.c.device_id == bindparam("d")).scalar_subquery(),
        _d.c.smi_status != SmiStatus.WITHDRAWN.value,
    )
    .order_by(_d.c.device_type, _d.c.device_id)
    .limit(MAX_INVENTORY)
)


def _counter(value: int) -> str:
    return f"{value:0{COUNTER_DIGITS}d}"


class SqlDuisRepository:
    """``services.duis.ports.DuisRepository`` on one open connection."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    # users' certificates and endpoints

    def certificate(self, issuer: str, serial: int) -> UserCertificate | None:
        """The registered certificate with this issuer and serial."""
        found = self.signer(issuer, serial)
        return found[0] if found is not None else None

    def signer(self, issuer: str, serial: int) -> tuple[UserCertificate, Party] | None:
        """The registered certificate with this issuer and serial, and its user."""
        row = self._c.execute(
            _SIGNER, {"serial": str(serial), "issuer": normal_issuer(issuer)}
        ).one_or_none()
        if row is None:
            return None
        eui = Eui64(row.eui)
        cert = UserCertificate(row.issuer, int(row.serial), eui, row.certificate)
        party = Party(
            eui, row.short_code, row.name, parse_roles(row.roles), PartyStatus(row.status)
        )
        return cert, party

    def add_certificate(self, cert: UserCertificate, at: datetime) -> None:
        """Register a certificate (the same one again changes nothing)."""
        if self.certificate(cert.issuer, cert.serial) is not None:
            return
        self._c.execute(
            insert(t.user_certificate).values(
                serial=str(cert.serial),
                issuer=normal_issuer(cert.issuer),
                eui=cert.eui.value,
                certificate=cert.certificate_pem,
                added_at=at,
            )
        )

    def certificates_of(self, eui: Eui64) -> list[UserCertificate]:
        """A user's registered certificates."""
        uc = t.user_certificate
        rows = self._c.execute(select(uc).where(uc.c.eui == eui.value).order_by(uc.c.added_at))
        return [UserCertificate(r.issuer, int(r.serial), Eui64(r.eui), r.certificate) for r in rows]

    def set_endpoint(self, eui: Eui64, endpoint: str | None) -> None:
        """Where the user's asynchronous responses and alerts are delivered."""
        self._c.execute(update(t.party).where(t.party.c.eui == eui.value).values(endpoint=endpoint))

    def endpoint_of(self, eui: Eui64) -> str | None:
        """The user's registered endpoint."""
        value: str | None = self._c.execute(
            select(t.party.c.endpoint).where(t.party.c.eui == eui.value)
        ).scalar_one_or_none()
        return value

    # requests

    def request(self, request_id: str) -> StoredRequest | None:
        """A recorded request by its RequestID."""
        row = self._c.execute(_REQUEST, {"r": request_id}).one_or_none()
        return _stored(row) if row is not None else None

    def request_by_record(self, record_id: int) -> StoredRequest | None:
        """A recorded request by its record number."""
        sr = t.service_request
        row = self._c.execute(select(sr).where(sr.c.id == record_id)).one_or_none()
        return _stored(row) if row is not None else None

    def advance_counter(self, originator: Eui64, counter: int) -> bool:
        """Raise the originator's highest counter to ``counter`` if it is above it."""
        values = {"o": originator.value, "c": _counter(counter)}
        if self._c.execute(_ADVANCE, values).rowcount:
            return True
        if self._c.execute(_COUNTER_EXISTS, {"o": originator.value}).first() is not None:
            return False
        self._c.execute(_COUNTER_NEW, values)
        return True

    def count_request(self, originator: Eui64, srv: str, window_start: int) -> int:
        """Count one more request of the originator for ``srv`` in the window that starts
        at ``window_start`` (seconds since the epoch); the window's count with it."""
        values = {"o": originator.value, "s": srv, "w": window_start}
        counted = self._c.execute(_COUNT_UP, values).scalar_one_or_none()
        if counted is not None:
            return int(counted)
        self._c.execute(_COUNT_NEW, values)
        return 1

    def record(
        self,
        request_id: str | None,
        originator: str | None,
        srv: str | None,
        command_variant: int | None,
        endpoint: str,
        received_at: datetime,
        digest: str,
        response_code: str,
        status: str,
        verdicts: Sequence[tuple[str, str]],
        request: bytes | None,
        response: bytes,
    ) -> int:
        """Record an answered (or quarantined) request; its record number."""
        result = self._c.execute(
            _RECORD,
            {
                "request_id": request_id,
                "originator": originator,
                "srv": srv,
                "command_variant": command_variant,
                "endpoint": endpoint,
                "received_at": received_at,
                "digest": digest,
                "response_code": response_code,
                "status": status,
                "verdicts": [list(v) for v in verdicts],
                "request": request,
                "response": response,
            },
        )
        return int(result.scalar_one())

    def set_status(self, record_id: int, status: str, response: bytes | None = None) -> None:
        """Change a recorded request's status (and its response)."""
        values: dict[str, Any] = {"status": status}
        if response is not None:
            values["response"] = response
        sr = t.service_request
        self._c.execute(update(sr).where(sr.c.id == record_id).values(**values))

    def requests(self, status: str | None, limit: int) -> list[StoredRequest]:
        """Recorded requests, newest first (of one status, if given)."""
        sr = t.service_request
        stmt = select(sr).order_by(sr.c.id.desc()).limit(limit)
        if status is not None:
            stmt = stmt.where(sr.c.status == status)
        return [_stored(r) for r in self._c.execute(stmt)]

    # the inventory as DUIS sees it

    def device(self, device_id: Eui64) -> DeviceRecord | None:
        """A device of the inventory (or pre-notified) with its installation's meter points."""
        row = self._c.execute(_DEVICE, {"d": device_id.value}).one_or_none()
        if row is not None:
            return DeviceRecord(device_id, row.device_type, row.smi_status, row.mpan, row.mprn)
        p = t.prenotified_device
        pre = self._c.execute(
            select(p.c.device_type, p.c.smi_status, p.c.notified_by).where(
                p.c.device_id == device_id.value
            )
        ).one_or_none()
        if pre is not None:
            return DeviceRecord(
                device_id, pre.device_type, pre.smi_status, None, None, Eui64(pre.notified_by)
            )
        return None

    def inventory_of_device(self, device_id: Eui64) -> list[InventoryDevice]:
        """The devices of the device's installation, or the pre-notified device alone."""
        found = self._inventory(_INVENTORY_OF_DEVICE, {"d": device_id.value})
        if found:
            return found
        p = t.prenotified_device
        pre = self._c.execute(select(p).where(p.c.device_id == device_id.value)).one_or_none()
        if pre is None:
            return []
        return [
            InventoryDevice(
                Eui64(pre.device_id),
                pre.device_type,
                pre.smi_status,
                pre.manufacturer,
                pre.model,
                pre.firmware_version,
                None,
                None,
                "SMETS1",
                None,
            )
        ]

    def inventory_of_meter_point(self, mpxn: str) -> list[InventoryDevice]:
        """The devices of the installation holding the meter point."""
        return self._inventory(_INVENTORY_OF_METER_POINT, {"m": mpxn})

    def _inventory(self, statement: Any, values: dict[str, str]) -> list[InventoryDevice]:
        rows = self._c.execute(statement, values)
        return [
            InventoryDevice(
                device_id=Eui64(r.device_id),
                device_type=r.device_type,
                status=r.smi_status,
                manufacturer=r.manufacturer,
                model=r.model,
                firmware_version=r.firmware_version,
                date_commissioned=(
                    aware(r.status_since).date()
                    if r.smi_status == SmiStatus.COMMISSIONED.value
                    else None
                ),
                import_mpxn=r.mpxn,
            )
            for r in rows
        ]

    def prenotify(self, notice: PreNotification, by: Eui64, at: datetime) -> None:
        """Add a pre-notified device, Pending."""
        self._c.execute(
            insert(t.prenotified_device).values(
                device_id=notice.device_id.value,
                device_type=notice.device_type,
                manufacturer=notice.manufacturer[:64],
                model=notice.model[:64],
                firmware_version=notice.firmware_version,
                smets_chts_version=notice.smets_chts_version,
                esme_variant=notice.esme_variant,
                smi_status=SmiStatus.PENDING.value,
                notified_by=by.value,
                notified_at=at,
            )
        )

    def set_device_status(self, device_id: Eui64, status: str, at: datetime, why: str) -> None:
        """Move a device to ``status`` (the caller checked the transition), with history."""
        d = t.device
        moved = self._c.execute(
            update(d)
            .where(d.c.device_id == device_id.value)
            .values(smi_status=status, status_since=at)
        ).rowcount
        if moved:
            self._c.execute(
                insert(t.device_status_history).values(
                    device_id=device_id.value, status=status, effective_from=at, reason=why
                )
            )
            return
        p = t.prenotified_device
        self._c.execute(update(p).where(p.c.device_id == device_id.value).values(smi_status=status))

    def update_device_details(self, device_id: Eui64, fields: dict[str, str], at: datetime) -> None:
        """Change a device's recorded manufacturer, model or firmware."""
        allowed = {k: v for k, v in fields.items() if k in ("manufacturer", "model")}
        if "firmware_version" in fields:
            allowed["firmware_version"] = fields["firmware_version"]
        if not allowed:
            return
        for table in (t.device, t.prenotified_device):
            self._c.execute(
                update(table).where(table.c.device_id == device_id.value).values(**allowed)
            )

    def raise_alert(self, code: str, recipient: Eui64 | None, detail: str, at: datetime) -> None:
        """Record a DCC alert for delivery."""
        self._c.execute(
            insert(t.dcc_alert).values(
                code=code,
                recipient=recipient.value if recipient else None,
                raised_at=at,
                detail=detail,
            )
        )

    def alerts(self, limit: int) -> list[tuple[int, str, str | None, datetime, str]]:
        """The latest DCC alerts raised."""
        a = t.dcc_alert
        rows = self._c.execute(select(a).order_by(a.c.id.desc()).limit(limit))
        return [(r.id, r.code, r.recipient, aware(r.raised_at), r.detail) for r in rows]


def _stored(row: Any) -> StoredRequest:
    return StoredRequest(
        record_id=row.id,
        request_id=row.request_id,
        originator=row.originator,
        srv=row.srv,
        command_variant=row.command_variant,
        endpoint=row.endpoint,
        received_at=aware(row.received_at),
        digest=row.digest,
        response_code=row.response_code,
        status=row.status,
        verdicts=[(str(a), str(b)) for a, b in row.verdicts],
        request=row.request,
        response=row.response,
    )
