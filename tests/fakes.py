"""Fakes of the services' ports for tests (no mocks of our own code)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from s1adopt.domain.devices import ReportedDevice
from s1adopt.domain.errors import DeviceAuthenticationFailed, DeviceUnreachable, HeadEndUnavailable
from s1adopt.domain.identities import Eui64
from s1adopt.domain.secrets import Secret


class SimulatedCrash(Exception):
    """Stands for the process dying in the middle of device traffic."""


@dataclass
class FakeDevice:
    credential: Secret
    reported: ReportedDevice
    answers: bool = True


@dataclass
class FakeHeadEnd:
    """An in-memory head end with devices that check credentials like the real ones."""

    devices: dict[Eui64, FakeDevice] = field(default_factory=dict)
    replacements: Counter[Eui64] = field(default_factory=Counter)
    crash_after_replacements: int | None = None
    available: bool = True

    def _device(self, device: Eui64, credential: Secret) -> FakeDevice:
        if not self.available:
            raise HeadEndUnavailable("fake head end down")
        found = self.devices.get(device)
        if found is None or not found.answers:
            raise DeviceUnreachable(f"{device} does not answer")
        if found.credential != credential:
            raise DeviceAuthenticationFailed(f"{device} refuses the credential")
        return found

    async def read_identity(self, device: Eui64, credential: Secret) -> ReportedDevice:
        return self._device(device, credential).reported

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
