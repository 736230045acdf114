"""Faults an emulated device carries, set in the fleet's device list or at run time.

Rules (how ``EmulatedHeadEnd`` applies them, before authentication, so a faulty device
never changes state):
- ``no_answer``: NO_RESPONSE after the head end's WAN timeout (``no_answer_delay``);
- ``timeout``: no answer at all (``Silence``): the client's own timeout must fire;
- ``slow``: the normal answer, after ``slow_delay``;
- ``garbled``: a reply that does not decode (``Garble``); the operation is not carried out;
- ``han_failure``: HAN_FAILURE; only a GSME or GPF (the gas side, behind the HAN) takes it;
- ``dormant``: NO_RESPONSE (after the WAN timeout) to everything but the firmware
  operations; activating the model's eligible firmware clears it.
- A fault set with a ``count`` affects that many requests, then clears itself;
  ``garbled_once`` is ``garbled`` with a count of 1. Requests a fault lets through (firmware
  operations of a dormant device) do not use up its count.
"""

from __future__ import annotations

from enum import StrEnum

from s1adopt.domain.devices import DeviceType

GAS_SIDE = frozenset({DeviceType.GSME, DeviceType.GPF})
MAX_FAULT_COUNT = 1_000_000


class DeviceFault(StrEnum):
    """A fault of one emulated device."""

    NO_ANSWER = "no_answer"
    TIMEOUT = "timeout"
    SLOW = "slow"
    GARBLED = "garbled"
    HAN_FAILURE = "han_failure"
    DORMANT = "dormant"


GARBLED_ONCE = "garbled_once"  # shorthand: garbled for the first request only


def parse_fault(kind: object, count: object, device_type: DeviceType) -> tuple[DeviceFault, int]:
    """``(fault, count)`` for a fault named ``kind`` set on a device of ``device_type``;
    count 0 means until cleared. ``ValueError`` says what is wrong."""
    if kind == GARBLED_ONCE:
        if count not in (None, 1):
            raise ValueError("garbled_once takes no count (it is garbled with count 1)")
        fault, count = DeviceFault.GARBLED, 1
    else:
        try:
            fault = DeviceFault(str(kind))
        except ValueError:
            known = ", ".join([*(f.value for f in DeviceFault), GARBLED_ONCE])
            raise ValueError(f"unknown fault {kind!r} (known: {known})") from None
    if count is None:
        count = 0
    elif isinstance(count, bool) or not isinstance(count, int):
        raise ValueError("count must be a whole number")
    elif not 1 <= count <= MAX_FAULT_COUNT:
        raise ValueError(f"count must be between 1 and {MAX_FAULT_COUNT}")
    if fault is DeviceFault.HAN_FAILURE and device_type not in GAS_SIDE:
        raise ValueError(f"han_failure applies to a GSME or GPF, not to a {device_type}")
    return fault, count
