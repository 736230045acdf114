"""What the HTTP adapters share: bounded answer reading and transport faults, classified."""

from __future__ import annotations

import aiohttp

from s1adopt.adapters.headend.policy import Fault, Transient

HTTP_ERRORS = (TimeoutError, aiohttp.ClientError, OSError)


async def read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole answer body; a garbled-answer ``Transient`` if it exceeds ``limit`` bytes."""
    if response.content_length is not None and response.content_length > limit:
        raise Transient(Fault.GARBLED, f"answer larger than {limit} bytes")
    raw = bytearray()
    while chunk := await response.content.read(64 * 1024):
        raw += chunk
        if len(raw) > limit:
            raise Transient(Fault.GARBLED, f"answer larger than {limit} bytes")
    return bytes(raw)


def transient_of(exc: BaseException) -> Transient:
    """The transient fault an aiohttp exception stands for."""
    name = exc.__class__.__name__
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return Transient(Fault.TIMEOUT, name)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Transient(Fault.CONNECT, f"{name} {exc}")
    return Transient(Fault.LOST, f"{name} {exc}".strip())
