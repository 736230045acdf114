"""S1SP adapter for ``s1-xml/1`` head ends (``formats.wire.xml_v1``), on aiohttp.

One HTTP request per attempt (the protocol has no batch form); keep-alive connections of the
shared session carry them. Whatever the HTTP status, the answer document decides; a body
that is not an answer document is a garbled answer.
"""

from __future__ import annotations

import aiohttp

from s1adopt.adapters.headend.base import WireHeadEnd
from s1adopt.adapters.headend.http_client import HTTP_ERRORS, read_limited, transient_of
from s1adopt.adapters.headend.policy import Fault, RetryPolicy, Transient
from s1adopt.formats.wire import xml_v1
from s1adopt.formats.wire.values import Answer, WireDecodeError, WireRequest

_HEADERS = {"Content-Type": xml_v1.CONTENT_TYPE + "; charset=utf-8"}


class XmlHttpHeadEnd(WireHeadEnd):
    """``services.ports.HeadEnd`` for one ``s1-xml/1`` head end."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        name: str,
        policy: RetryPolicy | None = None,
        session_limit: int = 64,
    ) -> None:
        super().__init__(name, session_limit, policy)
        self._session, self._url = session, base_url.rstrip("/") + xml_v1.PATH

    async def _exchange(self, request: WireRequest) -> Answer:
        try:
            async with self._session.post(
                self._url,
                data=xml_v1.encode_request(request),
                headers=_HEADERS,
                timeout=aiohttp.ClientTimeout(total=self.policy.timeout),
            ) as response:
                raw = await read_limited(response, xml_v1.MAX_ANSWER_BYTES)
                status = response.status
        except HTTP_ERRORS as exc:
            raise transient_of(exc) from exc
        try:
            return xml_v1.decode_answer(raw)
        except WireDecodeError as exc:
            raise Transient(Fault.GARBLED, f"HTTP {status}: {exc}") from exc
