"""S1SP adapter for ``s1-json/2`` head ends (``formats.wire.json_v2``), on aiohttp.

Operations are submitted one by one through the port and coalesced here: attempts admitted
in the same turn of the event loop travel together in ``/v2/batch`` requests of at most
``MAX_BATCH_OPERATIONS``, each answered as if sent alone. The batch's ``waitMs`` is the
attempt deadline, so a silent operation comes back as ``null`` (a timeout of that operation
alone) while its batch mates keep their answers; the HTTP request itself gets
``BATCH_GRACE`` seconds more. A batch that fails as a whole (connection, timeout, garbled
document, BUSY or UNAVAILABLE for the batch) is that fault for each of its operations.
"""

from __future__ import annotations

import asyncio

import aiohttp

from s1adopt.adapters.headend.base import WireHeadEnd
from s1adopt.adapters.headend.http_client import HTTP_ERRORS, read_limited, transient_of
from s1adopt.adapters.headend.policy import Fault, RetryPolicy, Transient
from s1adopt.formats.wire import json_v2
from s1adopt.formats.wire.values import Answer, WireDecodeError, WireError, WireRequest

__all__ = ["BATCH_GRACE", "JsonHttpHeadEnd", "RetryPolicy"]  # RetryPolicy: bootstrap's import

BATCH_GRACE = 2.0
_Pending = tuple[WireRequest, "asyncio.Future[Answer]"]


class JsonHttpHeadEnd(WireHeadEnd):
    """``services.ports.HeadEnd`` for one ``s1-json/2`` head end."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        name: str,
        policy: RetryPolicy | None = None,
        session_limit: int = json_v2.MAX_BATCH_OPERATIONS,
    ) -> None:
        super().__init__(name, session_limit, policy)
        self._session, self._url = session, base_url.rstrip("/") + json_v2.BATCH_PATH
        self._pending: list[_Pending] = []
        self._flush_scheduled = False
        self._in_flight: set[asyncio.Task[None]] = set()

    async def _exchange(self, request: WireRequest) -> Answer:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Answer] = loop.create_future()
        self._pending.append((request, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    async def close(self) -> None:
        """Cancel batches still in flight."""
        for task in list(self._in_flight):
            task.cancel()

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        size = json_v2.MAX_BATCH_OPERATIONS
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

    async def _post(self, requests: list[WireRequest]) -> list[Answer | WireDecodeError | None]:
        timeout = self.policy.timeout
        body = json_v2.encode_batch(requests, int(timeout * 1000))
        try:
            async with self._session.post(
                self._url,
                data=body,
                headers={"Content-Type": json_v2.CONTENT_TYPE},
                timeout=aiohttp.ClientTimeout(total=timeout + BATCH_GRACE),
            ) as response:
                raw = await read_limited(response, json_v2.MAX_BATCH_ANSWER_BYTES)
                status = response.status
        except HTTP_ERRORS as exc:
            raise transient_of(exc) from exc
        try:
            if status == 200:
                return json_v2.decode_batch_answer(raw, len(requests))
            refusal = json_v2.decode_answer(status, raw)
        except WireDecodeError as exc:
            raise Transient(Fault.GARBLED, f"HTTP {status}: {exc}") from exc
        if not isinstance(refusal, WireError):
            raise Transient(Fault.GARBLED, f"HTTP {status} with a result")
        return [refusal] * len(requests)  # the batch as a whole refused: each operation is
