"""The device service's store on SQLAlchemy Core (``services.duis.device_ports``).

Rules:
- ``device_command`` is the durable queue, one per SMSO: a claim marks due queued commands
  sent in one statement that re-checks their status, so two workers (threads or processes,
  SQLite or PostgreSQL) never take the same command;
- a DCC schedule's run is queued at most once: (schedule, time) is unique, and a run already
  queued is skipped, not an error;
- the outbox keeps every response and alert with its status; a recipient's documents are
  handed out oldest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from s1adopt.adapters.db import tables as t
from s1adopt.adapters.db.repository import aware
from s1adopt.domain.devices import CredentialPurpose, DeviceType
from s1adopt.domain.identities import Eui64
from s1adopt.services.duis.device_ports import (
    Command,
    CommandStatus,
    CredentialChange,
    Delivery,
    DeliveryStatus,
    DeviceContext,
    Finished,
    NewCommand,
    Outgoing,
    PreCommandRecord,
    Schedule,
)

_dc, _ob, _sc, _pc = t.device_command, t.outbox, t.dcc_schedule, t.pre_command
_cred, _d, _i, _sup = t.device_credential, t.device, t.installation, t.supplier_credentials
COUNTER_DIGITS = 20

_CLAIM_IDS = (
    select(_dc.c.id)
    .where(
        _dc.c.smso == bindparam("s"),
        _dc.c.status == CommandStatus.QUEUED,
        _dc.c.due_at <= bindparam("now"),
    )
    .order_by(_dc.c.due_at, _dc.c.id)
    .limit(bindparam("n"))
)
_CLAIM = (
    update(_dc)
    .where(_dc.c.id.in_(_CLAIM_IDS.scalar_subquery()), _dc.c.status == CommandStatus.QUEUED)
    .values(
        status=CommandStatus.SENT,
        claim=bindparam("c"),
        sent_at=bindparam("now"),
        attempts=_dc.c.attempts + 1,
    )
)
_CLAIMED = (
    select(_dc)
    .where(_dc.c.claim == bindparam("c"), _dc.c.status == CommandStatus.SENT)
    .order_by(_dc.c.due_at, _dc.c.id)
)
_FINISH = (
    update(_dc)
    .where(_dc.c.id == bindparam("i"))
    .values(
        status=CommandStatus.DONE,
        finished_at=bindparam("at"),
        response_code=bindparam("code"),
        outcome=bindparam("outcome"),
    )
)


_CONTEXT = (
    select(
        _d.c.device_type,
        _d.c.manufacturer,
        _d.c.model,
        _d.c.installation_id,
        _i.c.smso,
        _i.c.party,
        _sup.c.supplier,
    )
    .join(_i, _i.c.id == _d.c.installation_id)
    .outerjoin(_sup, _sup.c.device_id == _d.c.device_id)
    .where(_d.c.device_id == bindparam("d"))
)
_NEIGHBOURS = select(_d.c.device_id, _d.c.device_type).where(_d.c.installation_id == bindparam("i"))
_SCHEDULE_RUN_QUEUED = select(_dc.c.id).where(
    _dc.c.schedule_id == bindparam("s"), _dc.c.due_at == bindparam("at")
)
_ADD_COMMAND = insert(_dc)


class SqlDeviceServiceRepository:
    """``services.duis.device_ports.DeviceServiceRepository`` on one open connection."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    # the target device

    def device_context(self, device_id: Eui64) -> DeviceContext | None:
        """The device, its SMSO, hub, migration's party, credential holder and neighbours."""
        row = self._c.execute(_CONTEXT, {"d": device_id.value}).one_or_none()
        if row is None:
            return None
        neighbours = self._c.execute(_NEIGHBOURS, {"i": row.installation_id}).all()
        known = {Eui64(n.device_id).hex: n.device_type for n in neighbours}
        hubs = [Eui64(n.device_id) for n in neighbours if n.device_type == DeviceType.CHF.value]
        return DeviceContext(
            device_id,
            row.device_type,
            row.manufacturer,
            row.model,
            Eui64(row.smso),
            hubs[0] if hubs else None,
            Eui64(row.party) if row.party else None,
            Eui64(row.supplier) if row.supplier else None,
            known,
        )

    # the queue

    def add_commands(self, commands: Sequence[NewCommand], at: datetime) -> list[int]:
        """Queue commands (a schedule's run already queued is skipped)."""
        ids: list[int] = []
        for command in commands:
            if (
                command.schedule_id is not None
                and self._c.execute(
                    _SCHEDULE_RUN_QUEUED, {"s": command.schedule_id, "at": command.due_at}
                ).first()
            ):
                continue  # this run is queued already
            result = self._c.execute(_ADD_COMMAND, _command_row(command, at))
            ids.append(int(_key(result)))
        return ids

    def claim(self, smso: Eui64, now: datetime, limit: int, claim: str) -> list[Command]:
        """Take up to ``limit`` due commands of the SMSO's queue (see the module rules)."""
        self._c.execute(_CLAIM, {"s": smso.value, "now": now, "n": limit, "c": claim})
        rows = self._c.execute(_CLAIMED, {"c": claim}).all()
        return self._commands(rows)

    def sent_commands(self) -> list[Command]:
        """Commands left sent by a run that ended without answering them."""
        rows = self._c.execute(
            select(_dc).where(_dc.c.status == CommandStatus.SENT).order_by(_dc.c.id)
        ).all()
        return self._commands(rows)

    def requeue(self, command_ids: Sequence[int]) -> None:
        """Put sent commands back in their queue."""
        if command_ids:
            self._c.execute(
                update(_dc)
                .where(_dc.c.id.in_(list(command_ids)))
                .values(status=CommandStatus.QUEUED, claim=None)
            )

    def cancel_future(
        self, originator: Eui64, device_id: Eui64, srv: str, at: datetime, by: str
    ) -> list[str]:
        """See ``DeviceServiceRepository.cancel_future``."""
        waiting = (
            _dc.c.originator == originator.value,
            _dc.c.device_id == device_id.value,
            _dc.c.srv == srv,
            _dc.c.status == CommandStatus.QUEUED,
            _dc.c.future_dated.is_(True),
        )
        rows = self._c.execute(
            select(_dc.c.id, _dc.c.request_id).where(*waiting).order_by(_dc.c.due_at, _dc.c.id)
        ).all()
        if rows:
            self._c.execute(
                update(_dc)
                .where(_dc.c.id.in_([r.id for r in rows]), *waiting)
                .values(
                    status=CommandStatus.CANCELLED,
                    finished_at=at,
                    outcome=f"cancelled by {by}"[:1000],
                )
            )
        return [r.request_id or "" for r in rows]

    def finish(
        self,
        finished: Sequence[Finished],
        outgoing: Sequence[Outgoing],
        credentials: Sequence[CredentialChange],
        at: datetime,
    ) -> None:
        """Record ends, queue responses and apply credential changes together."""
        if finished:
            self._c.execute(
                _FINISH,
                [
                    {"i": f.command_id, "at": at, "code": f.response_code, "outcome": f.outcome}
                    for f in finished
                ],
            )
        for change in credentials:
            self._credential_change(change, at)
        self.add_outgoing(outgoing, at)

    def commands_of(self, request_id: str) -> list[tuple[int, str, str | None, str | None]]:
        """(id, status, response code, outcome) of a request's commands."""
        rows = self._c.execute(
            select(_dc.c.id, _dc.c.status, _dc.c.response_code, _dc.c.outcome)
            .where(_dc.c.request_id == request_id)
            .order_by(_dc.c.id)
        )
        return [(r.id, r.status, r.response_code, r.outcome) for r in rows]

    def queue_depths(self) -> dict[str, int]:
        """Queued or sent commands per SMSO."""
        rows = self._c.execute(
            select(_dc.c.smso, func.count())
            .where(_dc.c.status != CommandStatus.DONE)
            .group_by(_dc.c.smso)
        )
        return {r[0]: int(r[1]) for r in rows}

    # credentials

    def sealed_credential(self, device_id: Eui64, purpose: str) -> bytes | None:
        """A device's vault-sealed credential of this purpose."""
        row = self._c.execute(
            select(_cred.c.sealed).where(
                _cred.c.device_id == device_id.value, _cred.c.purpose == purpose
            )
        ).one_or_none()
        return None if row is None else bytes(row.sealed)

    def store_credential(self, device_id: Eui64, purpose: str, sealed: bytes, at: datetime) -> None:
        """Store (or replace) a device's sealed credential of this purpose."""
        self._c.execute(
            _cred.delete().where(_cred.c.device_id == device_id.value, _cred.c.purpose == purpose)
        )
        self._c.execute(
            insert(_cred).values(
                device_id=device_id.value, purpose=purpose, sealed=sealed, created_at=at
            )
        )

    def _credential_change(self, change: CredentialChange, at: datetime) -> None:
        device = change.device_id.value
        if change.dcc_sealed is not None:
            self.store_credential(change.device_id, CredentialPurpose.DCC, change.dcc_sealed, at)
            self._c.execute(
                _cred.delete().where(
                    _cred.c.device_id == device,
                    _cred.c.purpose == CredentialPurpose.DCC_PENDING.value,
                )
            )
        if change.new_supplier is not None:
            self._c.execute(_sup.delete().where(_sup.c.device_id == device))
            self._c.execute(
                insert(_sup).values(device_id=device, supplier=change.new_supplier.value, since=at)
            )

    # delivery

    def add_outgoing(self, outgoing: Sequence[Outgoing], at: datetime) -> None:
        """Queue signed documents for delivery, in this order."""
        if not outgoing:
            return
        self._c.execute(
            insert(_ob),
            [
                {
                    "recipient": o.recipient.value,
                    "kind": o.kind,
                    "reference": o.reference,
                    "command_id": o.command_id,
                    "response_code": o.response_code,
                    "document": o.document,
                    "status": DeliveryStatus.PENDING,
                    "attempts": 0,
                    "next_attempt_at": at,
                    "created_at": at,
                }
                for o in outgoing
            ],
        )

    def pending_recipients(self, now: datetime, limit: int) -> list[Eui64]:
        """Recipients whose oldest pending delivery is due."""
        heads = (
            select(func.min(_ob.c.id))
            .where(_ob.c.status == DeliveryStatus.PENDING)
            .group_by(_ob.c.recipient)
            .scalar_subquery()
        )
        rows = self._c.execute(
            select(_ob.c.recipient)
            .where(_ob.c.id.in_(heads), _ob.c.next_attempt_at <= now)
            .order_by(_ob.c.id)
            .limit(limit)
        )
        return [Eui64(r.recipient) for r in rows]

    def pending_for(self, recipient: Eui64, limit: int) -> list[Delivery]:
        """A recipient's pending deliveries, oldest first."""
        rows = self._c.execute(
            select(_ob)
            .where(_ob.c.recipient == recipient.value, _ob.c.status == DeliveryStatus.PENDING)
            .order_by(_ob.c.id)
            .limit(limit)
        )
        return [_delivery(r) for r in rows]

    def delivered(self, delivery_ids: Sequence[int], at: datetime) -> None:
        """Mark documents delivered."""
        if delivery_ids:
            self._c.execute(
                update(_ob)
                .where(_ob.c.id.in_(list(delivery_ids)))
                .values(
                    status=DeliveryStatus.DELIVERED,
                    delivered_at=at,
                    attempts=_ob.c.attempts + 1,
                    last_error=None,
                )
            )

    def delivery_failed(
        self, delivery_id: int, error: str, next_attempt_at: datetime, dead: bool
    ) -> None:
        """Record a failed attempt: try again at ``next_attempt_at``, or give up."""
        self._c.execute(
            update(_ob)
            .where(_ob.c.id == delivery_id)
            .values(
                status=DeliveryStatus.DEAD if dead else DeliveryStatus.PENDING,
                attempts=_ob.c.attempts + 1,
                next_attempt_at=next_attempt_at,
                last_error=error[:1000],
            )
        )

    def deliveries(
        self, recipient: Eui64 | None, status: str | None, limit: int, reference: str | None
    ) -> list[Delivery]:
        """Documents of the outbox, newest first, filtered."""
        query = select(_ob).order_by(_ob.c.id.desc()).limit(limit)
        if recipient is not None:
            query = query.where(_ob.c.recipient == recipient.value)
        if status is not None:
            query = query.where(_ob.c.status == status)
        if reference is not None:
            query = query.where(_ob.c.reference == reference)
        return [_delivery(r) for r in self._c.execute(query)]

    def redeliver(self, delivery_ids: Sequence[int], at: datetime) -> int:
        """Put dead (or delivered) documents back in line; how many were."""
        result = self._c.execute(
            update(_ob)
            .where(_ob.c.id.in_(list(delivery_ids)), _ob.c.status != DeliveryStatus.PENDING)
            .values(status=DeliveryStatus.PENDING, next_attempt_at=at)
        )
        return int(result.rowcount)

    # pre-commands

    def add_pre_command(self, record: PreCommandRecord) -> None:
        """Keep a pre-command the transform service issued."""
        self._c.execute(
            insert(_pc).values(
                request_id=record.request_id,
                originator=record.originator.value,
                device_id=record.device_id.value,
                srv=record.srv,
                request_values=record.values,
                payload=record.payload,
                issued_at=record.issued_at,
            )
        )

    def pre_command(self, request_id: str) -> PreCommandRecord | None:
        """The pre-command issued for a CV4 request."""
        row = self._c.execute(select(_pc).where(_pc.c.request_id == request_id)).one_or_none()
        if row is None:
            return None
        return PreCommandRecord(
            row.request_id,
            Eui64(row.originator),
            Eui64(row.device_id),
            row.srv,
            dict(row.request_values),
            bytes(row.payload),
            aware(row.issued_at),
            row.used_by,
        )

    def use_pre_command(self, request_id: str, used_by: str) -> bool:
        """Mark a pre-command sent; False if it was sent before."""
        result = self._c.execute(
            update(_pc)
            .where(_pc.c.request_id == request_id, _pc.c.used_by.is_(None))
            .values(used_by=used_by)
        )
        return bool(result.rowcount)

    # schedules

    def add_schedule(self, schedule: Schedule, at: datetime) -> int:
        """Keep a new schedule; its DSPScheduleID."""
        result = self._c.execute(
            insert(_sc).values(
                owner=schedule.owner.value,
                device_id=schedule.device_id.value,
                srv=schedule.srv,
                command=schedule.command,
                frequency=schedule.frequency,
                start_date=schedule.start_date,
                end_date=schedule.end_date,
                execution_time=schedule.execution_time,
                period=schedule.period,
                request_id=schedule.request_id,
                created_at=at,
                next_run_at=schedule.next_run_at,
            )
        )
        return int(_key(result))

    def schedules_of(self, owner: Eui64, device_id: Eui64 | None) -> list[Schedule]:
        """A user's schedules that are not deleted (for one device, if given)."""
        query = select(_sc).where(_sc.c.owner == owner.value, _sc.c.deleted_at.is_(None))
        if device_id is not None:
            query = query.where(_sc.c.device_id == device_id.value)
        return [_schedule(r) for r in self._c.execute(query.order_by(_sc.c.id))]

    def delete_schedule(self, schedule_id: int, owner: Eui64, at: datetime) -> bool:
        """Delete a user's schedule; False if it has no such schedule."""
        result = self._c.execute(
            update(_sc)
            .where(_sc.c.id == schedule_id, _sc.c.owner == owner.value, _sc.c.deleted_at.is_(None))
            .values(deleted_at=at, next_run_at=None)
        )
        return bool(result.rowcount)

    def due_schedules(self, now: datetime, limit: int) -> list[Schedule]:
        """Schedules whose next run is due."""
        rows = self._c.execute(
            select(_sc)
            .where(_sc.c.deleted_at.is_(None), _sc.c.next_run_at <= now)
            .order_by(_sc.c.next_run_at, _sc.c.id)
            .limit(limit)
        )
        return [_schedule(r) for r in rows]

    def set_next_run(self, schedule_id: int, next_run_at: datetime | None) -> None:
        """When a schedule runs next (None: never again)."""
        self._c.execute(update(_sc).where(_sc.c.id == schedule_id).values(next_run_at=next_run_at))

    def commands_since(self, originator: Eui64, srvs: Sequence[str], since: datetime) -> int:
        """Commands of these SRVs the user had queued since ``since`` (for the DCO)."""
        row = self._c.execute(
            select(func.count()).where(
                and_(
                    _dc.c.originator == originator.value,
                    _dc.c.srv.in_(list(srvs)),
                    _dc.c.created_at >= since,
                )
            )
        ).one()
        return int(row[0])

    # helpers

    def _commands(self, rows: Sequence[Any]) -> list[Command]:
        if not rows:
            return []
        wanted: set[str] = set()
        for row in rows:
            wanted.add(row.device_id)
            hub = (row.context or {}).get("hub")
            if hub:
                wanted.add(hub)
        sealed: dict[tuple[str, str], bytes] = {}
        for cred in self._c.execute(
            select(_cred.c.device_id, _cred.c.purpose, _cred.c.sealed).where(
                _cred.c.device_id.in_(sorted(wanted)),
                _cred.c.purpose.in_(
                    [CredentialPurpose.DCC.value, CredentialPurpose.DCC_PENDING.value]
                ),
            )
        ):
            sealed[(Eui64(cred.device_id).hex, cred.purpose)] = bytes(cred.sealed)
        commands = []
        for row in rows:
            hexes = {Eui64(row.device_id).hex}
            hub = (row.context or {}).get("hub")
            if hub:
                hexes.add(Eui64(hub).hex)
            commands.append(
                Command(
                    row.id,
                    row.request_id,
                    Eui64(row.originator),
                    Eui64(row.device_id),
                    row.srv,
                    row.command_variant,
                    int(row.counter),
                    dict(row.request_values),
                    dict(row.context),
                    Eui64(row.smso),
                    aware(row.due_at),
                    row.attempts,
                    bool(row.future_dated),
                    row.schedule_id,
                    None if row.dco_signature is None else bytes(row.dco_signature),
                    {k: v for k, v in sealed.items() if k[0] in hexes},
                )
            )
        return commands


def _key(result: Any) -> Any:
    key = result.inserted_primary_key
    assert key is not None
    return key[0]


def _command_row(command: NewCommand, at: datetime) -> dict[str, Any]:
    return {
        "request_id": command.request_id,
        "originator": command.originator.value,
        "device_id": command.device_id.value,
        "srv": command.srv,
        "command_variant": command.command_variant,
        "counter": f"{command.counter:0{COUNTER_DIGITS}d}",
        "request_values": dict(command.values),
        "context": dict(command.context),
        "smso": command.smso.value,
        "status": CommandStatus.QUEUED,
        "due_at": command.due_at,
        "created_at": at,
        "attempts": 0,
        "schedule_id": command.schedule_id,
        "future_dated": command.future_dated,
        "dco_signature": command.dco_signature,
    }


def _delivery(row: Any) -> Delivery:
    return Delivery(
        row.id,
        Eui64(row.recipient),
        row.kind,
        row.reference,
        row.response_code,
        bytes(row.document),
        row.status,
        row.attempts,
        aware(row.created_at),
        None if row.delivered_at is None else aware(row.delivered_at),
        row.last_error,
        row.command_id,
    )


def _schedule(row: Any) -> Schedule:
    return Schedule(
        row.id,
        Eui64(row.owner),
        Eui64(row.device_id),
        row.srv,
        row.command,
        row.frequency,
        row.start_date,
        row.end_date,
        row.execution_time,
        None if row.period is None else dict(row.period),
        row.request_id,
        None if row.next_run_at is None else aware(row.next_run_at),
    )
