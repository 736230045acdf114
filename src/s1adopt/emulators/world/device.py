"""One emulated device in memory, small enough for a million in one process.

Rules:
- A device is one slots object: its model (shared by every device of the model), its
  firmware text (shared by every device running it), credential, fault, meter point and
  counters. Everything commands change beyond that (clock offset, tariff, supply, logs,
  staged firmware, HAN membership) lives in ``DeviceExtras``, created on the first change.
- Event and security logs keep the newest ``LOG_LIMIT`` entries, oldest first in memory,
  newest first when read.
"""

from __future__ import annotations

from s1adopt.emulators.world.faults import DeviceFault
from s1adopt.emulators.world.meter import MeterState
from s1adopt.emulators.world.models import DeviceModel

LOG_LIMIT = 100
COUNTER_NAMES = ("requests", "identity_reads", "credential_replacements", "auth_failures")

LogEntry = tuple[int, str, str]  # (device time, kind, detail)


class DeviceExtras:
    """State a device gets only once something changes it."""

    __slots__ = (
        "clock_offset",
        "events",
        "han_joined",
        "han_left",
        "message",
        "meter",
        "security",
        "staged_firmware",
    )

    def __init__(self) -> None:
        self.clock_offset = 0
        self.meter: MeterState | None = None
        self.events: list[LogEntry] | None = None
        self.security: list[LogEntry] | None = None
        self.staged_firmware: str | None = None
        self.han_joined: set[str] | None = None
        self.han_left: set[str] | None = None
        self.message: str | None = None


class WorldDevice:
    """An emulated device: identity, credential, fault, meter point and counters."""

    __slots__ = (
        "associated",
        "auth_failures",
        "base",
        "credential",
        "credential_replacements",
        "extras",
        "fault",
        "fault_left",
        "firmware",
        "identity_reads",
        "model",
        "mpxn",
        "prepayment",
        "requests",
    )

    def __init__(
        self,
        model: DeviceModel,
        firmware: str | None,
        credential: bytes | None,
        *,
        fault: DeviceFault | None = None,
        fault_left: int = 0,
        mpxn: str | None = None,
        prepayment: bool = False,
        base: int = 0,
        associated: str | None = None,
    ) -> None:
        self.model = model
        self.firmware = firmware
        self.credential = credential
        self.fault = fault
        self.fault_left = fault_left  # requests the fault still affects; 0 = until cleared
        self.mpxn = mpxn
        self.prepayment = prepayment
        self.base = base  # the import register at EPOCH (meters)
        self.associated = associated  # the CHF (or GPF) this device hangs off
        self.requests = 0
        self.identity_reads = 0
        self.credential_replacements = 0
        self.auth_failures = 0
        self.extras: DeviceExtras | None = None

    def more(self) -> DeviceExtras:
        """The device's extras, created on first use."""
        if self.extras is None:
            self.extras = DeviceExtras()
        return self.extras

    def counters(self) -> dict[str, int]:
        """The device's counters by name."""
        return {name: getattr(self, name) for name in COUNTER_NAMES}

    def set_fault(self, fault: DeviceFault | None, count: int = 0) -> None:
        """Give the device ``fault`` for ``count`` requests (0: until cleared), or clear it."""
        self.fault, self.fault_left = fault, count if fault is not None else 0

    def use_fault(self) -> None:
        """One request was affected by the fault: clear it when its count runs out."""
        if self.fault_left:
            self.fault_left -= 1
            if not self.fault_left:
                self.fault = None

    def log_event(self, at: int, kind: str, detail: str = "") -> None:
        """Record an event (tamper, supply outage, ...) in the event log."""
        extras = self.more()
        extras.events = _append(extras.events, (at, kind, detail))

    def log_security(self, at: int, kind: str, detail: str = "") -> None:
        """Record a security event (credential change, failed authentication, ...)."""
        extras = self.more()
        extras.security = _append(extras.security, (at, kind, detail))


def _append(log: list[LogEntry] | None, entry: LogEntry) -> list[LogEntry]:
    if log is None:
        return [entry]
    log.append(entry)
    if len(log) > LOG_LIMIT:
        del log[0]
    return log
