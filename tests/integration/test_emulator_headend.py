"""The emulator on loopback: every head end behind its protocol's front end, and the control API."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from s1adopt.adapters.headend.directory import HeadEndDirectory
from s1adopt.adapters.headend.policy import RetryPolicy
from s1adopt.domain.errors import DeviceAuthenticationFailed
from s1adopt.domain.identities import Eui64
from s1adopt.domain.secrets import Secret
from s1adopt.emulators.fleet import generate_fleet
from s1adopt.emulators.profiles import SMSO_PROFILES
from s1adopt.emulators.runner import RunningEmulator, running_emulator, serve_emulator

POLICY = RetryPolicy(retries=1, first_backoff=0.01, timeout=2.0)


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    key = X25519PrivateKey.generate().public_key().public_bytes_raw()
    generate_fleet(tmp_path, 40, 0.0, 4, key)
    return tmp_path


@pytest.fixture
async def emulator(fleet: Path) -> AsyncIterator[RunningEmulator]:
    async with running_emulator(fleet, no_answer_delay=0.01) as running:
        yield running


async def get(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        doc: dict[str, Any] = await response.json()
        return doc


def healthy_devices(emulator: RunningEmulator, name: str) -> list[tuple[Eui64, Secret]]:
    headend = emulator.world.headend(name)
    assert headend is not None
    return [
        (Eui64.parse(key), Secret(device.credential))
        for key, device in sorted(headend.devices.items())
        if device.credential is not None and device.fault is None
    ]


async def test_the_listing_names_each_head_end_with_its_protocol_address_and_limit(
    emulator: RunningEmulator,
) -> None:
    listing = (await get(emulator.control_url + "/headends"))["headends"]

    by_name = {entry["name"]: entry for entry in listing}
    assert sorted(by_name) == sorted(p.name for p in SMSO_PROFILES)
    for profile in SMSO_PROFILES:
        entry = by_name[profile.name]
        assert (entry["smso"], entry["cohort"], entry["protocol"], entry["sessionLimit"]) == (
            profile.eui,
            profile.cohort,
            profile.protocol,
            profile.session_limit,
        )
        scheme = "tcp" if profile.protocol == "s1-bin/1" else "http"
        assert entry["url"].startswith(f"{scheme}://127.0.0.1:")


async def test_every_head_end_answers_through_the_adapter_its_listing_selects(
    emulator: RunningEmulator,
) -> None:
    async with HeadEndDirectory(emulator.control_url, policy=POLICY) as directory:
        for listing in emulator.headends:
            adapter = directory.for_smso(Eui64.parse(listing.smso))
            assert adapter is not None
            device, credential = healthy_devices(emulator, listing.name)[0]

            reported = await adapter.read_identity(device, credential)

            world_device = emulator.world.find(device.hex)
            assert world_device is not None
            assert reported.model == world_device[2].model.model


async def test_a_replaced_credential_survives_an_emulator_restart(fleet: Path) -> None:
    new = Secret(os.urandom(32))
    async with running_emulator(fleet) as first:
        targets = {h.name: healthy_devices(first, h.name)[0] for h in first.headends}
        async with HeadEndDirectory(first.control_url, policy=POLICY) as directory:
            for listing in first.headends:
                device, old = targets[listing.name]
                adapter = directory.for_smso(Eui64.parse(listing.smso))
                assert adapter is not None
                await adapter.replace_credential(device, old, new)

    async with (
        running_emulator(fleet) as second,
        HeadEndDirectory(second.control_url, policy=POLICY) as directory,
    ):
        for listing in second.headends:
            device, old = targets[listing.name]
            adapter = directory.for_smso(Eui64.parse(listing.smso))
            assert adapter is not None
            assert (await adapter.read_identity(device, new)).device_type
            with pytest.raises(DeviceAuthenticationFailed):
                await adapter.read_identity(device, old)


async def test_health_says_ok(emulator: RunningEmulator) -> None:
    assert await get(emulator.control_url + "/health") == {"status": "ok"}


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org"])
async def test_a_host_beyond_loopback_is_refused(fleet: Path, host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        async with running_emulator(fleet, host=host):
            pass


async def test_serve_emulator_announces_its_control_url_and_stops_when_cancelled(
    fleet: Path,
) -> None:
    announced: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(serve_emulator(fleet, port=0, ready=announced.put_nowait))
    control_url = await asyncio.wait_for(announced.get(), timeout=10)
    listing = (await get(control_url + "/headends"))["headends"]
    binary = next(e["url"] for e in listing if e["url"].startswith("tcp://"))
    host, port = binary.removeprefix("tcp://").rsplit(":", 1)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(control_url + "/health")
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection(host, int(port))


async def test_a_head_end_whose_protocol_no_front_end_speaks_is_refused(fleet: Path) -> None:
    manifest = fleet / "emulator" / "fleet.json"
    doc = json.loads(manifest.read_text())
    doc["smsos"][0]["protocol"] = "s1-xml/9"
    manifest.write_text(json.dumps(doc))

    with pytest.raises(ValueError, match=r"s1-xml/9.*known: s1-bin/1, s1-json/2, s1-xml/1"):
        async with running_emulator(fleet):
            pass


async def test_a_directory_without_a_fleet_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="generate a fleet"):
        async with running_emulator(tmp_path):
            pass
