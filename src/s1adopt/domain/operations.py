"""Device operations the S1SP can ask of a SMETS1 device through its SMSO's head end.

One catalogue drives the emulated devices, every head-end protocol and every adapter: an
operation has a name, the device types it applies to, its parameters (name -> kind) and
whether it changes the device. A parameter's kind is one of ``PARAM_KINDS``: "int", "str",
"time", "bool", "list[int]", "list[str]" or "object" (a string-keyed object whose values the
operation itself checks, e.g. the settings of ``write_settings``, see
``domain.device_settings``). Values on every protocol are JSON-like: ``int``, ``str``,
``bool``, ``None``, lists and string-keyed objects of them. Times are ISO 8601 UTC strings
(``2026-11-28T09:30:00Z``); energy is in Wh (electricity) or litres (gas volume); money in
pence.

Alerts: a device pushes alerts of the ``AlertKind`` kinds; each kind is the GBCS alert code
``GBCS_ALERT_CODES`` gives (4 upper-case hex digits, GBCS "Alert Code" table), the code a
meter's ``alertBehaviours`` setting enables or disables.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from s1adopt.domain.devices import DeviceType

Value = Any  # int | str | bool | None | list[Value] | dict[str, Value]
Params = dict[str, Value]

_METERS = frozenset({DeviceType.ESME, DeviceType.GSME})
_WAN = frozenset(
    {
        DeviceType.CHF,
        DeviceType.ESME,
        DeviceType.GSME,
        DeviceType.GPF,
        DeviceType.PPMID,
        DeviceType.HCALCS,
    }
)


class DeviceOperation(StrEnum):
    """The device operations, named as on every wire."""

    READ_IDENTITY = "read_identity"
    READ_CONFIGURATION = "read_configuration"
    REPLACE_CREDENTIAL = "replace_credential"
    SYNCHRONISE_CLOCK = "synchronise_clock"
    READ_INSTANTANEOUS = "read_instantaneous"
    READ_PROFILE = "read_profile"
    READ_DAILY_LOG = "read_daily_log"
    READ_EVENT_LOG = "read_event_log"
    READ_SECURITY_LOG = "read_security_log"
    UPDATE_TARIFF = "update_tariff"
    UPDATE_PRICE = "update_price"
    TOP_UP = "top_up"
    READ_BALANCE = "read_balance"
    ADJUST_DEBT = "adjust_debt"
    ACTIVATE_EMERGENCY_CREDIT = "activate_emergency_credit"
    ENABLE_SUPPLY = "enable_supply"
    DISABLE_SUPPLY = "disable_supply"
    ARM_SUPPLY = "arm_supply"
    DISPLAY_MESSAGE = "display_message"
    UPDATE_FIRMWARE = "update_firmware"
    ACTIVATE_FIRMWARE = "activate_firmware"
    JOIN_DEVICE = "join_device"
    UNJOIN_DEVICE = "unjoin_device"
    READ_SETTINGS = "read_settings"
    WRITE_SETTINGS = "write_settings"
    CLEAR_EVENT_LOG = "clear_event_log"
    READ_HAN_LOG = "read_han_log"


PARAM_KINDS = frozenset({"int", "str", "time", "bool", "list[int]", "list[str]", "object"})


@dataclass(frozen=True, slots=True)
class OperationSpec:
    """What an operation takes, where it applies and what it does."""

    operation: DeviceOperation
    applies_to: frozenset[DeviceType]
    params: dict[str, str]  # name -> kind, one of PARAM_KINDS
    changes_device: bool
    summary: str


def _spec(
    op: DeviceOperation,
    applies_to: frozenset[DeviceType],
    params: dict[str, str],
    changes: bool,
    summary: str,
) -> OperationSpec:
    return OperationSpec(op, applies_to, params, changes, summary)


D = DeviceOperation
_CONFIGURABLE = _METERS | frozenset({DeviceType.CHF, DeviceType.GPF})
_HUBS = frozenset({DeviceType.CHF, DeviceType.GPF})
CATALOGUE: dict[DeviceOperation, OperationSpec] = {
    s.operation: s
    for s in (
        _spec(
            D.READ_IDENTITY,
            _WAN,
            {},
            False,
            "device type, manufacturer, model and firmware version",
        ),
        _spec(
            D.READ_CONFIGURATION,
            _METERS,
            {},
            False,
            "meter point, payment mode (credit/prepayment), tariff and supply state",
        ),
        _spec(
            D.REPLACE_CREDENTIAL,
            _WAN,
            {"sealNonce": "str", "sealed": "str"},
            True,
            "install a new credential, sealed under the current one",
        ),
        _spec(
            D.SYNCHRONISE_CLOCK,
            _WAN,
            {"time": "time"},
            True,
            "set the device clock; answers the offset it had",
        ),
        _spec(
            D.READ_INSTANTANEOUS,
            _METERS,
            {},
            False,
            "total and time-of-use import registers and instantaneous demand",
        ),
        _spec(
            D.READ_PROFILE,
            _METERS,
            {"from": "time", "to": "time"},
            False,
            "half-hourly consumption intervals in [from, to), at most 31 days",
        ),
        _spec(
            D.READ_DAILY_LOG,
            _METERS,
            {"from": "time", "to": "time"},
            False,
            "the total import register at each midnight (UTC) in [from, to]",
        ),
        _spec(
            D.READ_EVENT_LOG,
            _WAN,
            {"limit": "int"},
            False,
            "the newest events (tamper, supply outage, low credit, ...), newest first",
        ),
        _spec(
            D.READ_SECURITY_LOG,
            _WAN,
            {"limit": "int"},
            False,
            "the newest security events (credential changes, failed authentication, ...)",
        ),
        _spec(
            D.UPDATE_TARIFF,
            _METERS,
            {"bands": "list[int]", "prices": "list[int]"},
            True,
            "time-of-use tariff: a band per half-hour of the day (48) and a price per band",
        ),
        _spec(
            D.UPDATE_PRICE,
            _METERS,
            {"standingCharge": "int", "prices": "list[int]"},
            True,
            "new prices (pence per kWh x100) and standing charge without changing the bands",
        ),
        _spec(
            D.TOP_UP,
            _METERS,
            {"amount": "int", "utrn": "str"},
            True,
            "add prepayment credit (pence); a UTRN is accepted once",
        ),
        _spec(
            D.READ_BALANCE,
            _METERS,
            {},
            False,
            "meter balance, debt, emergency credit available and in use",
        ),
        _spec(
            D.ADJUST_DEBT,
            _METERS,
            {"amount": "int"},
            True,
            "add (positive) or clear (negative) debt, pence",
        ),
        _spec(D.ACTIVATE_EMERGENCY_CREDIT, _METERS, {}, True, "start using emergency credit"),
        _spec(D.ENABLE_SUPPLY, _METERS, {}, True, "close the supply valve or contactor"),
        _spec(D.DISABLE_SUPPLY, _METERS, {}, True, "open the supply valve or contactor"),
        _spec(D.ARM_SUPPLY, _METERS, {}, True, "arm the supply: the consumer closes it on site"),
        _spec(
            D.DISPLAY_MESSAGE,
            _METERS | frozenset({DeviceType.PPMID}),
            {"text": "str"},
            True,
            "show a message to the consumer (at most 160 characters)",
        ),
        _spec(
            D.UPDATE_FIRMWARE,
            _WAN,
            {"version": "str", "imageHash": "str"},
            True,
            "transfer a firmware image (by its SHA-256) for later activation",
        ),
        _spec(
            D.ACTIVATE_FIRMWARE,
            _WAN,
            {"version": "str"},
            True,
            "activate a transferred firmware image",
        ),
        _spec(
            D.JOIN_DEVICE,
            frozenset({DeviceType.CHF}),
            {"device": "str", "deviceType": "str"},
            True,
            "join an IHD or PPMID to the communications hub's HAN",
        ),
        _spec(
            D.UNJOIN_DEVICE,
            frozenset({DeviceType.CHF}),
            {"device": "str"},
            True,
            "remove a device from the HAN",
        ),
        _spec(
            D.READ_SETTINGS,
            _CONFIGURABLE,
            {"names": "list[str]"},
            False,
            "the values of the settings named ({'settings': {name: value}})",
        ),
        _spec(
            D.WRITE_SETTINGS,
            _CONFIGURABLE,
            {"settings": "object"},
            True,
            "write settings, all or none; answers the values they had ({'previous': {...}})",
        ),
        _spec(
            D.CLEAR_EVENT_LOG,
            _METERS,
            {},
            True,
            "empty the event log ({'cleared': entries removed}); logged as a security event",
        ),
        _spec(
            D.READ_HAN_LOG,
            _HUBS,
            {},
            False,
            "the devices on the hub's (or gas proxy's) HAN, with their types, by device ID",
        ),
    )
}

assert all(k in PARAM_KINDS for s in CATALOGUE.values() for k in s.params.values())


class AlertKind(StrEnum):
    """Alerts a device pushes through its head end to the registered endpoint."""

    TAMPER = "tamper"
    SUPPLY_OUTAGE = "supply_outage"
    SUPPLY_RESTORED = "supply_restored"
    LOW_CREDIT = "low_credit"
    FIRMWARE_ACTIVATED = "firmware_activated"


# The GBCS alert code of each alert kind (GBCS "Alert Code" table).
GBCS_ALERT_CODES: dict[AlertKind, str] = {
    AlertKind.TAMPER: "8F3F",  # Unauthorised Physical Access - Tamper Detect
    AlertKind.SUPPLY_OUTAGE: "8F57",  # Supply interrupted
    AlertKind.SUPPLY_RESTORED: "8F35",  # Supply Outage Restored
    AlertKind.LOW_CREDIT: "810D",  # Combined Credit Below Low Credit Threshold
    AlertKind.FIRMWARE_ACTIVATED: "8F43",  # Change in the executing Firmware version
}
