"""What the HTTP front ends share: serving an app on loopback, bounded bodies, silence.

Rules:
- a body is read up to its limit and no further (``WireDecodeError`` beyond it);
- a silent request is held open without an answer until the client gives up (closes its
  connection) or ``SILENCE_HOLD`` seconds pass; then the connection is closed, unanswered;
- every server stops, granting ``SHUTDOWN_TIMEOUT`` to requests in flight, when the exit
  stack it was started on closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from aiohttp import web

from s1adopt.emulators.world.core_api import HeadEndCore
from s1adopt.formats.device_auth import ErrorCode
from s1adopt.formats.wire.values import WireDecodeError, WireError

SHUTDOWN_TIMEOUT = 1.0
SILENCE_HOLD = 300.0
_SILENCE_POLL = 0.05

StartFrontend = Callable[[HeadEndCore, str, AsyncExitStack], Awaitable[str]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bad_routes(answer: Callable[[WireError], web.StreamResponse]) -> Any:
    """Middleware answering a route the protocol does not have as its BAD_REQUEST error."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            message = f"{request.method} {request.path} is not an operation"
            return answer(WireError(ErrorCode.BAD_REQUEST, message))

    return middleware


def http_url(host: str, port: int) -> str:
    """The base URL of a server on ``host:port`` (IPv6 literals bracketed)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def serve_app(stack: AsyncExitStack, app: web.Application, host: str, port: int) -> int:
    """Start ``app`` on ``host:port`` until ``stack`` closes; the port it listens on."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.TCPSite(runner, host, port).start()
    return int(runner.addresses[0][1])


async def read_bounded(request: web.Request, limit: int) -> bytes:
    """The request body, if it is at most ``limit`` bytes."""
    too_large = f"request body larger than {limit} bytes"
    if request.content_length is not None and request.content_length > limit:
        raise WireDecodeError(too_large)
    raw = bytearray()
    while chunk := await request.content.readany():
        raw += chunk
        if len(raw) > limit:
            raise WireDecodeError(too_large)
    return bytes(raw)


async def hold_silence(request: web.Request, hold: float = SILENCE_HOLD) -> web.Response:
    """Answer nothing: wait for the client to give up (or ``hold``), then hang up."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + hold
    while request.transport is not None and loop.time() < give_up:
        await asyncio.sleep(_SILENCE_POLL)
    if request.transport is not None:
        request.transport.close()
    raise asyncio.CancelledError  # aiohttp drops a cancelled handler without answering
