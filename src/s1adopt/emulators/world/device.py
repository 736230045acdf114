"""One emulated device in memory, small enough for a million in one process.

Rules:
- A device is one slots object: its model (shared by every device of the model), its
  firmware text (shared by every device running it), credential, fault, meter point and
  counters. Everything commands change beyond that (clock offset, tariff, supply, logs,
  staged firmware, HAN membership, settings) lives in ``DeviceExtras``, created on the first
  change.
- Settings (``domain.device_settings``) are held only once written; until then a device
  holds the registry's default. ``paymentMode`` is the device's ``prepayment`` flag and
  ``importMpxn`` its ``mpxn``: the state ``read_configuration`` reports.
- Alerts: a meter whose ``alertBehaviours`` disable an alert kind's GBCS code
  (``domain.operations.GBCS_ALERT_CODES``) still logs the event but sends no alert.
- Event and security logs keep the newest ``LOG_LIMIT`` entries, oldest first in memory,
  newest first when read.
"""

from __future__ import annotations

from typing import Any

from s1adopt.domain.device_models import DeviceModel
from s1adopt.domain.device_settings import SETTINGS, alert_enabled
from s1adopt.domain.operations import AlertKind
from s1adopt.emulators.world.faults import DeviceFault
from s1adopt.emulators.world.meter import MeterState

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
        "settings",
        "staged_firmware",
    )

    def __init__(self) -> None:
        self.clock_offset = 0
        self.meter: MeterState | None = None
        self.events: list[LogEntry] | None = None
        self.security: list[LogEntry] | None = None
        self.staged_firmware: str | None = None
        self.han_joined: dict[str, str] | None = None  # device -> its device type
        self.han_left: set[str] | None = None
        self.message: str | None = None
        self.settings: dict[str, Any] | None = None  # written settings (not the defaults)


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

    def setting(self, name: str) -> Any:
        """The value the device holds for setting ``name`` (shared: do not change it)."""
        if name == "paymentMode":
            return "prepayment" if self.prepayment else "credit"
        if name == "importMpxn":
            return self.mpxn
        held = None if self.extras is None else self.extras.settings
        if held is not None and name in held:
            return held[name]
        return SETTINGS[name].default

    def sends_alert(self, kind: str) -> bool:
        """Whether the device sends alerts of ``kind`` (its alert behaviours allow it)."""
        held = None if self.extras is None else self.extras.settings
        if held is None or "alertBehaviours" not in held:
            return True
        try:
            alert = AlertKind(kind)
        except ValueError:
            return True
        return alert_enabled(held["alertBehaviours"], alert)

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
