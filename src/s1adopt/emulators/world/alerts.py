"""Alerts pushed from emulated devices to a registered endpoint.

Rules:
- The endpoint is an ``http://`` URL on a loopback address (the emulated world never talks
  beyond the machine); until one is registered, alerts are counted as ``unsent``.
- ``push`` never blocks and never raises: the alert goes into a bounded queue (when it is
  full the alert is counted as ``dropped``) and one background task POSTs the queue's
  alerts in order as JSON ``{"device", "kind", "at", "headend"}``. A POST that fails or is
  answered with a status of 400 or more is counted as ``failed`` and not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

QUEUE_LIMIT = 10_000
POST_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert from one device."""

    device: str
    kind: str
    at: str
    headend: str

    def json(self) -> dict[str, str]:
        """The alert's JSON document."""
        return {"device": self.device, "kind": self.kind, "at": self.at, "headend": self.headend}


def loopback_url(url: object) -> str:
    """``url`` if it is an ``http://`` URL on a loopback host; ``ValueError`` otherwise."""
    if not isinstance(url, str) or len(url) > 2048:
        raise ValueError("the endpoint must be a URL")
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError("the endpoint must be an http:// URL")
    host = parts.hostname
    if host != "localhost":
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError(f"the endpoint host {host!r} is not a loopback address")
    return url


class AlertSink:
    """Delivers alerts to the registered endpoint in the background (see module rules)."""

    def __init__(self, queue_limit: int = QUEUE_LIMIT) -> None:
        self.endpoint: str | None = None
        self._queue: asyncio.Queue[Alert] | None = None
        self._limit = queue_limit
        self._task: asyncio.Task[None] | None = None
        self.counts = {"pushed": 0, "delivered": 0, "failed": 0, "dropped": 0, "unsent": 0}

    def set_endpoint(self, url: str | None) -> None:
        """Register the endpoint (``ValueError`` unless loopback), or None to stop sending."""
        self.endpoint = None if url is None else loopback_url(url)

    def push(self, alert: Alert) -> None:
        """Queue ``alert`` for delivery without waiting (call from the event loop)."""
        self.counts["pushed"] += 1
        if self.endpoint is None:
            self.counts["unsent"] += 1
            return
        if self._queue is None:
            self._queue = asyncio.Queue(self._limit)
        try:
            self._queue.put_nowait(alert)
        except asyncio.QueueFull:
            self.counts["dropped"] += 1
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._deliver())

    def pending(self) -> int:
        """Alerts queued and not yet sent."""
        return 0 if self._queue is None else self._queue.qsize()

    async def drain(self) -> None:
        """Wait until every queued alert was sent or failed (for tests and shutdown)."""
        if self._queue is not None and self._task is not None and not self._task.done():
            await self._queue.join()

    async def aclose(self) -> None:
        """Stop delivering; alerts still queued are dropped."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def close(self) -> None:
        """Stop delivering without waiting (outside the event loop)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _deliver(self) -> None:
        queue = self._queue
        assert queue is not None
        timeout = aiohttp.ClientTimeout(total=POST_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                alert = await queue.get()
                try:
                    await self._post(session, alert)
                finally:
                    queue.task_done()

    async def _post(self, session: aiohttp.ClientSession, alert: Alert) -> None:
        endpoint = self.endpoint
        if endpoint is None:
            self.counts["unsent"] += 1
            return
        try:
            async with session.post(endpoint, json=alert.json()) as response:
                ok = response.status < 400
        except (aiohttp.ClientError, TimeoutError, OSError):
            ok = False
        self.counts["delivered" if ok else "failed"] += 1
