"""The protocol front ends spoken to raw, on loopback: what each puts on the wire."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import aiohttp
import pytest

from s1adopt.domain.devices import DeviceType
from s1adopt.domain.secrets import Secret
from s1adopt.emulators.frontends.binary_tcp import start_binary_frontend
from s1adopt.emulators.frontends.json_http import start_json_frontend
from s1adopt.emulators.frontends.xml_http import start_xml_frontend
from s1adopt.formats.device_auth import ErrorCode, new_nonce, request_tag
from s1adopt.formats.wire import binary_v1, json_v2, xml_v1
from s1adopt.formats.wire.binary_v1 import FrameType
from s1adopt.formats.wire.values import WireDecodeError, WireError, WireRequest
from tests.contract.fake_core import FakeDevice, FakeHeadEnd

GOOD, SILENT, GARBLED = "000D6F0900000001", "000D6F0900000002", "000D6F0900000003"
CREDENTIAL = os.urandom(32)


def a_core(protocol: str) -> FakeHeadEnd:
    core = FakeHeadEnd("raw", protocol, session_limit=4, slow_delay=0.3)
    core.add(GOOD, FakeDevice(DeviceType.ESME, CREDENTIAL))
    core.add(SILENT, FakeDevice(DeviceType.ESME, CREDENTIAL, fault="timeout"))
    core.add(GARBLED, FakeDevice(DeviceType.ESME, CREDENTIAL, fault="garbled"))
    return core


def identity_request(device_hex: str) -> WireRequest:
    nonce = new_nonce()
    tag = request_tag(Secret(CREDENTIAL), "read_identity", device_hex, nonce, {})
    return WireRequest(device_hex, "read_identity", {}, nonce, tag)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


# --- s1-json/2 ---------------------------------------------------------------------------


@pytest.fixture
async def json_core() -> AsyncIterator[tuple[FakeHeadEnd, str]]:
    core = a_core(json_v2.PROTOCOL)
    async with AsyncExitStack() as stack:
        yield core, await start_json_frontend(core, "127.0.0.1", stack)


async def post(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, bytes]:
    async with session.post(url, data=body) as response:
        return response.status, await response.read()


async def test_a_json_single_request_is_answered_with_the_result(
    json_core: tuple[FakeHeadEnd, str], session: aiohttp.ClientSession
) -> None:
    _, url = json_core
    path, body = json_v2.encode_request(identity_request(GOOD))

    status, raw = await post(session, url + path, body)

    assert status == 200
    assert json_v2.decode_answer(status, raw)["deviceType"] == "ESME"  # type: ignore[index]


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v2/devices/x/y/z"), ("GET", f"/v2/devices/{GOOD}/read_identity"), ("POST", "/")],
)
async def test_a_json_route_the_protocol_lacks_is_a_bad_request(
    json_core: tuple[FakeHeadEnd, str], session: aiohttp.ClientSession, method: str, path: str
) -> None:
    async with session.request(method, json_core[1] + path) as response:
        status, raw = response.status, await response.read()

    assert json_v2.decode_answer(status, raw) == WireError(
        ErrorCode.BAD_REQUEST, f"{method} {path} is not an operation"
    )


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"nonce": 1, "tag": "t"}'])
async def test_a_json_body_that_breaks_the_protocol_is_a_bad_request(
    json_core: tuple[FakeHeadEnd, str], session: aiohttp.ClientSession, body: bytes
) -> None:
    status, raw = await post(session, json_core[1] + f"/v2/devices/{GOOD}/read_identity", body)

    assert status == 400
    assert json.loads(raw)["error"] == "BAD_REQUEST"


async def test_a_garbled_json_answer_does_not_decode(
    json_core: tuple[FakeHeadEnd, str], session: aiohttp.ClientSession
) -> None:
    path, body = json_v2.encode_request(identity_request(GARBLED))

    status, raw = await post(session, json_core[1] + path, body)

    with pytest.raises(WireDecodeError):
        json_v2.decode_answer(status, raw)


async def test_a_silent_json_request_gets_no_answer_at_all(
    json_core: tuple[FakeHeadEnd, str], session: aiohttp.ClientSession
) -> None:
    path, body = json_v2.encode_request(identity_request(SILENT))

    with pytest.raises(TimeoutError):
        async with session.post(
            json_core[1] + path, data=body, timeout=aiohttp.ClientTimeout(total=0.3)
        ) as response:
            await response.read()


async def test_a_json_batch_answers_in_order_with_null_for_silence_once_wait_ms_passed(
    json_core: tuple[FakeHeadEnd, str], session: aiohttp.ClientSession
) -> None:
    requests = [identity_request(d) for d in (GOOD, SILENT, GARBLED, "000D6F09000000FF")]
    loop = asyncio.get_running_loop()
    started = loop.time()

    status, raw = await post(
        session, json_core[1] + json_v2.BATCH_PATH, json_v2.encode_batch(requests, 300)
    )

    assert status == 200
    assert loop.time() - started >= 0.3
    good, silent, garbled, unknown = json_v2.decode_batch_answer(raw, 4)
    assert good["deviceType"] == "ESME"  # type: ignore[index]
    assert silent is None
    assert isinstance(garbled, WireDecodeError)
    assert isinstance(unknown, WireError)
    assert unknown.code is ErrorCode.UNKNOWN_DEVICE


async def test_a_json_batch_beyond_the_session_limit_is_partly_busy(
    json_core: tuple[FakeHeadEnd, str], session: aiohttp.ClientSession
) -> None:
    core, url = json_core
    core.set_fault(GOOD, "slow")

    status, raw = await post(
        session,
        url + json_v2.BATCH_PATH,
        json_v2.encode_batch([identity_request(GOOD) for _ in range(6)], 2000),
    )

    answers = json_v2.decode_batch_answer(raw, 6)
    busy = [a for a in answers if isinstance(a, WireError) and a.code is ErrorCode.BUSY]
    assert (status, len(busy)) == (200, 2)


async def test_an_unavailable_json_head_end_answers_503(
    json_core: tuple[FakeHeadEnd, str], session: aiohttp.ClientSession
) -> None:
    core, url = json_core
    core.available = False
    path, body = json_v2.encode_request(identity_request(GOOD))

    status, raw = await post(session, url + path, body)

    assert status == 503
    assert json.loads(raw)["error"] == "UNAVAILABLE"


# --- s1-xml/1 ----------------------------------------------------------------------------


@pytest.fixture
async def xml_url() -> AsyncIterator[str]:
    async with AsyncExitStack() as stack:
        yield await start_xml_frontend(a_core(xml_v1.PROTOCOL), "127.0.0.1", stack)


async def test_an_xml_request_is_answered_with_a_typed_result(
    xml_url: str, session: aiohttp.ClientSession
) -> None:
    status, raw = await post(
        session, xml_url + xml_v1.PATH, xml_v1.encode_request(identity_request(GOOD))
    )

    assert status == 200
    assert xml_v1.decode_answer(raw)["deviceType"] == "ESME"  # type: ignore[index]


@pytest.mark.parametrize(
    "document",
    [
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><request/>',
        b"<request>" * 10 + b"x" * xml_v1.MAX_REQUEST_BYTES,
        b"not xml",
    ],
    ids=["external entity", "oversized", "not XML"],
)
async def test_an_unsafe_or_malformed_xml_request_is_a_bad_request(
    xml_url: str, session: aiohttp.ClientSession, document: bytes
) -> None:
    _, raw = await post(session, xml_url + xml_v1.PATH, document)

    answer = xml_v1.decode_answer(raw)
    assert isinstance(answer, WireError)
    assert answer.code is ErrorCode.BAD_REQUEST


async def test_a_garbled_xml_answer_does_not_decode(
    xml_url: str, session: aiohttp.ClientSession
) -> None:
    _, raw = await post(
        session, xml_url + xml_v1.PATH, xml_v1.encode_request(identity_request(GARBLED))
    )

    with pytest.raises(WireDecodeError):
        xml_v1.decode_answer(raw)


# --- s1-bin/1 ----------------------------------------------------------------------------


@pytest.fixture
async def binary_address() -> AsyncIterator[tuple[str, int]]:
    async with AsyncExitStack() as stack:
        url = await start_binary_frontend(a_core(binary_v1.PROTOCOL), "127.0.0.1", stack)
        host, port = url.removeprefix("tcp://").rsplit(":", 1)
        yield host, int(port)


async def test_the_binary_greeting_announces_the_session_limit(
    binary_address: tuple[str, int],
) -> None:
    reader, writer = await asyncio.open_connection(*binary_address)
    writer.write(binary_v1.hello())

    kind, correlation, body = await binary_v1.read_frame(reader, binary_v1.MAX_ANSWER_FRAME)

    assert (kind, correlation, binary_v1.decode_welcome(body)) == (FrameType.WELCOME, 0, 4)
    writer.close()


async def test_binary_answers_follow_the_core_not_the_request_order(
    binary_address: tuple[str, int],
) -> None:
    reader, writer = await asyncio.open_connection(*binary_address)
    writer.write(binary_v1.encode_request(1, identity_request(SILENT)))
    writer.write(binary_v1.frame(FrameType.REQUEST, 2, b"\xc1"))
    writer.write(binary_v1.encode_request(3, identity_request(GARBLED)))
    writer.write(binary_v1.encode_request(4, identity_request(GOOD)))

    frames = {}
    for _ in range(3):
        kind, correlation, body = await binary_v1.read_frame(reader, binary_v1.MAX_ANSWER_FRAME)
        frames[correlation] = (kind, body)

    assert sorted(frames) == [2, 3, 4]  # the silent request 1 gets nothing
    error = binary_v1.decode_answer(*frames[2])
    assert isinstance(error, WireError)
    assert error.code is ErrorCode.BAD_REQUEST
    with pytest.raises(WireDecodeError):
        binary_v1.decode_answer(*frames[3])
    assert binary_v1.decode_answer(*frames[4])["deviceType"] == "ESME"  # type: ignore[index]
    writer.close()


async def test_a_broken_binary_frame_stream_is_refused_and_the_connection_closed(
    binary_address: tuple[str, int],
) -> None:
    reader, writer = await asyncio.open_connection(*binary_address)
    writer.write(binary_v1.HEADER.pack(binary_v1.MAX_REQUEST_FRAME + 1, FrameType.REQUEST, 7))

    kind, correlation, body = await binary_v1.read_frame(reader, binary_v1.MAX_ANSWER_FRAME)

    assert (kind, correlation) == (FrameType.ERROR, 0)
    assert binary_v1.decode_answer(kind, body).code is ErrorCode.BAD_REQUEST  # type: ignore[union-attr]
    assert await reader.read() == b""
    writer.close()
