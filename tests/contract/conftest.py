"""One emulated head end per protocol on loopback, and the adapter that speaks to it.

Every contract test takes ``headend``, parametrised over the three protocols: the emulated
world's head end of that protocol (a fleet generated once, copied per test), served by its
protocol front end on an ephemeral loopback port, a way to pick its devices and set their
faults, and a factory of adapters (``headend.adapter(policy, session_limit)``). The core is
wrapped to count the requests it carries at once, so tests can check the session limit.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from s1adopt.adapters.headend.base import WireHeadEnd
from s1adopt.adapters.headend.directory import HeadEndEntry, adapter_for
from s1adopt.adapters.headend.policy import RetryPolicy
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.identities import Eui64
from s1adopt.domain.secrets import Secret
from s1adopt.emulators.fleet import generate_fleet
from s1adopt.emulators.frontends import FRONTENDS
from s1adopt.emulators.world.core import EmulatedHeadEnd, HeadEndSettings
from s1adopt.emulators.world.core_api import SessionCounts
from s1adopt.emulators.world.device import WorldDevice
from s1adopt.emulators.world.faults import DeviceFault
from s1adopt.emulators.world.loader import load_world

PROTOCOLS = sorted(FRONTENDS)
SESSION_LIMIT = 8
# Short deadlines keep the fault tests quick; the slow fault stays well inside them.
FAST = RetryPolicy(retries=2, first_backoff=0.01, timeout=0.4, max_backoff=0.05)
SETTINGS = HeadEndSettings(no_answer_delay=0.01, slow_delay=0.1, model_delays=False)


class CountingCore:
    """A ``HeadEndCore`` that passes everything to ``inner``, counting requests in progress."""

    def __init__(self, inner: EmulatedHeadEnd, session_limit: int) -> None:
        self.inner = inner
        self.name, self.cohort, self.protocol = inner.name, inner.cohort, inner.protocol
        self.session_limit = session_limit
        self.in_progress = self.max_in_progress = 0
        self.sessions = SessionCounts()

    @property
    def available(self) -> bool:
        return self.inner.available

    async def execute(
        self, device_hex: str, operation: str, params: dict[str, Any], nonce: str, tag: str
    ) -> dict[str, Any]:
        self.in_progress += 1
        self.max_in_progress = max(self.max_in_progress, self.in_progress)
        try:
            return await self.inner.execute(device_hex, operation, params, nonce, tag)
        finally:
            self.in_progress -= 1


@dataclass
class HeadEndUnderTest:
    """A served core, its devices, and adapters to it."""

    core: CountingCore
    url: str
    session: aiohttp.ClientSession
    stack: AsyncExitStack

    @property
    def protocol(self) -> str:
        return self.core.protocol

    def devices(
        self, kind: DeviceType, where: Callable[[WorldDevice], bool] = lambda _: True
    ) -> list[tuple[Eui64, Secret]]:
        """Healthy devices of ``kind`` (with ``where``) and their current credentials."""
        return [
            (Eui64.parse(key), Secret(device.credential))
            for key, device in sorted(self.core.inner.devices.items())
            if device.model.device_type is kind
            and device.fault is None
            and device.credential is not None
            and where(device)
        ]

    def device(
        self,
        kind: DeviceType,
        index: int = 0,
        where: Callable[[WorldDevice], bool] = lambda _: True,
    ) -> tuple[Eui64, Secret]:
        """The ``index``-th healthy device of ``kind`` (with ``where``)."""
        return self.devices(kind, where)[index]

    def world_device(self, device: Eui64) -> WorldDevice:
        return self.core.inner.devices[device.hex]

    def set_fault(self, device: Eui64, fault: str | None, count: int = 0) -> None:
        self.world_device(device).set_fault(None if fault is None else DeviceFault(fault), count)

    def set_available(self, available: bool) -> None:
        self.core.inner.available = available

    def requests_of(self, device: Eui64) -> int:
        """How many requests reached the device's core (faulty ones included)."""
        return self.world_device(device).requests

    def adapter(
        self, policy: RetryPolicy = FAST, session_limit: int = SESSION_LIMIT
    ) -> WireHeadEnd:
        entry = HeadEndEntry(
            self.core.name,
            Eui64.parse(self.core.inner.smso),
            self.core.cohort,
            self.protocol,
            self.url,
            session_limit,
        )
        adapter = adapter_for(self.session, entry, policy)
        self.stack.push_async_callback(adapter.close)
        return adapter


@pytest.fixture(scope="session")
def fleet_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small fleet without faults, generated once for the whole session."""
    fleet_dir = tmp_path_factory.mktemp("contract-fleet")
    key = X25519PrivateKey.generate().public_key().public_bytes_raw()
    generate_fleet(fleet_dir, 120, 0.0, 7, key)
    return fleet_dir


@pytest.fixture(params=PROTOCOLS)
async def headend(
    request: pytest.FixtureRequest, fleet_template: Path, tmp_path: Path
) -> AsyncIterator[HeadEndUnderTest]:
    fleet_dir = tmp_path / "fleet"
    shutil.copytree(fleet_template, fleet_dir)
    world = load_world(fleet_dir, settings=SETTINGS)
    async with AsyncExitStack() as stack:
        stack.callback(world.close)
        inner = next(h for h in world.headends if h.protocol == request.param)
        core = CountingCore(inner, SESSION_LIMIT)
        url = await FRONTENDS[request.param](core, "127.0.0.1", stack)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        yield HeadEndUnderTest(core, url, session, stack)
