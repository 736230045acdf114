"""Delivering signed documents to users' endpoints by HTTP POST (``ResponseEndpoint``).

Rules: ``application/xml``, one document per POST, a deadline per POST; a 2xx answer is
delivery; 4xx answers other than 408 and 429 mean the endpoint refused the document itself
(permanent); anything else (5xx, 408, 429, no connection, timeout) is worth trying again.
Only http and https URLs are used.
"""

from __future__ import annotations

from types import TracebackType
from urllib.parse import urlsplit

import aiohttp

from s1adopt.services.duis.device_ports import DeliveryFailed

RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})


class HttpEndpoint:
    """``services.duis.device_ports.ResponseEndpoint`` over aiohttp (an async context manager)."""

    def __init__(self, timeout: float = 5.0, connections: int = 64) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpEndpoint:
        connector = aiohttp.TCPConnector(limit=self._connections)
        self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, url: str, document: bytes) -> None:
        """POST one document; ``DeliveryFailed`` says why it was not taken."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise DeliveryFailed(f"endpoint {url[:80]!r} is not an http(s) URL", permanent=True)
        assert self._session is not None, "use HttpEndpoint as an async context manager"
        try:
            async with self._session.post(
                url, data=document, headers={"Content-Type": "application/xml"}
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"{exc.__class__.__name__}: {exc}"[:300]) from exc
        if 200 <= status < 300:
            return
        permanent = 400 <= status < 500 and status not in RETRYABLE_CLIENT_ERRORS
        raise DeliveryFailed(f"the endpoint answered HTTP {status}", permanent=permanent)
