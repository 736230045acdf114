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

import aiohttp

from s1adopt.adapters.headend.coalesce import BatchingHeadEnd
from s1adopt.adapters.headend.http_client import HTTP_ERRORS, read_limited, transient_of
from s1adopt.adapters.headend.policy import Fault, RetryPolicy, Transient
from s1adopt.formats.wire import json_v2
from s1adopt.formats.wire.values import Answer, WireDecodeError, WireError, WireRequest

__all__ = ["BATCH_GRACE", "JsonHttpHeadEnd", "RetryPolicy"]  # RetryPolicy: bootstrap's import

BATCH_GRACE = 2.0


class JsonHttpHeadEnd(BatchingHeadEnd):
    """``services.ports.HeadEnd`` for one ``s1-json/2`` head end."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        name: str,
        policy: RetryPolicy | None = None,
        session_limit: int = json_v2.MAX_BATCH_OPERATIONS,
    ) -> None:
        super().__init__(name, session_limit, policy, json_v2.MAX_BATCH_OPERATIONS)
        self._session, self._url = session, base_url.rstrip("/") + json_v2.BATCH_PATH

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
