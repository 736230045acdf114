"""S1SP adapter for ``s1-bin/1`` head ends (``formats.wire.binary_v1``), on asyncio streams.

Rules:
- one TCP connection per head end, opened on first use (``HELLO``, then ``WELCOME`` must name
  the protocol) and again after it breaks; every attempt in progress is multiplexed on it
  under its own correlation id, so throughput needs no more connections;
- connecting counts against the attempt's deadline; failing to connect is a connection fault
  (the request was not sent);
- an answer whose body does not decode is a garbled answer of that request alone; a broken
  frame stream, a ``BAD_REQUEST`` under correlation 0 or the connection closing fails every
  request in progress on it as a lost connection (or garbled, for a broken stream) and drops
  the connection;
- a request without an answer by its deadline is forgotten; a late answer is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from s1adopt.adapters.headend.base import WireHeadEnd
from s1adopt.adapters.headend.policy import Fault, RetryPolicy, Transient
from s1adopt.formats.wire import binary_v1
from s1adopt.formats.wire.binary_v1 import FrameError, FrameType
from s1adopt.formats.wire.values import Answer, WireDecodeError, WireRequest

_Frame = tuple[FrameType, bytes]


class _Connection:
    """One open connection: its writer, its reader task and the requests awaiting answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.frames = binary_v1.FrameWriter(writer)
        self.waiting: dict[int, asyncio.Future[_Frame]] = {}
        self.broken: Transient | None = None
        self._next = 0
        self.task = asyncio.create_task(self._read())

    def correlation(self) -> int:
        """A correlation id not in use on this connection (never 0)."""
        while True:
            self._next = self._next % binary_v1.MAX_CORRELATION + 1
            if self._next not in self.waiting:
                return self._next

    async def _read(self) -> None:
        try:
            while True:
                kind, correlation, body = await binary_v1.read_frame(
                    self.reader, binary_v1.MAX_ANSWER_FRAME
                )
                future = self.waiting.get(correlation)
                if correlation == 0 and kind is FrameType.ERROR:
                    raise Transient(Fault.LOST, "the head end refused the frame stream")
                if future is not None and not future.done():
                    future.set_result((kind, body))
        except FrameError as exc:
            self._break(Transient(Fault.GARBLED, str(exc)))
        except Transient as fault:
            self._break(fault)
        except (EOFError, ConnectionError, OSError) as exc:
            self._break(Transient(Fault.LOST, exc.__class__.__name__))

    def _break(self, fault: Transient) -> None:
        self.broken = fault
        self.writer.close()
        for future in self.waiting.values():
            if not future.done():
                future.set_exception(fault)

    async def close(self) -> None:
        """Close the connection and stop its reader."""
        self.task.cancel()
        self.writer.close()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await self.task
            await self.writer.wait_closed()


class BinaryTcpHeadEnd(WireHeadEnd):
    """``services.ports.HeadEnd`` for one ``s1-bin/1`` head end."""

    def __init__(
        self,
        url: str,
        name: str,
        policy: RetryPolicy | None = None,
        session_limit: int = 64,
    ) -> None:
        super().__init__(name, session_limit, policy)
        parts = urlsplit(url)
        if parts.scheme != "tcp" or parts.hostname is None or parts.port is None:
            raise ValueError(f"head end {name}: {url!r} is not a tcp://host:port address")
        self._host, self._port = parts.hostname, parts.port
        self._connection: _Connection | None = None
        self._connecting = asyncio.Lock()

    async def close(self) -> None:
        """Close the connection, if one is open, and give back shared sessions."""
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
        await super().close()

    async def _exchange(self, request: WireRequest) -> Answer:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.policy.timeout
        connection = await self._connected(deadline)
        correlation = connection.correlation()
        future: asyncio.Future[_Frame] = loop.create_future()
        connection.waiting[correlation] = future
        try:
            if connection.broken is not None:
                raise connection.broken
            connection.frames.send(binary_v1.encode_request(correlation, request))
            async with asyncio.timeout_at(deadline):
                await connection.frames.drain()
                kind, body = await future
        except TimeoutError:
            raise Transient(Fault.TIMEOUT, f"no answer within {self.policy.timeout:g} s") from None
        except (ConnectionError, OSError) as exc:
            raise Transient(Fault.LOST, exc.__class__.__name__) from exc
        finally:
            del connection.waiting[correlation]
        try:
            return binary_v1.decode_answer(kind, body)
        except WireDecodeError as exc:
            raise Transient(Fault.GARBLED, str(exc)) from exc

    async def _connected(self, deadline: float) -> _Connection:
        """The open connection, opened (with its greeting) if there is none."""
        current = self._connection
        if current is not None and current.broken is None:
            return current
        try:
            async with asyncio.timeout_at(deadline), self._connecting:
                current = self._connection
                if current is not None and current.broken is None:
                    return current
                if current is not None:
                    await current.close()
                self._connection = await self._open()
                return self._connection
        except TimeoutError:
            raise Transient(Fault.CONNECT, "connecting took too long") from None
        except (ConnectionError, OSError) as exc:
            raise Transient(Fault.CONNECT, f"{exc.__class__.__name__} {exc}") from exc

    async def _open(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self._host, self._port)
        try:
            writer.write(binary_v1.hello())
            kind, _, body = await binary_v1.read_frame(reader, binary_v1.MAX_ANSWER_FRAME)
            if kind is not FrameType.WELCOME:
                raise WireDecodeError(f"expected WELCOME, got {kind.name}")
            binary_v1.decode_welcome(body)
        except (WireDecodeError, EOFError) as exc:
            writer.close()
            raise Transient(Fault.GARBLED, f"greeting: {exc}") from exc
        except BaseException:
            writer.close()
            raise
        return _Connection(reader, writer)
