"""The supply (contactor or valve) and the consumer's display.

Rules: the supply is "enabled", "disabled" or "armed" (the consumer closes it on site), and
moves only as ``SUPPLY_TRANSITIONS`` says; a command the table does not allow is REJECTED,
one that leaves the state as it was is answered without an alert. Disabling pushes a
supply outage alert, enabling a disabled or armed supply a supply restored alert.
``display_message`` shows at most ``MAX_MESSAGE`` characters (BAD_REQUEST otherwise).
"""

from __future__ import annotations

from typing import Any

from s1adopt.domain.operations import AlertKind, DeviceOperation
from s1adopt.emulators.world.call import Call, rejected
from s1adopt.emulators.world.params import bad_request

ENABLED, DISABLED, ARMED = "enabled", "disabled", "armed"
MAX_MESSAGE = 160

# (state, command) -> new state; pairs not listed are refused.
SUPPLY_TRANSITIONS: dict[tuple[str, DeviceOperation], str] = {
    (ENABLED, DeviceOperation.ENABLE_SUPPLY): ENABLED,
    (DISABLED, DeviceOperation.ENABLE_SUPPLY): ENABLED,
    (ARMED, DeviceOperation.ENABLE_SUPPLY): ENABLED,
    (ENABLED, DeviceOperation.DISABLE_SUPPLY): DISABLED,
    (DISABLED, DeviceOperation.DISABLE_SUPPLY): DISABLED,
    (ARMED, DeviceOperation.DISABLE_SUPPLY): DISABLED,
    (DISABLED, DeviceOperation.ARM_SUPPLY): ARMED,
    (ARMED, DeviceOperation.ARM_SUPPLY): ARMED,
}
_ALERTS = {DISABLED: AlertKind.SUPPLY_OUTAGE, ENABLED: AlertKind.SUPPLY_RESTORED}


def _move(call: Call, command: DeviceOperation) -> dict[str, Any]:
    state = call.meter_view()
    new = SUPPLY_TRANSITIONS.get((state.supply, command))
    if new is None:
        raise rejected(f"the supply is {state.supply}: {command} is not allowed")
    if new != state.supply:
        call.meter().supply = new
        if new in _ALERTS:
            call.alert(_ALERTS[new], f"by command {command}")
    return {"supply": new}


def enable_supply(call: Call) -> dict[str, Any]:
    """Close the contactor or valve."""
    return _move(call, DeviceOperation.ENABLE_SUPPLY)


def disable_supply(call: Call) -> dict[str, Any]:
    """Open the contactor or valve."""
    return _move(call, DeviceOperation.DISABLE_SUPPLY)


def arm_supply(call: Call) -> dict[str, Any]:
    """Arm the supply for the consumer to close."""
    return _move(call, DeviceOperation.ARM_SUPPLY)


def display_message(call: Call) -> dict[str, Any]:
    """Show a message to the consumer."""
    text = call.params["text"]
    if len(text) > MAX_MESSAGE:
        raise bad_request("text", f"is longer than {MAX_MESSAGE} characters")
    call.device.more().message = text
    return {"displayed": True}
