"""What the DUIS services need from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from lxml import etree

from s1adopt.domain.duis import InventoryDevice, PreNotification
from s1adopt.domain.identities import Eui64
from s1adopt.domain.parties import Party


@dataclass(frozen=True, slots=True)
class UserCertificate:
    """A user's XML-signing certificate as the store holds it."""

    issuer: str
    serial: int
    eui: Eui64
    certificate_pem: str


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """A request answered before (idempotency, audit, quarantine)."""

    record_id: int
    request_id: str | None
    originator: str | None
    srv: str | None
    command_variant: int | None
    endpoint: str
    received_at: datetime
    digest: str
    response_code: str
    status: str
    verdicts: list[tuple[str, str]]
    request: bytes | None
    response: bytes


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """What access control needs to know of a device."""

    device_id: Eui64
    device_type: str
    smi_status: str
    mpan: str | None  # of its installation (None for a pre-notified device)
    mprn: str | None
    prenotified_by: Eui64 | None = None  # the user that pre-notified it (12.2)


class RequestStatus:
    """What became of a recorded request."""

    ANSWERED = "answered"
    QUARANTINED = "quarantined"
    RELEASED = "released"
    DELETED = "deleted"


class DuisRepository(Protocol):
    """Persistence of the DUIS side, inside a unit of work."""

    def certificate(self, issuer: str, serial: int) -> UserCertificate | None: ...

    def signer(self, issuer: str, serial: int) -> tuple[UserCertificate, Party] | None:
        """The registered certificate with this issuer and serial, and its user."""
        ...

    def add_certificate(self, cert: UserCertificate, at: datetime) -> None: ...

    def certificates_of(self, eui: Eui64) -> list[UserCertificate]: ...

    def set_endpoint(self, eui: Eui64, endpoint: str | None) -> None: ...

    def endpoint_of(self, eui: Eui64) -> str | None: ...

    def request(self, request_id: str) -> StoredRequest | None: ...

    def request_by_record(self, record_id: int) -> StoredRequest | None: ...

    def advance_counter(self, originator: Eui64, counter: int) -> bool:
        """Record ``counter`` as the originator's highest if it is above the last one;
        False (nothing changed) when it is not: a replay."""
        ...

    def count_request(self, originator: Eui64, srv: str, window_start: int) -> int:
        """Count one more request of the originator for ``srv`` in the fixed window that
        starts at ``window_start`` (seconds since the epoch); the window's count with it."""
        ...

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
    ) -> int: ...

    def set_status(self, record_id: int, status: str, response: bytes | None = None) -> None: ...

    def requests(self, status: str | None, limit: int) -> list[StoredRequest]: ...

    def device(self, device_id: Eui64) -> DeviceRecord | None: ...

    def inventory_of_device(self, device_id: Eui64) -> list[InventoryDevice]:
        """The devices of the device's installation (or the pre-notified device alone)."""
        ...

    def inventory_of_meter_point(self, mpxn: str) -> list[InventoryDevice]: ...

    def prenotify(self, notice: PreNotification, by: Eui64, at: datetime) -> None: ...

    def set_device_status(self, device_id: Eui64, status: str, at: datetime, why: str) -> None: ...

    def update_device_details(
        self, device_id: Eui64, fields: dict[str, str], at: datetime
    ) -> None: ...

    def raise_alert(
        self, code: str, recipient: Eui64 | None, detail: str, at: datetime
    ) -> None: ...

    def alerts(self, limit: int) -> list[tuple[int, str, str | None, datetime, str]]: ...


class ResponseSigner(Protocol):
    """Signs DUIS responses as the DSP (the key stays in the adapter)."""

    def sign(self, root: etree._Element) -> bytes: ...


class RequestValidator(Protocol):
    """A schema a request (or response) must validate against."""

    name: str

    def validate(self, root: etree._Element) -> None:
        """Raise ``formats.duis.schemas.SchemaInvalid`` naming the first problem."""
        ...
