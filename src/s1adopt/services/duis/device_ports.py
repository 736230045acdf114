"""What the SMETS1 device service needs from the outside world: its store, the head ends'
alert registration, the delivery of responses to users' endpoints, and the DCO's signer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from s1adopt.domain.identities import Eui64


class CommandStatus:
    """Where a device command is: waiting, handed to the head end, or answered."""

    QUEUED = "queued"
    SENT = "sent"
    DONE = "done"
    CANCELLED = "cancelled"  # a future-dated command its sender cancelled before its time


class DeliveryStatus:
    """Where a response or alert is on its way to the user's endpoint."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # retries spent: kept, retrievable, redeliverable by the operator


@dataclass(frozen=True, slots=True)
class DeviceContext:
    """What the device service knows of a target device when it accepts a request."""

    device_id: Eui64
    device_type: str
    manufacturer: str
    model: str
    smso: Eui64 | None  # the SMSO whose head end reaches it (None: not migrated)
    hub: Eui64 | None  # its installation's communications hub
    installation_party: Eui64 | None  # who authorised its migration
    credential_supplier: Eui64 | None  # whose supplier credentials it holds (after a CoS)
    known_devices: dict[str, str] = field(default_factory=dict)  # hex -> type (installation)


@dataclass(frozen=True, slots=True)
class NewCommand:
    """A device command to queue."""

    request_id: str | None
    originator: Eui64
    device_id: Eui64
    srv: str
    command_variant: int
    counter: int
    values: Mapping[str, Any]
    context: Mapping[str, Any]
    smso: Eui64
    due_at: datetime
    future_dated: bool = False
    schedule_id: int | None = None
    dco_signature: bytes | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """A device command as the store holds it, with the sealed credentials it needs."""

    id: int
    request_id: str | None
    originator: Eui64
    device_id: Eui64
    srv: str
    command_variant: int
    counter: int
    values: dict[str, Any]
    context: dict[str, Any]
    smso: Eui64
    due_at: datetime
    attempts: int
    future_dated: bool
    schedule_id: int | None
    dco_signature: bytes | None
    sealed: dict[tuple[str, str], bytes]  # (device hex, purpose) -> vault-sealed credential


@dataclass(frozen=True, slots=True)
class Finished:
    """How a command ended: its response code and a sentence for the record."""

    command_id: int
    response_code: str
    outcome: str


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A signed response or alert for one user."""

    recipient: Eui64
    kind: str  # response | alert
    reference: str  # RequestID or ResponseID
    response_code: str
    document: bytes
    command_id: int | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """A response or alert in the outbox."""

    id: int
    recipient: Eui64
    kind: str
    reference: str
    response_code: str
    document: bytes
    status: str
    attempts: int
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    command_id: int | None


@dataclass(frozen=True, slots=True)
class CredentialChange:
    """Credential bookkeeping done in the transaction that records a command's end."""

    device_id: Eui64
    dcc_sealed: bytes | None  # the device's new DCC credential (vault-sealed); pending dropped
    new_supplier: Eui64 | None = None  # a change of supplier: whose credentials it now holds


@dataclass(frozen=True, slots=True)
class PreCommandRecord:
    """A pre-command the transform service issued (CV4)."""

    request_id: str
    originator: Eui64
    device_id: Eui64
    srv: str
    values: dict[str, Any]
    payload: bytes
    issued_at: datetime
    used_by: str | None


@dataclass(frozen=True, slots=True)
class Schedule:
    """A DCC schedule (5.1)."""

    id: int
    owner: Eui64
    device_id: Eui64
    srv: str
    command: str
    frequency: str
    start_date: date
    end_date: date | None
    execution_time: str
    period: dict[str, Any] | None
    request_id: str
    next_run_at: datetime | None


class DeviceServiceRepository(Protocol):
    """Persistence of the device service, inside a unit of work."""

    def device_context(self, device_id: Eui64) -> DeviceContext | None: ...

    def add_commands(self, commands: Sequence[NewCommand], at: datetime) -> list[int]:
        """Queue commands; a schedule's run already queued (same schedule and time) is not
        queued twice (its id is left out)."""
        ...

    def claim(self, smso: Eui64, now: datetime, limit: int, claim: str) -> list[Command]:
        """Take up to ``limit`` due queued commands of the SMSO's queue, oldest first, and
        mark them sent (one more attempt, claimed by ``claim``)."""
        ...

    def sent_commands(self) -> list[Command]:
        """Commands left sent by a run that ended without answering them."""
        ...

    def requeue(self, command_ids: Sequence[int]) -> None: ...

    def cancel_future(
        self, originator: Eui64, device_id: Eui64, srv: str, at: datetime, by: str
    ) -> list[str]:
        """Cancel the originator's future-dated commands of ``srv`` for the device that are
        still waiting (never those sent); their RequestIDs, in due order."""
        ...

    def finish(
        self,
        finished: Sequence[Finished],
        outgoing: Sequence[Outgoing],
        credentials: Sequence[CredentialChange],
        at: datetime,
    ) -> None:
        """Record the commands' ends, queue their responses for delivery and apply the
        credential changes, all at once."""
        ...

    def commands_of(self, request_id: str) -> list[tuple[int, str, str | None, str | None]]:
        """(id, status, response code, outcome) of a request's commands."""
        ...

    def queue_depths(self) -> dict[str, int]:
        """Queued or sent commands per SMSO."""
        ...

    # credentials
    def sealed_credential(self, device_id: Eui64, purpose: str) -> bytes | None: ...

    def store_credential(
        self, device_id: Eui64, purpose: str, sealed: bytes, at: datetime
    ) -> None: ...

    # delivery
    def add_outgoing(self, outgoing: Sequence[Outgoing], at: datetime) -> None: ...

    def pending_recipients(self, now: datetime, limit: int) -> list[Eui64]:
        """Recipients whose oldest pending delivery is due."""
        ...

    def pending_for(self, recipient: Eui64, limit: int) -> list[Delivery]:
        """A recipient's pending deliveries in order (oldest first)."""
        ...

    def delivered(self, delivery_ids: Sequence[int], at: datetime) -> None: ...

    def delivery_failed(
        self, delivery_id: int, error: str, next_attempt_at: datetime, dead: bool
    ) -> None: ...

    def deliveries(
        self, recipient: Eui64 | None, status: str | None, limit: int, reference: str | None
    ) -> list[Delivery]: ...

    def redeliver(self, delivery_ids: Sequence[int], at: datetime) -> int: ...

    # pre-commands
    def add_pre_command(self, record: PreCommandRecord) -> None: ...

    def pre_command(self, request_id: str) -> PreCommandRecord | None: ...

    def use_pre_command(self, request_id: str, used_by: str) -> bool:
        """Mark a pre-command sent; False if it was sent before."""
        ...

    # schedules
    def add_schedule(self, schedule: Schedule, at: datetime) -> int: ...

    def schedules_of(self, owner: Eui64, device_id: Eui64 | None) -> list[Schedule]: ...

    def delete_schedule(self, schedule_id: int, owner: Eui64, at: datetime) -> bool: ...

    def due_schedules(self, now: datetime, limit: int) -> list[Schedule]: ...

    def set_next_run(self, schedule_id: int, next_run_at: datetime | None) -> None: ...

    # counting for the DCO
    def commands_since(self, originator: Eui64, srvs: Sequence[str], since: datetime) -> int: ...


class HeadEndAlerts(Protocol):
    """Where the head ends push device alerts (the emulator's control API, an SMSO's)."""

    async def register_alert_endpoint(self, url: str | None) -> None: ...


class ResponseEndpoint(Protocol):
    """Delivers signed documents to a user's registered endpoint (HTTP POST)."""

    async def post(self, url: str, document: bytes) -> None:
        """Raise ``DeliveryFailed`` naming why when the endpoint does not take it."""
        ...


class DeliveryFailed(Exception):
    """The endpoint did not take a document (unreachable, timeout, HTTP status >= 300);
    ``permanent`` when trying again cannot help (the endpoint refused the document itself)."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class CommandSigner(Protocol):
    """The DCO's key: countersigns approved critical commands; anyone may verify."""

    def countersign(self, digest: bytes) -> bytes: ...

    def verify(self, digest: bytes, signature: bytes) -> bool: ...
