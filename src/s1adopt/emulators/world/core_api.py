"""The contract between an emulated head end's protocol front end and its core.

A front end (JSON over HTTP, XML over HTTP, binary frames over TCP) decodes a request into
``(device_hex, operation, params, nonce, tag)`` and awaits ``HeadEndCore.execute``. The core
answers a result object or raises:
- ``CoreRefusal(code, message)``: answer the protocol's error for ``code``;
- ``Silence``: send nothing at all for this request (the client's timeout must fire);
- ``Garble``: answer bytes that do not decode in the protocol (a corrupted reply).
The front end must also refuse new requests with ``ErrorCode.BUSY`` while the head end has
``session_limit`` requests in progress, and answer ``ErrorCode.UNAVAILABLE`` for every request
while ``available`` is False.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from s1adopt.formats.device_auth import ErrorCode


class CoreRefusal(Exception):
    """The operation is answered with an error code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Silence(Exception):
    """The request gets no answer at all."""


class Garble(Exception):
    """The answer must be corrupted on the wire."""


@dataclass(slots=True)
class SessionCounts:
    """Sessions of a head end as its front ends count them: in progress now, the most ever
    in progress at once, and requests refused BUSY for being over the limit."""

    in_progress: int = 0
    peak: int = 0
    busy: int = 0

    def admit(self) -> None:
        """One more session in progress."""
        self.in_progress += 1
        self.peak = max(self.peak, self.in_progress)

    def end(self) -> None:
        """One session fewer."""
        self.in_progress -= 1


class HeadEndCore(Protocol):
    """One SMSO head end's devices and behaviour, independent of its wire protocol."""

    name: str
    cohort: str
    protocol: str
    session_limit: int
    available: bool
    sessions: SessionCounts

    async def execute(
        self, device_hex: str, operation: str, params: dict[str, Any], nonce: str, tag: str
    ) -> dict[str, Any]:
        """Carry out one device operation (see ``domain.operations.CATALOGUE``)."""
        ...
