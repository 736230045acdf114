"""Firmware: transfer an image, then activate it.

Rules:
- ``update_firmware`` accepts an image only if ``version`` is written in the model's
  firmware format and ``imageHash`` is ``formats.firmware.firmware_image_hash`` of the
  device's manufacturer, model and that version (REJECTED otherwise); it is staged, not run.
- ``activate_firmware`` runs the staged image of ``version`` (REJECTED if no such image was
  transferred): the activation is journalled, identity reads report the new version from then
  on, and a firmware activated alert is pushed. Activating the model's eligible release
  wakes a dormant device: it answers every operation again.
"""

from __future__ import annotations

import sys
from typing import Any

from s1adopt.domain.operations import AlertKind
from s1adopt.emulators.world.call import Call, rejected
from s1adopt.emulators.world.device import WorldDevice
from s1adopt.emulators.world.faults import DeviceFault
from s1adopt.formats.firmware import firmware_image_hash


def update_firmware(call: Call) -> dict[str, Any]:
    """Stage an authentic image of ``version``."""
    version, image = call.params["version"], call.params["imageHash"]
    model = call.device.model
    if model.behaviour.firmware_format.parse(version) is None:
        raise rejected(
            f"{version!r} is not a {model.model} firmware version "
            f"({model.behaviour.firmware_format} format)"
        )
    if image.lower() != firmware_image_hash(model.manufacturer, model.model, version):
        raise rejected(f"the image is not {model.manufacturer} {model.model} firmware {version}")
    call.device.more().staged_firmware = version
    call.device.log_security(call.now, "firmware_transferred", version)
    return {"transferred": version}


def activate_firmware(call: Call) -> dict[str, Any]:
    """Run the staged image of ``version``."""
    version, device = call.params["version"], call.device
    extras = device.more()
    if extras.staged_firmware != version:
        raise rejected(f"no image of firmware {version} was transferred to the device")
    call.headend.journal.firmware(call.device_hex, version)
    activate(device, version)
    extras.staged_firmware = None
    device.log_security(call.now, "firmware_activated", version)
    call.alert(AlertKind.FIRMWARE_ACTIVATED, version)
    return {"firmware": version}


def activate(device: WorldDevice, version: str) -> None:
    """Make ``version`` the device's firmware; the model's eligible release ends dormancy."""
    device.firmware = sys.intern(version)
    if device.fault is DeviceFault.DORMANT and version == device.model.firmware:
        device.set_fault(None)
