"""The operator's view of the device service's outbox and commands: what went to which user,
what is waiting or dead, putting documents back in line, and what became of a request.

Rules:
- listings are newest first, filtered by recipient, status (pending, delivered, dead) and
  reference (the RequestID of a response, the ResponseID of an alert), at most ``MAX_LIMIT``;
- a document is found by its outbox id (among the newest ``MAX_LIMIT``), or by its reference
  (the newest with it);
- redelivering puts dead or delivered documents back in line (pending, due now); a pending
  one is left as it is. Delivery keeps each user's order, so a document put back goes before
  the user's newer ones;
- a critical request's commands are recorded under its CV5 RequestID: asked with the CV4
  RequestID, the commands of the CV5 request that used its pre-command are given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from s1adopt.domain.errors import InvalidRequest
from s1adopt.domain.identities import Eui64
from s1adopt.services.duis.device_ports import Delivery, DeliveryStatus
from s1adopt.services.ports import Clock, UnitOfWorkFactory

MAX_LIMIT = 10_000
STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.DELIVERED, DeliveryStatus.DEAD)
_REFERENCE_LIMIT = 80  # the column's width: a longer text names nothing


@dataclass(frozen=True, slots=True)
class CommandView:
    """A device command of a request: where it is and how it ended."""

    id: int
    status: str  # queued | sent | done
    response_code: str | None
    outcome: str | None


@dataclass(frozen=True, slots=True)
class RequestCommands:
    """A request's commands and the documents sent for it."""

    request_id: str  # the RequestID the commands are recorded under
    asked: str  # the RequestID asked about (the CV4's, for a critical request)
    commands: tuple[CommandView, ...]
    deliveries: tuple[Delivery, ...]


def list_deliveries(
    uow_factory: UnitOfWorkFactory,
    *,
    recipient: Eui64 | None = None,
    status: str | None = None,
    reference: str | None = None,
    limit: int = 50,
) -> list[Delivery]:
    """The outbox's documents, newest first, filtered (see the module rules)."""
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status {status[:40]!r} is not one of {', '.join(STATUSES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"a listing holds 1 to {MAX_LIMIT} documents, not {limit}")
    with uow_factory() as uow:
        return uow.devices.deliveries(recipient, status, limit, reference)


def find_delivery(uow_factory: UnitOfWorkFactory, key: str) -> Delivery | None:
    """The document with this outbox id, or the newest with this reference."""
    key = key.strip()
    if not key or len(key) > _REFERENCE_LIMIT:
        return None
    with uow_factory() as uow:
        if not key.isdigit():
            found = uow.devices.deliveries(None, None, 1, key)
            return found[0] if found else None
        wanted = int(key)
        # the port finds documents by filters, not by id: ids grow, so the document is among
        # the newest (newest id - wanted + 1), looked through up to MAX_LIMIT of them
        newest = uow.devices.deliveries(None, None, 1, None)
        if not newest or not 1 <= wanted <= newest[0].id:
            return None
        distance = newest[0].id - wanted + 1
        if distance > MAX_LIMIT:
            raise InvalidRequest(
                f"outbox id {wanted} is older than the newest {MAX_LIMIT:,} documents: find it "
                "by its reference (RequestID or ResponseID) instead"
            )
        window = uow.devices.deliveries(None, None, distance, None)
        return next((d for d in window if d.id == wanted), None)


def redeliver(uow_factory: UnitOfWorkFactory, clock: Clock, delivery_ids: Sequence[int]) -> int:
    """Put dead or delivered documents back in line; how many were (see the module rules)."""
    if not delivery_ids:
        raise InvalidRequest("name at least one outbox id to redeliver")
    with uow_factory() as uow:
        count = uow.devices.redeliver(sorted(set(delivery_ids)), clock.now())
        uow.commit()
    return count


def request_commands(uow_factory: UnitOfWorkFactory, request_id: str) -> RequestCommands:
    """A request's device commands and its documents in the outbox (see the module rules)."""
    asked = request_id.strip()
    if not asked or len(asked) > _REFERENCE_LIMIT:
        raise InvalidRequest(f"{asked[:80]!r} is not a RequestID")
    with uow_factory() as uow:
        recorded = asked
        rows = uow.devices.commands_of(asked)
        if not rows:
            issued = uow.devices.pre_command(asked)
            if issued is not None and issued.used_by is not None:
                recorded = issued.used_by
                rows = uow.devices.commands_of(recorded)
        deliveries = uow.devices.deliveries(None, None, MAX_LIMIT, recorded)
    return RequestCommands(
        recorded,
        asked,
        tuple(CommandView(*row) for row in rows),
        tuple(reversed(deliveries)),
    )
