"""Fakes of the services' ports for tests (no mocks of our own code)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from s1adopt.domain.devices import ReportedDevice
from s1adopt.domain.errors import (
    CommandRejected,
    DeviceAuthenticationFailed,
    DeviceUnreachable,
    HanFailure,
    HeadEndUnavailable,
    OperationNotSupported,
)
from s1adopt.domain.identities import Eui64
from s1adopt.domain.operations import DeviceOperation
from s1adopt.domain.secrets import Secret
from s1adopt.formats.firmware import firmware_image_hash


class SimulatedCrash(Exception):
    """Stands for the process dying in the middle of device traffic."""


@dataclass
class FakeDevice:
    credential: Secret
    reported: ReportedDevice
    answers: bool = True
    han_failure: bool = False  # a gas device the hub cannot reach over the HAN
    dormant: bool = False  # answers only firmware operations until upgraded
    staged: str | None = None
    firmware_operations: int = 0


@dataclass
class FakeHeadEnd:
    """An in-memory head end with devices that check credentials like the real ones."""

    devices: dict[Eui64, FakeDevice] = field(default_factory=dict)
    replacements: Counter[Eui64] = field(default_factory=Counter)
    crash_after_replacements: int | None = None
    available: bool = True

    def _device(self, device: Eui64, credential: Secret, firmware_op: bool = False) -> FakeDevice:
        if not self.available:
            raise HeadEndUnavailable("fake head end down")
        found = self.devices.get(device)
        if found is None or not found.answers or (found.dormant and not firmware_op):
            raise DeviceUnreachable(f"{device} does not answer")
        if found.han_failure:
            raise HanFailure(f"{device} unreachable over the HAN")
        if found.credential != credential:
            raise DeviceAuthenticationFailed(f"{device} refuses the credential")
        return found

    async def read_identity(self, device: Eui64, credential: Secret) -> ReportedDevice:
        return self._device(device, credential).reported

    async def execute(
        self, device: Eui64, credential: Secret, operation: DeviceOperation, params: dict[str, Any]
    ) -> dict[str, Any]:
        firmware_ops = (DeviceOperation.UPDATE_FIRMWARE, DeviceOperation.ACTIVATE_FIRMWARE)
        if operation not in firmware_ops:
            raise OperationNotSupported(f"the fake head end does not do {operation}")
        found = self._device(device, credential, firmware_op=True)
        found.firmware_operations += 1
        reported = found.reported
        if operation is DeviceOperation.UPDATE_FIRMWARE:
            image = firmware_image_hash(reported.manufacturer, reported.model, params["version"])
            if params["imageHash"] != image:
                raise CommandRejected("image hash does not match")
            found.staged = params["version"]
        else:
            if found.staged != params["version"]:
                raise CommandRejected("no such image transferred")
            found.reported = ReportedDevice(
                reported.device_type, reported.manufacturer, reported.model, found.staged
            )
            found.dormant = False
        return {}

    async def replace_credential(self, device: Eui64, current: Secret, new: Secret) -> None:
        found = self._device(device, current)
        limit = self.crash_after_replacements
        if limit is not None and sum(self.replacements.values()) >= limit:
            raise SimulatedCrash("process killed")
        found.credential = new
        self.replacements[device] += 1


@dataclass
class FakeDirectory:
    headends: dict[Eui64, FakeHeadEnd]

    def for_smso(self, smso: Eui64) -> FakeHeadEnd | None:
        return self.headends.get(smso)
