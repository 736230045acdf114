"""A small ``HeadEndCore`` for the contract suite while no other core is at hand.

It keeps to the contract of ``emulators.world.core_api`` and to the fault rules of the
emulated world: faults apply before authentication; ``no_answer`` answers NO_RESPONSE,
``timeout`` is silent, ``slow`` answers after ``slow_delay``, ``garbled`` garbles (for
``count`` requests, or until cleared), ``han_failure`` answers HAN_FAILURE (gas side only).
Results are canned shapes per operation, enough to check what the protocols carry.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from s1adopt.domain.devices import DeviceType
from s1adopt.domain.errors import CredentialError
from s1adopt.domain.operations import CATALOGUE, DeviceOperation
from s1adopt.domain.secrets import Secret
from s1adopt.emulators.world.core_api import CoreRefusal, Garble, SessionCounts, Silence
from s1adopt.formats.device_auth import ErrorCode, open_new_credential, tag_valid

_KINDS = {
    "int": int,
    "str": str,
    "time": str,
    "bool": bool,
    "list[int]": list,
    "list[str]": list,
    "object": dict,
}


@dataclass
class FakeDevice:
    """One device of the fake head end."""

    device_type: DeviceType
    credential: bytes
    fault: str | None = None
    fault_left: int = 0
    requests: int = 0
    unsupported: frozenset[str] = frozenset()


class FakeHeadEnd:
    """A ``HeadEndCore`` with a handful of devices, faults set directly."""

    def __init__(
        self,
        name: str,
        protocol: str,
        session_limit: int = 8,
        slow_delay: float = 0.2,
    ) -> None:
        self.name, self.cohort, self.protocol = name, "TEST", protocol
        self.session_limit, self.available = session_limit, True
        self.slow_delay = slow_delay
        self.devices: dict[str, FakeDevice] = {}
        self.in_progress = self.max_in_progress = 0
        self.sessions = SessionCounts()

    def add(self, device_hex: str, device: FakeDevice) -> None:
        """Serve another device."""
        self.devices[device_hex.upper()] = device

    def set_fault(self, device_hex: str, fault: str | None, count: int = 0) -> None:
        """Set (or clear, with None) a device's fault; ``count`` 0 lasts until cleared."""
        device = self.devices[device_hex.upper()]
        device.fault, device.fault_left = fault, count

    async def execute(
        self, device_hex: str, operation: str, params: dict[str, Any], nonce: str, tag: str
    ) -> dict[str, Any]:
        """Carry out one operation (canned answers) after the faults and the tag check."""
        self.in_progress += 1
        self.max_in_progress = max(self.max_in_progress, self.in_progress)
        try:
            return await self._execute(device_hex, operation, params, nonce, tag)
        finally:
            self.in_progress -= 1

    async def _execute(
        self, device_hex: str, operation: str, params: dict[str, Any], nonce: str, tag: str
    ) -> dict[str, Any]:
        device = self.devices.get(device_hex.upper())
        if device is None:
            raise CoreRefusal(ErrorCode.UNKNOWN_DEVICE, f"{self.name} does not serve {device_hex}")
        device.requests += 1
        try:
            op = DeviceOperation(operation)
        except ValueError:
            raise CoreRefusal(ErrorCode.BAD_REQUEST, f"unknown operation {operation!r}") from None
        await self._fault(device)
        if not tag_valid(Secret(device.credential), operation, device_hex, nonce, params, tag):
            raise CoreRefusal(ErrorCode.AUTH_FAILED, f"{device_hex} rejected the credential")
        spec = CATALOGUE[op]
        if device.device_type not in spec.applies_to or operation in device.unsupported:
            raise CoreRefusal(ErrorCode.NOT_SUPPORTED, f"{device.device_type} cannot {operation}")
        for name, kind in spec.params.items():
            value = params.get(name)
            if not isinstance(value, _KINDS[kind]) or isinstance(value, bool) != (kind == "bool"):
                raise CoreRefusal(ErrorCode.BAD_REQUEST, f"parameter {name!r} must be {kind}")
        return self._carry_out(device, device_hex, op, params)

    async def _fault(self, device: FakeDevice) -> None:
        fault = device.fault
        if fault is None:
            return
        if device.fault_left:
            device.fault_left -= 1
            if device.fault_left == 0:
                device.fault = None
        if fault == "no_answer":
            raise CoreRefusal(ErrorCode.NO_RESPONSE, "the device did not answer")
        if fault == "timeout":
            raise Silence
        if fault == "garbled":
            raise Garble
        if fault == "han_failure":
            raise CoreRefusal(ErrorCode.HAN_FAILURE, "the hub cannot reach the device")
        if fault == "slow":
            await asyncio.sleep(self.slow_delay)

    def _carry_out(
        self, device: FakeDevice, device_hex: str, op: DeviceOperation, params: dict[str, Any]
    ) -> dict[str, Any]:
        if op is DeviceOperation.READ_IDENTITY:
            return {
                "deviceId": device_hex.upper(),
                "deviceType": device.device_type.value,
                "manufacturer": "ACME",
                "model": f"{device.device_type.value}-1",
                "firmwareVersion": "1.0.0",
            }
        if op is DeviceOperation.REPLACE_CREDENTIAL:
            try:
                new = open_new_credential(Secret(device.credential), device_hex, params)
            except CredentialError:
                raise CoreRefusal(ErrorCode.REJECTED, "the new credential does not open") from None
            device.credential = new.reveal()
            return {"replaced": True}
        if op is DeviceOperation.READ_PROFILE:
            intervals = [{"start": "2026-11-28T00:00:00Z", "importWh": 120, "ok": True}] * 48
            return {"intervals": intervals, "unit": "Wh"}
        return {"operation": op.value, "accepted": True, "echo": params, "extra": None}
