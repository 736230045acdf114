"""The non-device requests the gateway answers itself, synchronously (command variant 8).

Rules:
- Read Inventory (8.2) lists the devices of the installation holding the named device or
  meter point (at most 17, as DUIS allows), SMETS1 devices with their S1SP and the ``SMETS1``
  CSP region; a pre-notified device alone; by UPRN or property filter nothing (the inventory
  holds no addresses for SMETS1 installations): success with no devices;
- Decommission Device (8.3): the device becomes Decommissioned where the SMI allows it (E5
  otherwise), recorded in its history;
- Update Inventory (8.4): a status change the SMI allows (E5 otherwise), new details, a
  deletion (a device still Pending becomes Withdrawn; E5 otherwise) or a new MPxN (refused
  with E11: a SMETS1 meter's meter point comes from its migration data);
- Device Pre-notification (12.2): a device not yet in the inventory is added, Pending (E11 if
  it is already there);
- DCC schedules (5.1 Create, 5.2 Read, 5.3 Delete): ``services.duis.schedules``;
- Update Firmware (11.1): ``services.duis.firmware``;
- other non-device requests are refused: E1011 where the service will serve them (PPMID
  firmware 11.4), E11 where they do not apply to SMETS1
  installations (communications hub status updates, service opt in, local command responses,
  the WAN matrix).
"""

from __future__ import annotations

from collections.abc import Callable

from s1adopt.domain.devices import SMI_TRANSITIONS, SmiStatus
from s1adopt.domain.duis import InventoryUpdateKind, ResponseCode
from s1adopt.domain.identities import Eui64
from s1adopt.domain.srv import ServiceRequestVariant
from s1adopt.formats.duis.requests import (
    MalformedRequest,
    RequestHeader,
    read_device_target,
    read_inventory_query,
    read_inventory_update,
    read_pre_notification,
)
from s1adopt.formats.duis.responses import inventory
from s1adopt.services.duis.firmware import update_firmware
from s1adopt.services.duis.handling import NonDeviceContext, Result, body_of
from s1adopt.services.duis.schedules import create_schedule, delete_schedule, read_schedules


def answer_non_device(
    context: NonDeviceContext, srv: ServiceRequestVariant, header: RequestHeader
) -> Result:
    """Answer a non-device request (see the module rules)."""
    handler = _HANDLERS.get(srv.variant)
    if handler is None:
        code = (
            ResponseCode.NOT_SERVED_YET
            if srv.variant in _LATER
            else ResponseCode.INVALID_FOR_DEVICE
        )
        why = (
            "this release does not serve it yet"
            if code is ResponseCode.NOT_SERVED_YET
            else "it does not apply to SMETS1 installations"
        )
        return code, None, f"SRV {srv.variant} ({srv.name}): {why}"
    try:
        return handler(context, header)
    except MalformedRequest as exc:
        return exc.code, None, str(exc)


def _read_inventory(context: NonDeviceContext, header: RequestHeader) -> Result:
    query = read_inventory_query(body_of(header))
    duis = context.uow.duis
    if query.device_id is not None:
        devices = duis.inventory_of_device(query.device_id)
        what = f"device {query.device_id}"
    elif query.mpxn is not None:
        devices = duis.inventory_of_meter_point(query.mpxn)
        what = f"meter point {query.mpxn}"
    else:
        devices, what = [], "an address (not held for SMETS1 installations)"
    if not devices:
        return ResponseCode.SUCCESS, None, f"no device found for {what}"
    return ResponseCode.SUCCESS, inventory(devices), f"{len(devices)} devices for {what}"


def _decommission(context: NonDeviceContext, header: RequestHeader) -> Result:
    device_id = read_device_target(body_of(header)).device_id
    return _move(context, device_id, SmiStatus.DECOMMISSIONED, "decommissioned by")


def _move(context: NonDeviceContext, device_id: Eui64, status: SmiStatus, why: str) -> Result:
    device = context.uow.duis.device(device_id)
    if device is None:
        return ResponseCode.UNKNOWN_DEVICE, None, f"device {device_id} is not in the inventory"
    current = SmiStatus(device.smi_status)
    if status not in SMI_TRANSITIONS[current]:
        return (
            ResponseCode.DEVICE_STATUS,
            None,
            f"device {device_id} is {current}; the SMI does not let it become {status}",
        )
    context.uow.duis.set_device_status(
        device_id, status.value, context.at, f"{why} {context.user.eui} (DUIS)"
    )
    return ResponseCode.SUCCESS, None, f"device {device_id} is now {status}"


def _update_inventory(context: NonDeviceContext, header: RequestHeader) -> Result:
    update = read_inventory_update(body_of(header))
    if update.kind is InventoryUpdateKind.STATUS:
        assert update.status is not None
        return _move(context, update.device_id, SmiStatus(update.status), "status set by")
    if update.kind is InventoryUpdateKind.DELETE:
        device = context.uow.duis.device(update.device_id)
        if device is not None and device.smi_status != SmiStatus.PENDING.value:
            return (
                ResponseCode.DEVICE_STATUS,
                None,
                f"device {update.device_id} is {device.smi_status}: only a Pending device "
                "can be deleted",
            )
        return _move(context, update.device_id, SmiStatus.WITHDRAWN, "deleted by")
    if update.kind is InventoryUpdateKind.MPXN:
        return (
            ResponseCode.INVALID_FOR_DEVICE,
            None,
            "a SMETS1 meter's meter point comes from its migration data and cannot be updated",
        )
    if context.uow.duis.device(update.device_id) is None:
        return ResponseCode.UNKNOWN_DEVICE, None, f"device {update.device_id} is not known"
    fields = {
        name: value
        for name, value in (
            ("manufacturer", update.manufacturer),
            ("model", update.model),
            ("firmware_version", update.firmware_version),
        )
        if value
    }
    context.uow.duis.update_device_details(update.device_id, fields, context.at)
    return ResponseCode.SUCCESS, None, f"device {update.device_id} details updated"


def _pre_notify(context: NonDeviceContext, header: RequestHeader) -> Result:
    notice = read_pre_notification(body_of(header))
    if context.uow.duis.device(notice.device_id) is not None:
        return (
            ResponseCode.INVALID_FOR_DEVICE,
            None,
            f"device {notice.device_id} is already in the inventory",
        )
    context.uow.duis.prenotify(notice, context.user.eui, context.at)
    return ResponseCode.SUCCESS, None, f"device {notice.device_id} added, Pending"


_HANDLERS: dict[str, Callable[[NonDeviceContext, RequestHeader], Result]] = {
    "8.2": _read_inventory,
    "8.3": _decommission,
    "8.4": _update_inventory,
    "12.2": _pre_notify,
    "5.1": create_schedule,
    "5.2": read_schedules,
    "5.3": delete_schedule,
    "11.1": update_firmware,
}
_LATER = frozenset({"11.4"})
