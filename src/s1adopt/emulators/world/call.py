"""One device operation being carried out: what its handler needs to know and to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from s1adopt.domain.devices import DeviceType
from s1adopt.emulators.world.alerts import Alert
from s1adopt.emulators.world.clock import time_text
from s1adopt.emulators.world.core_api import CoreRefusal
from s1adopt.emulators.world.device import COUNTER_NAMES, WorldDevice
from s1adopt.emulators.world.journal import Journal
from s1adopt.emulators.world.meter import MeterState, fresh_state
from s1adopt.emulators.world.physics import MeterProfile, device_seed, meter_profile
from s1adopt.formats.device_auth import ErrorCode


@dataclass(slots=True)
class HeadEndCounters:
    """Totals of one head end."""

    requests: int = 0
    identity_reads: int = 0
    credential_replacements: int = 0
    auth_failures: int = 0
    unknown_device_requests: int = 0
    alerts_suppressed: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        names = (*COUNTER_NAMES, "unknown_device_requests", "alerts_suppressed")
        return {name: getattr(self, name) for name in names}


class HeadEndContext(Protocol):
    """What an operation's handler may use of its head end (``core.EmulatedHeadEnd``)."""

    name: str
    devices: dict[str, WorldDevice]
    journal: Journal
    world_seed: int
    totals: HeadEndCounters

    def push_alert(self, alert: Alert) -> None: ...

    def han_members(self, hub: str) -> tuple[str, ...]: ...


@dataclass(slots=True)
class Call:
    """An authenticated operation on one device, at the device's own time ``now``."""

    headend: HeadEndContext
    device_hex: str
    device: WorldDevice
    now: int
    params: dict[str, Any]

    @property
    def gas(self) -> bool:
        """Whether the device measures gas (litres) rather than electricity (Wh)."""
        return self.device.model.device_type is DeviceType.GSME

    @property
    def seed(self) -> int:
        """The device's seed, from the fleet's seed and its ID."""
        return device_seed(self.headend.world_seed, self.device_hex)

    def profile(self) -> MeterProfile:
        """The meter's consumption week."""
        return meter_profile(self.seed, self.gas)

    def meter_view(self) -> MeterState:
        """The meter's state for reading (not stored when nothing changed it)."""
        extras = self.device.extras
        if extras is not None and extras.meter is not None:
            return extras.meter
        return fresh_state(self.device.base, self.device.model.behaviour.tou_registers, self.gas)

    def meter(self) -> MeterState:
        """The meter's state for changing (stored from now on)."""
        extras = self.device.more()
        if extras.meter is None:
            extras.meter = self.meter_view()
        return extras.meter

    def alert(self, kind: str, detail: str = "") -> None:
        """Record an event and push its alert to the registered endpoint."""
        self.device.log_event(self.now, kind, detail)
        self.headend.push_alert(
            Alert(self.device_hex, kind, time_text(self.now), self.headend.name)
        )


def rejected(message: str) -> CoreRefusal:
    """The device refused the command (parameters, state, duplicate)."""
    return CoreRefusal(ErrorCode.REJECTED, message)
