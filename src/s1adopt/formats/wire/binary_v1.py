"""``s1-bin/1``: device operations in length-prefixed MessagePack frames over TCP (MOC cohort).

A frame is ``length (4 bytes, big-endian) | type (1 byte) | correlation id (4 bytes,
big-endian) | body``, ``length`` counting type, correlation id and body. Bodies are
MessagePack (strings as str, no bin or extension types); by type:
- ``HELLO`` (client, optional, correlation 0): ``{"protocol": "s1-bin/1"}``; answered
  ``WELCOME`` ``{"protocol", "sessionLimit", "maxFrame"}``: how many requests the head end
  carries at once and the largest request frame it reads;
- ``REQUEST``: ``[device, operation, nonce, tag, params]``;
- ``RESULT``: the result object; ``ERROR``: ``[code, message]``.
Many requests travel on one connection at once; each answer carries its request's
correlation id, in any order. A request that gets no answer simply has none. A body that
does not decode spoils only its own frame; frames queued in one turn of the event loop leave
together (``FrameWriter``); a frame header that breaks the rules (length
below the header, above the reader's limit, unknown type) spoils the connection, which the
reader closes. Limits: ``MAX_REQUEST_FRAME`` for what a head end reads,
``MAX_ANSWER_FRAME`` for what a client reads.
"""

from __future__ import annotations

import asyncio
import struct
from enum import IntEnum
from typing import Any

import msgpack  # type: ignore[import-untyped]

from s1adopt.formats.wire.values import (
    Answer,
    WireDecodeError,
    WireError,
    WireRequest,
    check_object,
    checked_error,
    checked_request,
)

PROTOCOL = "s1-bin/1"
HEADER = struct.Struct(">IBI")  # length, type, correlation id
PREFIX_BYTES = 4
MIN_LENGTH = HEADER.size - PREFIX_BYTES
MAX_REQUEST_FRAME = 64 * 1024
MAX_ANSWER_FRAME = 2 * 1024 * 1024
MAX_CORRELATION = 2**32 - 1


class FrameType(IntEnum):
    """What a frame carries."""

    HELLO = 0x01
    WELCOME = 0x02
    REQUEST = 0x10
    RESULT = 0x11
    ERROR = 0x12


class FrameError(WireDecodeError):
    """The frame stream itself is broken (truncated, oversized, unknown frame type)."""


def frame(kind: FrameType, correlation: int, body: bytes) -> bytes:
    """One frame's bytes."""
    return HEADER.pack(MIN_LENGTH + len(body), kind, correlation) + body


def pack(value: Any) -> bytes:
    """A body's MessagePack bytes (of a value ``values.check_value`` accepts)."""
    return bytes(msgpack.packb(value, use_bin_type=True))


def _reject_extension(code: int, data: bytes) -> Any:
    raise WireDecodeError(f"extension type {code} is not carried")


def unpack(body: bytes) -> Any:
    """A body's value, not yet checked; ``WireDecodeError`` if it is not one MessagePack value."""
    try:
        value = msgpack.unpackb(
            body,
            raw=False,
            strict_map_key=True,
            use_list=True,
            ext_hook=_reject_extension,
        )
    except WireDecodeError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError, msgpack.UnpackException):
        raise WireDecodeError("body is not one MessagePack value") from None
    return value


async def read_frame(reader: asyncio.StreamReader, limit: int) -> tuple[FrameType, int, bytes]:
    """The next frame (type, correlation id, body); ``FrameError`` for a broken stream.

    A clean end of stream before a frame starts is ``EOFError``.
    """
    try:
        head = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise EOFError("connection closed") from None
        raise FrameError("truncated frame header") from None
    length, kind, correlation = HEADER.unpack(head)
    check_header(length, kind, limit)
    try:
        body = await reader.readexactly(length - MIN_LENGTH)
    except asyncio.IncompleteReadError:
        raise FrameError("truncated frame body") from None
    return FrameType(kind), correlation, body


class FrameWriter:
    """Frames written in the same turn of the event loop leave in one write (one syscall)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self._out: list[bytes] = []

    def send(self, data: bytes) -> None:
        """Queue ``data`` (whole frames) for the write at the end of this turn."""
        self._out.append(data)
        if len(self._out) == 1:
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if not self.writer.is_closing():
            self.writer.write(b"".join(out))

    async def drain(self) -> None:
        """Wait while the transport's buffer is above its high-water mark."""
        await self.writer.drain()


def check_header(length: int, kind: int, limit: int) -> None:
    """``FrameError`` unless a header's length is within bounds and its type known."""
    if not MIN_LENGTH <= length <= limit:
        raise FrameError(f"frame length {length} outside {MIN_LENGTH}..{limit}")
    if kind not in FrameType._value2member_map_:
        raise FrameError(f"unknown frame type {kind:#04x}")


def encode_request(correlation: int, request: WireRequest) -> bytes:
    """The ``REQUEST`` frame of one operation."""
    r = request
    return frame(
        FrameType.REQUEST,
        correlation,
        pack([r.device_hex, r.operation, r.nonce, r.tag, r.params]),
    )


def decode_request(body: bytes) -> WireRequest:
    """The operation a ``REQUEST`` body asks for."""
    fields = unpack(body)
    if not isinstance(fields, list) or len(fields) != 5:
        raise WireDecodeError("a request is [device, operation, nonce, tag, params]")
    device_hex, operation, nonce, tag, params = fields
    return checked_request(device_hex, operation, params, nonce, tag)


def encode_answer(correlation: int, answer: Answer) -> bytes:
    """The ``RESULT`` or ``ERROR`` frame of one answer."""
    if isinstance(answer, WireError):
        return frame(FrameType.ERROR, correlation, pack([answer.code.value, answer.message]))
    return frame(FrameType.RESULT, correlation, pack(answer))


def decode_answer(kind: FrameType, body: bytes) -> Answer:
    """The answer a ``RESULT`` or ``ERROR`` frame carries."""
    if kind is FrameType.RESULT:
        return check_object(unpack(body))
    if kind is FrameType.ERROR:
        fields = unpack(body)
        if not isinstance(fields, list) or len(fields) != 2:
            raise WireDecodeError("an error is [code, message]")
        return checked_error(fields[0], fields[1])
    raise WireDecodeError(f"a {kind.name} frame is not an answer")


def hello() -> bytes:
    """The client's ``HELLO`` frame."""
    return frame(FrameType.HELLO, 0, pack({"protocol": PROTOCOL}))


def welcome(session_limit: int) -> bytes:
    """The head end's ``WELCOME`` frame."""
    body = {"protocol": PROTOCOL, "sessionLimit": session_limit, "maxFrame": MAX_REQUEST_FRAME}
    return frame(FrameType.WELCOME, 0, pack(body))


def decode_welcome(body: bytes) -> int:
    """The session limit a ``WELCOME`` body announces."""
    doc = check_object(unpack(body))
    limit = doc.get("sessionLimit")
    if doc.get("protocol") != PROTOCOL or isinstance(limit, bool) or not isinstance(limit, int):
        raise WireDecodeError("WELCOME must name s1-bin/1 and an integer sessionLimit")
    if limit <= 0:
        raise WireDecodeError("WELCOME announces a session limit below 1")
    return limit
