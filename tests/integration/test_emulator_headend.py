"""The emulated SMSO head end on loopback, spoken to over HTTP as the S1SP adapter does."""

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

from s1adopt.domain.secrets import Secret
from s1adopt.emulators.fleet import generate_fleet
from s1adopt.emulators.profiles import SMSO_IOC
from s1adopt.emulators.runner import RunningEmulator, running_emulator, serve_emulator
from s1adopt.formats.headend_wire import (
    MAX_BODY_BYTES,
    PROTOCOL,
    Operation,
    auth_tag,
    new_nonce,
    path_for,
    seal_new_credential,
)

Answer = tuple[int, dict[str, Any]]


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    key = X25519PrivateKey.generate().public_key().public_bytes_raw()
    generate_fleet(tmp_path, 30, 0.3, 4, key)
    return tmp_path


@pytest.fixture
async def emulator(fleet: Path) -> AsyncIterator[RunningEmulator]:
    async with running_emulator(fleet, no_answer_delay=0.01) as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def devices(fleet: Path) -> list[dict[str, Any]]:
    lines = (fleet / "emulator" / "smso-ioc.devices.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def a_device(fleet: Path, kind: str, fault: str | None = None) -> tuple[str, bytes | None]:
    found = next(d for d in devices(fleet) if d["type"] == kind and d["fault"] == fault)
    credential = found["credential"]
    return found["id"], None if credential is None else bytes.fromhex(credential)


def identity_body(credential: bytes, device_hex: str) -> dict[str, str]:
    nonce = new_nonce()
    tag = auth_tag(Secret(credential), Operation.READ_IDENTITY, device_hex, nonce, b"")
    return {"nonce": nonce, "tag": tag}


def replacement_body(current: bytes, new: bytes, device_hex: str) -> dict[str, str]:
    seal_nonce, sealed = seal_new_credential(Secret(current), Secret(new), device_hex)
    nonce = new_nonce()
    op = Operation.REPLACE_CREDENTIAL
    tag = auth_tag(Secret(current), op, device_hex, nonce, bytes.fromhex(sealed))
    return {"nonce": nonce, "tag": tag, "sealNonce": seal_nonce, "sealed": sealed}


async def post(
    session: aiohttp.ClientSession,
    emulator: RunningEmulator,
    device_hex: str,
    op: Operation,
    body: dict[str, str] | bytes,
) -> Answer:
    url = emulator.headends[0].url + path_for(device_hex, op)
    data, as_json = (body, None) if isinstance(body, bytes) else (None, body)
    async with session.post(url, data=data, json=as_json) as response:
        return response.status, await response.json()


async def read_identity(
    session: aiohttp.ClientSession, emulator: RunningEmulator, device_hex: str, credential: bytes
) -> Answer:
    body = identity_body(credential, device_hex)
    return await post(session, emulator, device_hex, Operation.READ_IDENTITY, body)


async def get(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url) as response:
        assert response.status == 200
        doc: dict[str, Any] = await response.json()
        return doc


async def test_an_identity_read_with_the_right_credential_answers_the_devices_identity(
    fleet: Path, emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    device_hex, credential = a_device(fleet, "ESME")
    assert credential is not None
    listed = next(d for d in devices(fleet) if d["id"] == device_hex)

    status, answer = await read_identity(session, emulator, device_hex, credential)

    assert status == 200
    assert answer == {
        "deviceId": device_hex,
        "deviceType": "ESME",
        "manufacturer": listed["manufacturer"],
        "model": listed["model"],
        "firmware": listed["firmware"],
    }


async def test_a_wrong_credential_is_refused_with_auth_failed_and_counted(
    fleet: Path, emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    device_hex, _ = a_device(fleet, "CHF")

    status, answer = await read_identity(session, emulator, device_hex, os.urandom(32))

    assert (status, answer["error"]) == (401, "AUTH_FAILED")
    stats = await get(session, emulator.control_url + "/stats")
    assert stats["devices"][device_hex]["auth_failures"] == 1
    assert stats["totals"]["auth_failures"] == 1


async def test_a_replaced_credential_is_the_only_one_the_device_accepts_afterwards(
    fleet: Path, emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    device_hex, old = a_device(fleet, "ESME")
    assert old is not None
    new = os.urandom(32)

    status, answer = await post(
        session,
        emulator,
        device_hex,
        Operation.REPLACE_CREDENTIAL,
        replacement_body(old, new, device_hex),
    )

    assert (status, answer) == (200, {"replaced": True})
    assert (await read_identity(session, emulator, device_hex, old))[0] == 401
    assert (await read_identity(session, emulator, device_hex, new))[0] == 200
    stats = await get(session, emulator.control_url + "/stats")
    assert stats["devices"][device_hex] == {
        "requests": 3,
        "identity_reads": 1,
        "credential_replacements": 1,
        "auth_failures": 1,
    }


async def test_a_replacement_authenticated_with_a_wrong_credential_changes_nothing(
    fleet: Path, emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    device_hex, old = a_device(fleet, "GPF")
    assert old is not None
    body = replacement_body(os.urandom(32), os.urandom(32), device_hex)

    status, answer = await post(session, emulator, device_hex, Operation.REPLACE_CREDENTIAL, body)

    assert (status, answer["error"]) == (401, "AUTH_FAILED")
    assert (await read_identity(session, emulator, device_hex, old))[0] == 200


async def test_a_device_with_the_no_answer_fault_answers_no_response(
    fleet: Path, emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    device_hex, credential = a_device(fleet, "ESME", fault="no_answer")
    assert credential is not None

    status, answer = await read_identity(session, emulator, device_hex, credential)

    assert (status, answer["error"]) == (504, "NO_RESPONSE")


async def test_an_unknown_device_is_answered_unknown_device(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    status, answer = await read_identity(session, emulator, "FFFFFFFFFFFFFFFF", os.urandom(32))

    assert (status, answer["error"]) == (404, "UNKNOWN_DEVICE")
    stats = await get(session, emulator.control_url + "/stats")
    assert stats["totals"]["unknown_device_requests"] == 1


async def test_an_oversized_body_is_a_bad_request(
    fleet: Path, emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    device_hex, credential = a_device(fleet, "ESME")
    assert credential is not None
    body = json.dumps({**identity_body(credential, device_hex), "pad": "x" * MAX_BODY_BYTES})

    status, answer = await post(
        session, emulator, device_hex, Operation.READ_IDENTITY, body.encode()
    )

    assert (status, answer["error"]) == (400, "BAD_REQUEST")


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"nonce": "n"}', b'{"nonce": "n", "tag": 7}'],
    ids=["not JSON", "not an object", "no tag", "tag not a string"],
)
async def test_a_malformed_body_is_a_bad_request(
    fleet: Path, emulator: RunningEmulator, session: aiohttp.ClientSession, body: bytes
) -> None:
    device_hex, _ = a_device(fleet, "ESME")

    status, answer = await post(session, emulator, device_hex, Operation.READ_IDENTITY, body)

    assert (status, answer["error"]) == (400, "BAD_REQUEST")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/devices/{device}/reboot"),
        ("POST", "/v2/anything"),
        ("GET", "/v1/devices/{device}/identity"),
    ],
)
async def test_an_operation_the_protocol_does_not_have_is_a_bad_request(
    fleet: Path,
    emulator: RunningEmulator,
    session: aiohttp.ClientSession,
    method: str,
    path: str,
) -> None:
    device_hex, _ = a_device(fleet, "ESME")
    url = emulator.headends[0].url + path.format(device=device_hex)

    async with session.request(method, url) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "BAD_REQUEST"


async def test_a_type_2_device_refuses_every_operation(
    fleet: Path, emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    device_hex, credential = a_device(fleet, "IHD")
    assert credential is None
    key = os.urandom(32)

    identity = await read_identity(session, emulator, device_hex, key)
    replacement = await post(
        session,
        emulator,
        device_hex,
        Operation.REPLACE_CREDENTIAL,
        replacement_body(key, os.urandom(32), device_hex),
    )

    assert (identity[0], identity[1]["error"]) == (401, "AUTH_FAILED")
    assert (replacement[0], replacement[1]["error"]) == (401, "AUTH_FAILED")


async def test_a_replaced_credential_survives_an_emulator_restart(
    fleet: Path, session: aiohttp.ClientSession
) -> None:
    device_hex, old = a_device(fleet, "ESME")
    assert old is not None
    new = os.urandom(32)
    async with running_emulator(fleet) as first:
        body = replacement_body(old, new, device_hex)
        assert (await post(session, first, device_hex, Operation.REPLACE_CREDENTIAL, body))[
            0
        ] == 200

    async with running_emulator(fleet) as second:
        assert (await read_identity(session, second, device_hex, new))[0] == 200
        assert (await read_identity(session, second, device_hex, old))[0] == 401


async def test_a_journal_line_torn_by_a_crash_is_dropped_on_restart(
    fleet: Path, session: aiohttp.ClientSession
) -> None:
    device_hex, old = a_device(fleet, "ESME")
    assert old is not None
    journal = fleet / "emulator" / "smso-ioc.journal.jsonl"
    journal.write_text(f'{{"id": "{device_hex}", "credential": "abc')

    async with running_emulator(fleet) as emulator:
        assert (await read_identity(session, emulator, device_hex, old))[0] == 200
        new = os.urandom(32)
        body = replacement_body(old, new, device_hex)
        assert (await post(session, emulator, device_hex, Operation.REPLACE_CREDENTIAL, body))[
            0
        ] == 200

    async with running_emulator(fleet) as emulator:
        assert (await read_identity(session, emulator, device_hex, new))[0] == 200


async def test_the_headend_listing_names_each_smso_with_its_protocol_and_address(
    emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    listing = await get(session, emulator.control_url + "/headends")

    [entry] = listing["headends"]
    assert {k: v for k, v in entry.items() if k != "url"} == {
        "name": "smso-ioc",
        "smso": SMSO_IOC.eui,
        "cohort": "IOC",
        "protocol": PROTOCOL,
    }
    assert entry["url"].startswith("http://127.0.0.1:")
    assert entry["url"] != emulator.control_url


async def test_stats_count_requests_per_touched_device_and_in_total(
    fleet: Path, emulator: RunningEmulator, session: aiohttp.ClientSession
) -> None:
    device_hex, credential = a_device(fleet, "ESME")
    assert credential is not None
    for _ in range(2):
        await read_identity(session, emulator, device_hex, credential)

    stats = await get(session, emulator.control_url + "/stats")

    assert stats["totals"] == {
        "devices": len(devices(fleet)),
        "requests": 2,
        "identity_reads": 2,
        "credential_replacements": 0,
        "auth_failures": 0,
        "unknown_device_requests": 0,
    }
    assert stats["devices"] == {
        device_hex: {
            "requests": 2,
            "identity_reads": 2,
            "credential_replacements": 0,
            "auth_failures": 0,
        }
    }
    assert "devices" not in await get(session, emulator.control_url + "/stats?devices=none")


async def test_health_says_ok(emulator: RunningEmulator, session: aiohttp.ClientSession) -> None:
    assert await get(session, emulator.control_url + "/health") == {"status": "ok"}


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org"])
async def test_a_host_beyond_loopback_is_refused(fleet: Path, host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        async with running_emulator(fleet, host=host):
            pass


async def test_serve_emulator_announces_its_control_url_and_stops_when_cancelled(
    fleet: Path, session: aiohttp.ClientSession
) -> None:
    announced: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(serve_emulator(fleet, port=0, ready=announced.put_nowait))
    control_url = await asyncio.wait_for(announced.get(), timeout=10)

    assert await get(session, control_url + "/health") == {"status": "ok"}

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(session, control_url + "/health")


async def test_an_smso_whose_protocol_no_emulated_head_end_speaks_is_refused(fleet: Path) -> None:
    manifest = fleet / "emulator" / "fleet.json"
    doc = json.loads(manifest.read_text())
    doc["smsos"][0]["protocol"] = "s1-xml/9"
    manifest.write_text(json.dumps(doc))

    with pytest.raises(ValueError, match="s1-xml/9"):
        async with running_emulator(fleet):
            pass


async def test_a_directory_without_a_fleet_is_refused_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="generate a fleet"):
        async with running_emulator(tmp_path):
            pass
