"""Operations every WAN device answers: identity, configuration, credential, clock, logs.

Rules:
- ``read_identity`` answers the firmware the device runs now (after an activation, the new
  one), in the model's own version format.
- ``replace_credential``: the new credential must open with the current one and be at least
  ``MIN_CREDENTIAL_BYTES`` long (else BAD_REQUEST); it is journalled before it takes effect,
  and from then on it is the only one the device accepts.
- ``synchronise_clock`` sets the device clock to the given time and answers the offset the
  device had from it, in seconds (``offset``; positive: the device was ahead).
- Logs: ``limit`` is 1 to ``LOG_LIMIT``; entries come newest first. ``clear_event_log``
  empties the event log, answers how many entries it removed (``cleared``) and records
  ``event_log_cleared`` in the security log.
"""

from __future__ import annotations

from typing import Any

from s1adopt.domain.errors import CredentialError
from s1adopt.domain.secrets import Secret
from s1adopt.emulators.world.call import Call
from s1adopt.emulators.world.clock import time_text
from s1adopt.emulators.world.device import LOG_LIMIT, LogEntry
from s1adopt.emulators.world.params import bad_request
from s1adopt.formats.device_auth import open_new_credential

MIN_CREDENTIAL_BYTES = 16


def read_identity(call: Call) -> dict[str, Any]:
    """Type, manufacturer, model and firmware the device reports."""
    device, model = call.device, call.device.model
    device.identity_reads += 1
    call.headend.totals.identity_reads += 1
    return {
        "deviceId": call.device_hex,
        "deviceType": model.device_type.value,
        "manufacturer": model.manufacturer,
        "model": model.model,
        "firmware": device.firmware,
    }


def read_configuration(call: Call) -> dict[str, Any]:
    """Meter point, payment mode, tariff and supply state of a meter."""
    state = call.meter_view()
    tariff = state.tariff
    return {
        "mpxn": call.device.mpxn,
        "paymentMode": "prepayment" if call.device.prepayment else "credit",
        "tariff": {
            "bands": list(tariff.bands),
            "prices": list(tariff.prices),
            "standingCharge": tariff.standing_charge,
        },
        "supply": state.supply,
    }


def replace_credential(call: Call) -> dict[str, Any]:
    """Install the sealed new credential (journalled first)."""
    device = call.device
    assert device.credential is not None  # authenticated with it
    try:
        new = open_new_credential(Secret(device.credential), call.device_hex, call.params)
    except CredentialError:
        raise bad_request("sealed", "cannot be opened with the current credential") from None
    if len(new.reveal()) < MIN_CREDENTIAL_BYTES:
        raise bad_request("sealed", f"must hold at least {MIN_CREDENTIAL_BYTES} bytes")
    call.headend.journal.credential(call.device_hex, new.reveal())
    device.credential = new.reveal()
    device.credential_replacements += 1
    call.headend.totals.credential_replacements += 1
    device.log_security(call.now, "credential_replaced")
    return {"replaced": True}


def synchronise_clock(call: Call) -> dict[str, Any]:
    """Set the device clock; answer the offset it had."""
    target = call.params["time"]
    extras = call.device.more()
    error = call.now - target
    extras.clock_offset -= error
    call.device.log_security(target, "clock_synchronised", f"was {error}s off")
    return {"offset": error, "time": time_text(target)}


def read_event_log(call: Call) -> dict[str, Any]:
    """The newest events, newest first."""
    extras = call.device.extras
    return {"events": _newest(call, None if extras is None else extras.events)}


def read_security_log(call: Call) -> dict[str, Any]:
    """The newest security events, newest first."""
    extras = call.device.extras
    return {"events": _newest(call, None if extras is None else extras.security)}


def clear_event_log(call: Call) -> dict[str, Any]:
    """Empty the event log; record that in the security log."""
    extras = call.device.extras
    cleared = 0 if extras is None or extras.events is None else len(extras.events)
    if extras is not None:
        extras.events = None
    call.device.log_security(call.now, "event_log_cleared", f"{cleared} entries")
    return {"cleared": cleared}


def _newest(call: Call, log: list[LogEntry] | None) -> list[dict[str, Any]]:
    limit = call.params["limit"]
    if not 1 <= limit <= LOG_LIMIT:
        raise bad_request("limit", f"must be between 1 and {LOG_LIMIT}")
    entries = [] if log is None else log[::-1][:limit]
    return [{"time": time_text(at), "kind": kind, "detail": detail} for at, kind, detail in entries]
