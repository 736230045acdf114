"""DCC schedules: 5.1 Create, 5.2 Read and 5.3 Delete Schedule, and the scheduler that runs
them.

Rules:
- a schedule is made for a device the user may read today (the gateway's access control on
  the request's DeviceID), for an SRV DCC may schedule that has SMETS1 Equivalent Steps and
  suits the device (E11 otherwise) and that one of the user's roles is eligible for (E2);
  its DSPScheduleID is the answer (I0);
- users see and delete only their own schedules (a schedule of another user is as unknown
  as one that never existed: E11 for 5.3);
- the scheduler queues each run as a device command for the run's time, with the period it
  reads computed from that time, and moves the schedule to its next run in the same
  transaction: a run is queued once, whatever crashes; runs missed while the service was
  stopped are queued when it starts again, each once; each result goes to the schedule's
  owner with its DSPScheduleID.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

from lxml import etree

from s1adopt.domain.device_models import model_for
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.duis import DUIS_NAMESPACE, ResponseCode
from s1adopt.domain.equivalent_steps import steps_for as equivalent_steps
from s1adopt.domain.equivalent_steps import time_text
from s1adopt.domain.schedules import LogPeriod, next_run
from s1adopt.domain.srv import lookup
from s1adopt.formats.duis.requests import RequestHeader, read_schedule_query
from s1adopt.formats.duis.responses import LogPeriodOffset, ScheduleEntry, schedules
from s1adopt.formats.duis.schedule_requests import read_create_schedule, read_delete_schedule
from s1adopt.services.duis.device_ports import NewCommand, Schedule
from s1adopt.services.duis.device_requests import command_context
from s1adopt.services.duis.handling import NonDeviceContext, Result, body_of
from s1adopt.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

_SR = "{" + DUIS_NAMESPACE + "}"
MIDNIGHT = time(0, 0)


def create_schedule(context: NonDeviceContext, header: RequestHeader) -> Result:
    """5.1: keep the schedule; answer its DSPScheduleID."""
    asked = read_create_schedule(body_of(header))
    srv = lookup(asked.srv)
    row = equivalent_steps(asked.srv)
    if srv is None or not srv.dcc_scheduled or row is None:
        return ResponseCode.INVALID_FOR_DEVICE, None, f"SRV {asked.srv} cannot be scheduled"
    if not context.user.roles & srv.eligible_roles:
        return (
            ResponseCode.ROLE_NOT_ELIGIBLE,
            None,
            f"no role of {context.user.eui} is eligible for the scheduled SRV {asked.srv}",
        )
    device = context.uow.devices.device_context(asked.device_id)
    if device is None or device.smso is None:
        return (
            ResponseCode.INVALID_FOR_DEVICE,
            None,
            f"device {asked.device_id} is not a migrated SMETS1 device",
        )
    model = model_for(device.device_type, device.manufacturer, device.model)
    why = row.refusal(DeviceType(device.device_type), model)
    if why is not None:
        return ResponseCode.INVALID_FOR_DEVICE, None, why
    at = asked.execution_time or MIDNIGHT
    first = next_run(asked.frequency, asked.start_date, at, asked.end_date, None)
    if first is not None and first < context.at:
        first = next_run(asked.frequency, asked.start_date, at, asked.end_date, context.at)
    if first is None:
        return ResponseCode.INVALID_FOR_DEVICE, None, "the schedule has no run left"
    schedule_id = context.uow.devices.add_schedule(
        Schedule(
            0,
            context.user.eui,
            asked.device_id,
            asked.srv,
            asked.command,
            asked.frequency,
            asked.start_date,
            asked.end_date,
            at.isoformat(),
            None if asked.period is None else asked.period.as_dict(),
            header.request_id or "",
            first,
        ),
        context.at,
    )
    element = etree.Element(_SR + "DSPScheduleID", nsmap={"sr": DUIS_NAMESPACE})
    element.text = str(schedule_id)
    return (
        ResponseCode.SUCCESS,
        element,
        f"schedule {schedule_id}: SRV {asked.srv} on {asked.device_id}, "
        f"{asked.frequency.lower()} from {first.isoformat()}",
    )


def read_schedules(context: NonDeviceContext, header: RequestHeader) -> Result:
    """5.2: the user's schedules, by id or by device."""
    query = read_schedule_query(body_of(header))
    mine = context.uow.devices.schedules_of(context.user.eui, query.device_id)
    if query.schedule_id is not None:
        mine = [s for s in mine if s.id == query.schedule_id]
    if not mine:
        return ResponseCode.SUCCESS, None, "no schedules"
    entries = [_entry(s) for s in mine[:99]]
    return ResponseCode.SUCCESS, schedules(entries), f"{len(entries)} schedule(s)"


def delete_schedule(context: NonDeviceContext, header: RequestHeader) -> Result:
    """5.3: delete one of the user's schedules, or all of them for a device."""
    schedule_id, device = read_delete_schedule(body_of(header))
    mine = context.uow.devices.schedules_of(context.user.eui, device)
    chosen = [s for s in mine if schedule_id is None or s.id == schedule_id]
    if not chosen:
        what = f"schedule {schedule_id}" if schedule_id is not None else f"schedule for {device}"
        return ResponseCode.INVALID_FOR_DEVICE, None, f"{context.user.eui} has no {what}"
    for schedule in chosen:
        context.uow.devices.delete_schedule(schedule.id, context.user.eui, context.at)
    return (
        ResponseCode.SUCCESS,
        None,
        f"deleted schedule(s) {', '.join(str(s.id) for s in chosen)}",
    )


def _entry(schedule: Schedule) -> ScheduleEntry:
    period = None
    if schedule.period is not None:
        p = LogPeriod.from_dict(schedule.period)
        period = LogPeriodOffset(p.start_offset_days, p.start_time, p.end_offset_days, p.end_time)
    return ScheduleEntry(
        schedule.id,
        schedule.device_id,
        schedule.srv,
        schedule.command,
        schedule.frequency,
        schedule.start_date,
        schedule.end_date,
        time.fromisoformat(schedule.execution_time),
        period,
    )


@dataclass
class Scheduler:
    """Queues the runs of due schedules (see the module rules)."""

    uow_factory: UnitOfWorkFactory
    clock: Clock
    batch: int = 500

    def tick(self) -> int:
        """Queue every due run (one transaction per batch); how many were queued."""
        queued = 0
        while True:
            now = self.clock.now()
            with self.uow_factory() as uow:
                due = uow.devices.due_schedules(now, self.batch)
                for schedule in due:
                    queued += self._queue(uow, schedule, now)
                uow.commit()
            if len(due) < self.batch:
                return queued

    @staticmethod
    def _queue(uow: UnitOfWork, schedule: Schedule, now: datetime) -> int:
        run = schedule.next_run_at
        assert run is not None
        after = next_run(
            schedule.frequency,
            schedule.start_date,
            time.fromisoformat(schedule.execution_time),
            schedule.end_date,
            run,
        )
        device = uow.devices.device_context(schedule.device_id)
        uow.devices.set_next_run(schedule.id, after)
        if device is None or device.smso is None:
            return 0
        values: dict[str, str] = {}
        if schedule.period is not None:
            start, end = LogPeriod.from_dict(schedule.period).around(run)
            values = {"from": time_text(start), "to": time_text(end)}
        added = uow.devices.add_commands(
            [
                NewCommand(
                    None,
                    schedule.owner,
                    schedule.device_id,
                    schedule.srv,
                    1,
                    int(run.astimezone(UTC).timestamp()),
                    values,
                    command_context(device, device.known_devices),
                    device.smso,
                    run,
                    schedule_id=schedule.id,
                )
            ],
            now,
        )
        return len(added)
