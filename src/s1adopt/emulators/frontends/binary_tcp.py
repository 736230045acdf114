"""The ``s1-bin/1`` front end (``formats.wire.binary_v1``): MessagePack frames over TCP.

Rules beyond ``gate``:
- each ``REQUEST`` frame is carried on its own, so answers leave in the order the core gives
  them, each with its request's correlation id; ``HELLO`` is answered ``WELCOME``;
- a request body that does not decode is answered BAD_REQUEST under its correlation id, and
  the connection goes on; a broken frame stream (truncated, oversized, unknown frame type)
  is answered with one BAD_REQUEST under correlation 0, and the connection is closed;
- a silent request gets no frame at all; a garbled answer is a ``RESULT`` frame whose body
  is not MessagePack;
- when the client hangs up, operations already with the core run to their end unseen; when
  the server stops, they are cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from contextlib import AsyncExitStack, suppress
from typing import Any

from s1adopt.emulators.frontends.gate import SessionGate, Unanswered
from s1adopt.emulators.world.core_api import HeadEndCore
from s1adopt.formats.device_auth import ErrorCode
from s1adopt.formats.wire import binary_v1
from s1adopt.formats.wire.binary_v1 import FrameError, FrameType
from s1adopt.formats.wire.values import WireDecodeError, WireError

GARBLED_BODY = b"\xc1\xc1garbled"  # 0xc1 is never used in MessagePack


async def start_binary_frontend(core: HeadEndCore, host: str, stack: AsyncExitStack) -> str:
    """Serve ``core`` in ``s1-bin/1`` on ``host`` (ephemeral port); its ``tcp://`` URL."""
    frontend = BinaryFrontend(core)
    server = await asyncio.start_server(frontend.connection, host, 0)
    stack.push_async_callback(frontend.stop, server)
    port = int(server.sockets[0].getsockname()[1])
    return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


class BinaryFrontend:
    """One ``s1-bin/1`` head end: its connections and the operations they carry."""

    def __init__(self, core: HeadEndCore) -> None:
        self._gate = SessionGate(core)
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def stop(self, server: asyncio.Server) -> None:
        """Stop listening, hang up every connection, cancel operations, wait for them all."""
        server.close()
        for writer in list(self._writers):
            writer.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, *self._connections, return_exceptions=True)
        await server.wait_closed()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection until it closes or breaks the frame stream."""
        current = asyncio.current_task()
        if current is not None:
            self._connections.add(current)
        self._writers.add(writer)
        try:
            await self._frames(reader, writer)
        except ConnectionError:
            pass
        finally:
            writer.close()
            self._writers.discard(writer)
            if current is not None:
                self._connections.discard(current)

    async def _frames(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames = binary_v1.FrameWriter(writer)
        while True:
            try:
                kind, correlation, body = await binary_v1.read_frame(
                    reader, binary_v1.MAX_REQUEST_FRAME
                )
            except EOFError:
                return
            except FrameError as exc:
                writer.write(_error(0, ErrorCode.BAD_REQUEST, str(exc)))
                await writer.drain()
                return
            if kind is FrameType.HELLO:
                frames.send(binary_v1.welcome(self._gate.core.session_limit))
            elif kind is FrameType.REQUEST:
                self._spawn(self._answer(frames, correlation, body))
            else:
                message = f"a {kind.name} frame is not a request"
                frames.send(_error(correlation, ErrorCode.BAD_REQUEST, message))

    async def _answer(self, frames: binary_v1.FrameWriter, correlation: int, body: bytes) -> None:
        try:
            request = binary_v1.decode_request(body)
        except WireDecodeError as exc:
            frame = _error(correlation, ErrorCode.BAD_REQUEST, str(exc))
        else:
            outcome = await self._gate.carry(request)
            if outcome is Unanswered.SILENT:
                return
            if outcome is Unanswered.GARBLED:
                frame = binary_v1.frame(FrameType.RESULT, correlation, GARBLED_BODY)
            else:
                frame = binary_v1.encode_answer(correlation, outcome)
        if frames.writer.is_closing():
            return
        frames.send(frame)
        with suppress(ConnectionError):
            await frames.drain()


def _error(correlation: int, code: ErrorCode, message: str) -> bytes:
    return binary_v1.encode_answer(correlation, WireError(code, message))
