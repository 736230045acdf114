"""11.1 Update Firmware for SMETS1 devices: the image distributed to the devices it names.

Rules:
- the image must be one the service can identify (its header names the manufacturer, model
  and version: E11 otherwise); every device listed must be in the inventory (E19),
  Commissioned (E5), of the image's manufacturer and model (E11), and the user must be its
  responsible supplier today (E4): one device failing refuses the whole request, so that a
  fleet is never half updated by mistake;
- the request is answered now (I0); one transfer per device is queued on its head end
  (``update_firmware`` with the image's SHA-256) and each outcome reaches the user as an
  S1SP alert (``S1SP_FIRMWARE_TRANSFERRED`` or ``S1SP_FIRMWARE_TRANSFER_FAILED``); 11.3
  Activate Firmware with the image's hash then runs it.
"""

from __future__ import annotations

from s1adopt.domain.access import is_right_party, status_allows_device_request
from s1adopt.domain.duis import RequestId, ResponseCode
from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.meter_points import MeterPointKind
from s1adopt.domain.parties import Role
from s1adopt.formats.duis.firmware_requests import read_update_firmware
from s1adopt.formats.duis.requests import RequestHeader
from s1adopt.formats.firmware import identify_image, image_hash
from s1adopt.services.duis.device_ports import NewCommand
from s1adopt.services.duis.device_requests import command_context
from s1adopt.services.duis.handling import NonDeviceContext, Result, body_of

UPDATE_FIRMWARE = "11.1"
SUPPLIER_ROLES = frozenset({Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER})


def update_firmware(context: NonDeviceContext, header: RequestHeader) -> Result:
    """11.1: check the image and every device, then queue one transfer per device."""
    update = read_update_firmware(body_of(header))
    named = identify_image(update.image)
    if named is None:
        return (
            ResponseCode.INVALID_FOR_DEVICE,
            None,
            "the image is not a SMETS1 firmware image the service can identify (its header "
            "must name the manufacturer, model and version)",
        )
    manufacturer, model, version = named
    try:
        request_id = RequestId.parse(header.request_id or "")
    except InvalidIdentity as exc:
        return ResponseCode.SCHEMA_INVALID, None, str(exc)
    uow, user = context.uow, context.user
    roles = user.roles & SUPPLIER_ROLES
    digest = image_hash(update.image)
    commands: list[NewCommand] = []
    for device in update.devices:
        record = uow.duis.device(device)
        found = uow.devices.device_context(device)
        if record is None or found is None or found.smso is None:
            return ResponseCode.UNKNOWN_DEVICE, None, f"device {device} is not a migrated device"
        if not status_allows_device_request(record.smi_status):
            return ResponseCode.DEVICE_STATUS, None, f"device {device} is {record.smi_status}"
        if (found.manufacturer, found.model) != (manufacturer, model):
            return (
                ResponseCode.INVALID_FOR_DEVICE,
                None,
                f"device {device} is a {found.manufacturer} {found.model}, the image is for "
                f"{manufacturer} {model}",
            )
        points = {
            kind: mpxn
            for kind, mpxn in (
                (MeterPointKind.MPAN, record.mpan),
                (MeterPointKind.MPRN, record.mprn),
            )
            if mpxn
        }
        registered = uow.programme.in_force(list(points.values()), context.at.date())
        by_kind = {kind: registered[m] for kind, m in points.items() if m in registered}
        if not is_right_party(user.eui, roles, record.device_type, by_kind):
            return (
                ResponseCode.NOT_RESPONSIBLE,
                None,
                f"{user.eui} is not, today, the supplier responsible for device {device}",
            )
        commands.append(
            NewCommand(
                str(request_id),
                user.eui,
                device,
                UPDATE_FIRMWARE,
                8,
                request_id.counter,
                {"version": version, "imageHash": digest},
                command_context(found, found.known_devices),
                found.smso,
                context.at,
            )
        )
    uow.devices.add_commands(commands, context.at)
    return (
        ResponseCode.SUCCESS,
        None,
        f"{manufacturer} {model} firmware {version} queued for {len(commands)} device(s); each "
        "transfer is reported by an S1SP alert; activate it with 11.3 and the image's hash",
    )
