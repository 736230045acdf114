"""Coalescing device operations into batch requests, for protocols that have a batch form.

Rule: attempts admitted in the same turn of the event loop travel together in batches of at
most ``max_batch``, each answered as if sent alone. A batch answer's ``None`` is a timeout of
that operation alone and its decode error a garbled answer of that operation alone; a batch
that fails as a whole (connection, timeout, garbled document, BUSY or UNAVAILABLE for the
batch) is that fault for each of its operations.
"""

from __future__ import annotations

import asyncio

from s1adopt.adapters.headend.base import WireHeadEnd
from s1adopt.adapters.headend.policy import Fault, RetryPolicy, Transient
from s1adopt.formats.wire.values import Answer, WireDecodeError, WireRequest

_Pending = tuple[WireRequest, "asyncio.Future[Answer]"]


class BatchingHeadEnd(WireHeadEnd):
    """A ``WireHeadEnd`` whose subclass sends batches with ``_post``."""

    def __init__(
        self, name: str, session_limit: int, policy: RetryPolicy | None, max_batch: int
    ) -> None:
        super().__init__(name, session_limit, policy)
        self._max_batch = max_batch
        self._pending: list[_Pending] = []
        self._flush_scheduled = False
        self._in_flight: set[asyncio.Task[None]] = set()

    async def _post(self, requests: list[WireRequest]) -> list[Answer | WireDecodeError | None]:
        """Send one batch; each request's answer, decode error or None (no answer)."""
        raise NotImplementedError

    async def _exchange(self, request: WireRequest) -> Answer:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._pending.append((request, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    async def close(self) -> None:
        """Cancel batches still in flight and give back shared sessions."""
        for task in list(self._in_flight):
            task.cancel()
        await super().close()

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        size = self._max_batch
        for start in range(0, len(pending), size):
            task = asyncio.create_task(self._send(pending[start : start + size]))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _send(self, part: list[_Pending]) -> None:
        try:
            answers = await self._post([request for request, _ in part])
        except Transient as fault:
            for _, future in part:
                if not future.done():
                    future.set_exception(fault)
            return
        for (_, future), answer in zip(part, answers, strict=True):
            if future.done():
                continue
            if answer is None:
                future.set_exception(Transient(Fault.TIMEOUT, "no answer within waitMs"))
            elif isinstance(answer, WireDecodeError):
                future.set_exception(Transient(Fault.GARBLED, str(answer)))
            else:
                future.set_result(answer)
