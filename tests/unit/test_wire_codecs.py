"""The wire codecs: exact round trips, limits, and hostile input refused."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s1adopt.formats.device_auth import ErrorCode, canonical_params
from s1adopt.formats.wire import binary_v1, json_v2, xml_v1
from s1adopt.formats.wire.binary_v1 import FrameError, FrameType
from s1adopt.formats.wire.values import (
    INT_MAX,
    INT_MIN,
    MAX_DEPTH,
    WireDecodeError,
    WireError,
    WireRequest,
    check_value,
)

DEVICE = "000D6F0100000001"
keys = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff"),
    min_size=1,
    max_size=12,
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(INT_MIN, INT_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",)))
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)
objects = st.dictionaries(keys, values, max_size=6)


def request_with(params: dict[str, Any]) -> WireRequest:
    return WireRequest(DEVICE, "update_tariff", params, "a1b2c3", "f" * 64)


def json_round_trip(request: WireRequest) -> WireRequest:
    path, body = json_v2.encode_request(request)
    _, _, device, operation = path.split("/")[1:]
    return json_v2.decode_request(device, operation, body)


def binary_round_trip(request: WireRequest) -> WireRequest:
    frame = binary_v1.encode_request(9, request)
    return binary_v1.decode_request(frame[binary_v1.HEADER.size :])


ROUND_TRIPS = {
    "json": json_round_trip,
    "xml": lambda r: xml_v1.decode_request(xml_v1.encode_request(r)),
    "binary": binary_round_trip,
}


@pytest.mark.parametrize("codec", sorted(ROUND_TRIPS))
@settings(max_examples=150, deadline=None)
@given(params=objects)
def test_every_codec_carries_every_value_exactly_so_tags_agree(
    codec: str, params: dict[str, Any]
) -> None:
    decoded = ROUND_TRIPS[codec](request_with(params))

    assert decoded == request_with(params)
    assert canonical_params(decoded.params) == canonical_params(params)
    assert _types(decoded.params) == _types(params)


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value).__name__


@settings(max_examples=100, deadline=None)
@given(result=objects)
def test_every_codec_carries_results_exactly(result: dict[str, Any]) -> None:
    status, body = json_v2.encode_answer(result)
    frame = binary_v1.encode_answer(3, result)

    assert json_v2.decode_answer(status, body) == result
    assert xml_v1.decode_answer(xml_v1.encode_answer(result)) == result
    assert binary_v1.decode_answer(FrameType.RESULT, frame[binary_v1.HEADER.size :]) == result


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_code_round_trips_in_every_codec(code: ErrorCode) -> None:
    error = WireError(code, "why <it> failed & more")
    status, body = json_v2.encode_answer(error)
    frame = binary_v1.encode_answer(3, error)

    assert status == json_v2.HTTP_STATUS[code]
    assert json_v2.decode_answer(status, body) == error
    assert xml_v1.decode_answer(xml_v1.encode_answer(error)) == error
    assert binary_v1.decode_answer(FrameType.ERROR, frame[binary_v1.HEADER.size :]) == error


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), 2**63, -(2**63) - 1, b"bytes", (1, 2), {1: "x"}, "\ud800"],
    ids=["nan", "inf", "int too big", "int too small", "bytes", "tuple", "int key", "surrogate"],
)
def test_values_no_protocol_carries_exactly_are_refused(value: object) -> None:
    with pytest.raises(WireDecodeError):
        check_value({"v": value})


def test_values_nested_beyond_the_limit_are_refused() -> None:
    deep: Any = 1
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(WireDecodeError, match="deeper"):
        check_value(deep)


@pytest.mark.parametrize(
    ("device", "operation", "nonce", "tag"),
    [
        ("000D6F01", "read_identity", "n", "t"),
        (DEVICE, "Read Identity", "n", "t"),
        (DEVICE, "read_identity", "", "t"),
        (DEVICE, "read_identity", "n", "t" * 129),
        (DEVICE, "read_identity", "n", "tag with spaces"),
    ],
    ids=["short device", "bad operation", "empty nonce", "long tag", "tag with spaces"],
)
def test_malformed_request_fields_are_refused_by_every_decoder(
    device: str, operation: str, nonce: str, tag: str
) -> None:
    request = WireRequest(device, operation, {}, nonce, tag)
    body = msgpack.packb([device, operation, nonce, tag, {}])
    xml = xml_v1.encode_request(request)
    with pytest.raises(WireDecodeError):
        json_v2.decode_request(device, operation, json_v2.encode_request(request)[1])
    with pytest.raises(WireDecodeError):
        xml_v1.decode_request(xml)
    with pytest.raises(WireDecodeError):
        binary_v1.decode_request(body)


# --- JSON --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1]",
        b'{"nonce": "n", "tag": "t", "params": []}',
        b'{"nonce": NaN}',
        b'{"nonce": "n", "tag": "t", "params": {"x": 1e400}}',
        b"\xff\xfe{}",
    ],
    ids=["not JSON", "array", "params not an object", "NaN", "overflowing float", "not UTF-8"],
)
def test_a_json_request_that_breaks_the_protocol_is_refused(body: bytes) -> None:
    with pytest.raises(WireDecodeError):
        json_v2.decode_request(DEVICE, "read_identity", body)


def test_a_json_request_beyond_its_size_limit_is_refused() -> None:
    body = b'{"nonce":"n","tag":"t","params":{"p":"' + b"x" * json_v2.MAX_REQUEST_BYTES + b'"}}'
    with pytest.raises(WireDecodeError, match="larger"):
        json_v2.decode_request(DEVICE, "read_identity", body)


def test_a_json_batch_keeps_order_and_refuses_only_its_malformed_operations() -> None:
    good = request_with({"bands": [1, 2]})
    body = json_v2.encode_batch([good, good], 1500)
    doc = body.replace(b'"device":"000D6F0100000001"', b'"device":"nope"', 1)

    wait_ms, items = json_v2.decode_batch(doc)

    assert wait_ms == 1500
    assert isinstance(items[0], WireError)
    assert items[0].code is ErrorCode.BAD_REQUEST
    assert items[1] == good


@pytest.mark.parametrize("count", [0, json_v2.MAX_BATCH_OPERATIONS + 1])
def test_a_json_batch_of_no_or_too_many_operations_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match="batch holds"):
        json_v2.encode_batch([request_with({})] * count, 100)


def test_a_json_batch_answer_marks_silent_and_garbled_operations_alone() -> None:
    body = json_v2.encode_batch_answer(
        [
            json_v2.encode_answer({"ok": True}),
            None,
            (200, b'"garbled"'),
            json_v2.encode_answer(WireError(ErrorCode.BUSY, "full")),
        ]
    )

    answers = json_v2.decode_batch_answer(body, 4)

    assert answers[0] == {"ok": True}
    assert answers[1] is None
    assert isinstance(answers[2], WireDecodeError)
    assert answers[3] == WireError(ErrorCode.BUSY, "full")
    with pytest.raises(WireDecodeError):
        json_v2.decode_batch_answer(body, 3)


def test_a_json_error_with_an_unknown_code_is_undecodable() -> None:
    with pytest.raises(WireDecodeError, match="unknown error code"):
        json_v2.decode_answer(418, b'{"error": "TEAPOT", "message": "short and stout"}')


# --- XML ---------------------------------------------------------------------------------

NS = xml_v1.NS
HOSTILE_XML = {
    "doctype": f'<!DOCTYPE request><request xmlns="{NS}"/>',
    "internal entity": (
        '<!DOCTYPE r [<!ENTITY e "boom">]>'
        f'<request xmlns="{NS}" device="{DEVICE}" operation="o" nonce="n" tag="t">'
        '<params><m k="x"><s>&e;</s></m></params></request>'
    ),
    "billion laughs": (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        f'<request xmlns="{NS}"><params><m k="x"><s>&lol2;</s></m></params></request>'
    ),
    "external entity": (
        '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        f'<request xmlns="{NS}"><params><m k="x"><s>&xxe;</s></m></params></request>'
    ),
    "undeclared entity": (
        f'<request xmlns="{NS}"><params><m k="x"><s>&xxe;</s></m></params></request>'
    ),
    "no namespace": (
        f'<request device="{DEVICE}" operation="o" nonce="n" tag="t"><params/></request>'
    ),
    "unknown value element": (
        f'<request xmlns="{NS}" device="{DEVICE}" operation="o" nonce="n" tag="t">'
        '<params><m k="x"><date>2026</date></m></params></request>'
    ),
    "text between elements": (
        f'<request xmlns="{NS}" device="{DEVICE}" operation="o" nonce="n" tag="t">'
        '<params>smuggled<m k="x"><i>1</i></m></params></request>'
    ),
    "integer with junk": (
        f'<request xmlns="{NS}" device="{DEVICE}" operation="o" nonce="n" tag="t">'
        '<params><m k="x"><i>12abc</i></m></params></request>'
    ),
    "duplicate member": (
        f'<request xmlns="{NS}" device="{DEVICE}" operation="o" nonce="n" tag="t">'
        '<params><m k="x"><i>1</i></m><m k="x"><i>2</i></m></params></request>'
    ),
    "not well-formed": f'<request xmlns="{NS}"><params>',
}


@pytest.mark.parametrize("document", list(HOSTILE_XML.values()), ids=list(HOSTILE_XML))
def test_a_hostile_or_malformed_xml_request_is_refused(document: str) -> None:
    with pytest.raises(WireDecodeError):
        xml_v1.decode_request(document.encode())


def test_an_xml_document_in_another_encoding_is_refused() -> None:
    document = f'<?xml version="1.0" encoding="UTF-16"?><request xmlns="{NS}"/>'
    with pytest.raises(WireDecodeError):
        xml_v1.decode_request(document.encode("utf-16"))


def test_an_xml_request_beyond_its_size_limit_is_refused() -> None:
    huge = request_with({"text": "x" * xml_v1.MAX_REQUEST_BYTES})
    with pytest.raises(WireDecodeError, match="larger"):
        xml_v1.decode_request(xml_v1.encode_request(huge))


def test_xml_values_nested_beyond_the_limit_are_refused() -> None:
    inner = "<i>1</i>"
    for _ in range(MAX_DEPTH + 2):
        inner = f"<l>{inner}</l>"
    document = (
        f'<request xmlns="{NS}" device="{DEVICE}" operation="o" nonce="n" tag="t">'
        f'<params><m k="x">{inner}</m></params></request>'
    )
    with pytest.raises(WireDecodeError, match="deeper"):
        xml_v1.decode_request(document.encode())


def test_xml_carries_strings_xml_itself_cannot_hold() -> None:
    params = {"text": "bell\x07 nul\x00 cr\r \ufffe", "key with\ttab?": "no"}
    with pytest.raises(WireDecodeError, match="key"):
        check_value(params)
    del params["key with\ttab?"]
    assert xml_v1.decode_request(xml_v1.encode_request(request_with(params))).params == params


# --- binary ------------------------------------------------------------------------------


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_frames_are_read_back_one_by_one() -> None:
    first = binary_v1.encode_request(1, request_with({"a": 1}))
    second = binary_v1.encode_answer(2, WireError(ErrorCode.BUSY, "full"))
    reader = _reader(first + second)

    kind, correlation, body = await binary_v1.read_frame(reader, binary_v1.MAX_REQUEST_FRAME)
    assert (kind, correlation) == (FrameType.REQUEST, 1)
    assert binary_v1.decode_request(body) == request_with({"a": 1})
    kind, correlation, body = await binary_v1.read_frame(reader, binary_v1.MAX_REQUEST_FRAME)
    assert (kind, correlation) == (FrameType.ERROR, 2)
    with pytest.raises(EOFError):
        await binary_v1.read_frame(reader, binary_v1.MAX_REQUEST_FRAME)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (struct.pack(">IBI", binary_v1.MAX_REQUEST_FRAME + 1, 0x10, 1), "outside"),
        (struct.pack(">IBI", 2, 0x10, 1), "outside"),
        (struct.pack(">IBI", 5, 0x7F, 1), "unknown frame type"),
        (b"\x00\x00\x00", "truncated frame header"),
        (struct.pack(">IBI", 50, 0x10, 1) + b"short", "truncated frame body"),
    ],
    ids=[
        "oversized",
        "shorter than its header",
        "unknown type",
        "truncated header",
        "truncated body",
    ],
)
async def test_a_broken_frame_stream_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        await binary_v1.read_frame(_reader(data), binary_v1.MAX_REQUEST_FRAME)


@pytest.mark.parametrize(
    "body",
    [
        b"\xc1",
        msgpack.packb([DEVICE, "read_identity", "n", "t", {}]) + b"\x00",
        msgpack.packb([DEVICE, "read_identity", "n", "t", {"b": b"raw"}], use_bin_type=True),
        msgpack.packb([DEVICE, "read_identity", "n", "t", {"x": msgpack.ExtType(5, b"e")}]),
        msgpack.packb([DEVICE, "read_identity", "n", "t", {1: "int key"}]),
        msgpack.packb([DEVICE, "read_identity", "n", "t"]),
        msgpack.packb({"device": DEVICE}),
    ],
    ids=[
        "never-used byte",
        "trailing bytes",
        "bin type",
        "extension type",
        "int key",
        "four fields",
        "map",
    ],
)
def test_a_request_body_that_breaks_the_protocol_is_refused(body: bytes) -> None:
    with pytest.raises(WireDecodeError):
        binary_v1.decode_request(body)


def test_the_greeting_announces_the_session_limit() -> None:
    frame = binary_v1.welcome(17)

    assert binary_v1.decode_welcome(frame[binary_v1.HEADER.size :]) == 17
    with pytest.raises(WireDecodeError):
        binary_v1.decode_welcome(binary_v1.pack({"protocol": "s1-bin/9", "sessionLimit": 3}))
