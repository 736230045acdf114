"""An emulated SMSO head end's core: its devices and how they answer (``HeadEndCore``).

Rules, in the order they are applied to a request:
1. while the head end is not ``available``, UNAVAILABLE (front ends answer it first anyway);
2. an operation outside the catalogue, or a device ID that is not 16 hex digits, is
   BAD_REQUEST; a device the head end does not serve is UNKNOWN_DEVICE;
3. the request is counted (device, head end, operation);
4. the device's fault, if any, acts (``world.faults``): no state changes behind it;
5. the device must hold a credential (an IHD holds none) and the tag must be the one its
   current credential gives (``device_auth.tag_valid``), else AUTH_FAILED, recorded in the
   device's security log;
6. an operation that does not apply to the device's type, or that its model does not
   support, is NOT_SUPPORTED;
7. parameters are checked against the catalogue (BAD_REQUEST naming the field);
8. the model's answer delay passes, then the operation is carried out (``handlers``).

Alerts of a device whose alert behaviours disable their kind are not sent (counted in
``totals.alerts_suppressed``). A hub's HAN members by installation are indexed on the first
``read_han_log`` (the fleet's associations never change while it runs).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

from s1adopt.domain.device_models import supports_operation
from s1adopt.domain.operations import CATALOGUE, DeviceOperation
from s1adopt.domain.secrets import Secret
from s1adopt.emulators.world.alerts import Alert, AlertSink
from s1adopt.emulators.world.call import Call, HeadEndCounters
from s1adopt.emulators.world.clock import Clock
from s1adopt.emulators.world.core_api import CoreRefusal, Garble, SessionCounts, Silence
from s1adopt.emulators.world.device import WorldDevice
from s1adopt.emulators.world.faults import GAS_SIDE, DeviceFault
from s1adopt.emulators.world.handlers import HANDLERS
from s1adopt.emulators.world.journal import Journal, device_hex
from s1adopt.emulators.world.params import checked_params
from s1adopt.formats.device_auth import ErrorCode, tag_valid

DEFAULT_NO_ANSWER_DELAY = 0.02
DEFAULT_SLOW_DELAY = 0.2
FIRMWARE_OPERATIONS = frozenset(
    {DeviceOperation.UPDATE_FIRMWARE, DeviceOperation.ACTIVATE_FIRMWARE}
)
_OPERATIONS = {op.value: op for op in DeviceOperation}


@dataclass(frozen=True, slots=True)
class HeadEndSettings:
    """Timing of an emulated head end: its WAN timeout, a slow device's delay, whether the
    models' own answer delays apply, a WAN delay every answer takes instead of them (a
    realistic SMETS1 WAN takes seconds), and a session limit instead of the fleet's."""

    no_answer_delay: float = DEFAULT_NO_ANSWER_DELAY
    slow_delay: float = DEFAULT_SLOW_DELAY
    model_delays: bool = True
    wan_delay: float | None = None
    session_limit: int | None = None


class EmulatedHeadEnd:
    """One SMSO's head end: its devices, faults, counters and alerts (see module rules)."""

    def __init__(
        self,
        *,
        name: str,
        smso: str,
        cohort: str,
        protocol: str,
        session_limit: int,
        devices: dict[str, WorldDevice],
        journal: Journal,
        alerts: AlertSink,
        clock: Clock,
        world_seed: int,
        settings: HeadEndSettings | None = None,
    ) -> None:
        self.name, self.smso, self.cohort, self.protocol = name, smso, cohort, protocol
        self.session_limit = session_limit
        self.available = True
        self.devices = devices
        self.journal = journal
        self.alerts = alerts
        self.clock = clock
        self.world_seed = world_seed
        self.settings = settings or HeadEndSettings()
        self.totals = HeadEndCounters()
        self.sessions = SessionCounts()
        self.operations: Counter[str] = Counter()
        self.touched: set[str] = set()
        self._han_index: dict[str, tuple[str, ...]] | None = None

    async def execute(
        self, device_hex: str, operation: str, params: dict[str, Any], nonce: str, tag: str
    ) -> dict[str, Any]:
        """Carry out one device operation (see the module rules)."""
        if not self.available:
            raise CoreRefusal(ErrorCode.UNAVAILABLE, f"head end {self.name} is unavailable")
        op = _OPERATIONS.get(operation)
        if op is None:
            raise CoreRefusal(ErrorCode.BAD_REQUEST, f"unknown operation {operation!r}")
        key, device = self._device(device_hex)
        self._count(key, device, op)
        await self._fault(key, device, op)
        self._authenticate(key, device, op, params, nonce, tag)
        spec = CATALOGUE[op]
        model = device.model
        if not supports_operation(model, op):
            raise CoreRefusal(
                ErrorCode.NOT_SUPPORTED, f"{model.manufacturer} {model.model} does not do {op}"
            )
        values = checked_params(spec, params)
        delay = self.settings.wan_delay
        if delay is None:
            delay = model.behaviour.answer_delay if self.settings.model_delays else 0.0
        if delay:
            await asyncio.sleep(delay)
        return HANDLERS[op](Call(self, key, device, self.device_time(device), values))

    def device_time(self, device: WorldDevice) -> int:
        """The device's own clock: the world's time plus the device's offset (seconds)."""
        offset = 0 if device.extras is None else device.extras.clock_offset
        return int(self.clock()) + offset

    def push_alert(self, alert: Alert) -> None:
        """Send an alert of one of this head end's devices to the registered endpoint, unless
        the device's alert behaviours disable it."""
        device = self.devices.get(alert.device)
        if device is not None and not device.sends_alert(alert.kind):
            self.totals.alerts_suppressed += 1
            return
        self.alerts.push(alert)

    def han_members(self, hub: str) -> tuple[str, ...]:
        """The devices the fleet installed with ``hub`` (its ``associated`` devices)."""
        if self._han_index is None:
            index: dict[str, list[str]] = {}
            for key, device in self.devices.items():
                if device.associated is not None:
                    index.setdefault(device.associated, []).append(key)
            self._han_index = {hub: tuple(keys) for hub, keys in index.items()}
        return self._han_index.get(hub, ())

    def touched_devices(self) -> dict[str, dict[str, int]]:
        """The counters of every device that received at least one request."""
        return {key: self.devices[key].counters() for key in sorted(self.touched)}

    def stats(self) -> dict[str, Any]:
        """This head end's totals and per-operation counts."""
        return {
            **self.totals.as_dict(),
            "devices": len(self.devices),
            "available": self.available,
            "operations": dict(sorted(self.operations.items())),
            "sessions": {
                "limit": self.session_limit,
                "inProgress": self.sessions.in_progress,
                "peak": self.sessions.peak,
                "busy": self.sessions.busy,
            },
        }

    def _device(self, text: str) -> tuple[str, WorldDevice]:
        try:
            key = device_hex(text)
        except ValueError as exc:
            raise CoreRefusal(ErrorCode.BAD_REQUEST, str(exc)) from None
        device = self.devices.get(key)
        if device is None:
            self.totals.unknown_device_requests += 1
            raise CoreRefusal(ErrorCode.UNKNOWN_DEVICE, f"this head end does not serve {key}")
        return key, device

    def _count(self, key: str, device: WorldDevice, op: DeviceOperation) -> None:
        if not device.requests:
            self.touched.add(key)
        device.requests += 1
        self.totals.requests += 1
        self.operations[op.value] += 1

    async def _fault(self, key: str, device: WorldDevice, op: DeviceOperation) -> None:
        fault = device.fault
        if fault is None:
            return
        if fault is DeviceFault.DORMANT and op in FIRMWARE_OPERATIONS:
            return
        if fault is DeviceFault.HAN_FAILURE and device.model.device_type not in GAS_SIDE:
            return
        device.use_fault()
        if fault is DeviceFault.SLOW:
            await asyncio.sleep(self.settings.slow_delay)
        elif fault is DeviceFault.TIMEOUT:
            raise Silence()
        elif fault is DeviceFault.GARBLED:
            raise Garble()
        elif fault is DeviceFault.HAN_FAILURE:
            raise CoreRefusal(ErrorCode.HAN_FAILURE, f"the hub cannot reach {key} over the HAN")
        else:  # no answer, or dormant: the head end's WAN timeout expires
            await asyncio.sleep(self.settings.no_answer_delay)
            raise CoreRefusal(ErrorCode.NO_RESPONSE, f"device {key} did not answer")

    def _authenticate(
        self,
        key: str,
        device: WorldDevice,
        op: DeviceOperation,
        params: dict[str, Any],
        nonce: str,
        tag: str,
    ) -> None:
        credential = device.credential
        if credential is not None and tag_valid(Secret(credential), op, key, nonce, params, tag):
            return
        device.auth_failures += 1
        self.totals.auth_failures += 1
        device.log_security(self.device_time(device), "auth_failure", str(op))
        raise CoreRefusal(ErrorCode.AUTH_FAILED, f"device {key} rejected the credential")
