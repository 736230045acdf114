"""S1SP adapter for head ends speaking ``s1-json/1`` (JSON over HTTP), on aiohttp.

Device operations are submitted one by one through the port, and coalesced here: operations
submitted in the same turn of the event loop travel together in ``/v1/batch`` requests of at
most ``MAX_BATCH_OPERATIONS``, each answered as if it had been sent alone. This saves round
trips and per-request overhead without changing what each device sees.

Rules:
- Each request has a deadline; a head end that does not answer in time, refuses the
  connection, answers BUSY or a server error is retried with exponential backoff up to
  ``retries`` times, then reported as ``HeadEndUnavailable``.
- Device-level answers are not retried here: NO_RESPONSE becomes ``DeviceUnreachable``,
  AUTH_FAILED ``DeviceAuthenticationFailed``; anything the protocol does not allow becomes
  ``ProtocolViolation``. Migration's retry strategy decides about later attempts.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from s1adopt.domain.devices import ReportedDevice
from s1adopt.domain.errors import (
    DeviceAuthenticationFailed,
    DeviceUnreachable,
    HeadEndUnavailable,
    ProtocolViolation,
)
from s1adopt.domain.identities import Eui64
from s1adopt.domain.secrets import Secret
from s1adopt.formats.headend_wire import (
    BATCH_PATH,
    MAX_BATCH_BODY_BYTES,
    MAX_BATCH_OPERATIONS,
    ErrorCode,
    Operation,
    auth_tag,
    new_nonce,
    seal_new_credential,
)

MAX_ANSWER_BYTES = 4 * MAX_BATCH_BODY_BYTES
_Pending = tuple[dict[str, str], "asyncio.Future[tuple[int, dict[str, Any]]]"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How transient head-end faults are retried."""

    retries: int = 3
    first_backoff: float = 0.05
    timeout: float = 10.0


class _Transient(Exception):
    pass


class JsonHttpHeadEnd:
    """``services.ports.HeadEnd`` for one ``s1-json/1`` head end."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        name: str,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._session, self._base, self._name = session, base_url.rstrip("/"), name
        self._policy = policy or RetryPolicy()
        self._pending: list[_Pending] = []
        self._flush_scheduled = False
        self._in_flight: set[asyncio.Task[None]] = set()

    async def read_identity(self, device: Eui64, credential: Secret) -> ReportedDevice:
        """Read the device's type, manufacturer, model and firmware."""
        nonce = new_nonce()
        body = {
            "nonce": nonce,
            "tag": auth_tag(credential, Operation.READ_IDENTITY, device.hex, nonce, b""),
        }
        answer = await self._call(device, Operation.READ_IDENTITY, body)
        try:
            firmware = answer["firmware"]
            return ReportedDevice(
                str(answer["deviceType"]),
                str(answer["manufacturer"]),
                str(answer["model"]),
                None if firmware is None else str(firmware),
            )
        except (KeyError, TypeError) as exc:
            raise ProtocolViolation(f"{self._name}: identity answer lacks {exc}") from exc

    async def replace_credential(self, device: Eui64, current: Secret, new: Secret) -> None:
        """Install ``new`` on the device, authenticated with ``current``."""
        seal_nonce, sealed = seal_new_credential(current, new, device.hex)
        nonce = new_nonce()
        tag = auth_tag(
            current, Operation.REPLACE_CREDENTIAL, device.hex, nonce, bytes.fromhex(sealed)
        )
        body = {"nonce": nonce, "tag": tag, "sealNonce": seal_nonce, "sealed": sealed}
        answer = await self._call(device, Operation.REPLACE_CREDENTIAL, body)
        if answer.get("replaced") is not True:
            raise ProtocolViolation(f"{self._name}: credential replacement not confirmed")

    async def _call(self, device: Eui64, op: Operation, body: dict[str, str]) -> dict[str, Any]:
        policy = self._policy
        delay = policy.first_backoff
        operation = {"device": device.hex, "op": op.value, **body}
        for attempt in range(policy.retries + 1):
            try:
                status, answer = await self._submit(operation)
                return self._interpret(device, op, status, answer)
            except _Transient as exc:
                if attempt == policy.retries:
                    raise HeadEndUnavailable(
                        f"{self._name}: {exc} (after {policy.retries + 1} tries)"
                    ) from exc
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def _interpret(
        self, device: Eui64, op: Operation, status: int, answer: dict[str, Any]
    ) -> dict[str, Any]:
        if status == 200:
            return answer
        code = answer.get("error")
        message = f"{device} {op}: {answer.get('message', code)}"
        if code == ErrorCode.NO_RESPONSE:
            raise DeviceUnreachable(message)
        if code == ErrorCode.AUTH_FAILED:
            raise DeviceAuthenticationFailed(message)
        if code == ErrorCode.BUSY or status >= 500:
            raise _Transient(f"HTTP {status} {code or ''}".strip())
        raise ProtocolViolation(f"{self._name}: {message} (HTTP {status})")

    async def _submit(self, operation: dict[str, str]) -> tuple[int, dict[str, Any]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[int, dict[str, Any]]] = loop.create_future()
        self._pending.append((operation, future))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), MAX_BATCH_OPERATIONS):
            task = asyncio.create_task(self._send(pending[start : start + MAX_BATCH_OPERATIONS]))
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)

    async def _send(self, part: list[_Pending]) -> None:
        try:
            results = await self._post_batch([operation for operation, _ in part])
        except (_Transient, ProtocolViolation) as exc:
            for _, future in part:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(part, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _post_batch(
        self, operations: list[dict[str, str]]
    ) -> list[tuple[int, dict[str, Any]]]:
        try:
            async with self._session.post(
                self._base + BATCH_PATH,
                json={"operations": operations},
                timeout=aiohttp.ClientTimeout(total=self._policy.timeout),
            ) as response:
                raw = await response.content.read(MAX_ANSWER_BYTES + 1)
                status = response.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _Transient(f"{exc.__class__.__name__} {exc}".strip()) from exc
        if len(raw) > MAX_ANSWER_BYTES:
            raise ProtocolViolation(f"{self._name}: answer larger than {MAX_ANSWER_BYTES} bytes")
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError as exc:
            if status >= 500:
                raise _Transient(f"HTTP {status}") from exc
            raise ProtocolViolation(f"{self._name}: answer is not JSON (HTTP {status})") from exc
        if status != 200:
            code = answer.get("error") if isinstance(answer, dict) else None
            if code == ErrorCode.BUSY or status >= 500:
                raise _Transient(f"HTTP {status} {code or ''}".strip())
            raise ProtocolViolation(f"{self._name}: batch refused (HTTP {status}): {answer}")
        return _batch_results(self._name, answer, len(operations))


def _batch_results(name: str, answer: object, expected: int) -> list[tuple[int, dict[str, Any]]]:
    """The (status, body) of each operation, checked against the protocol."""
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list) or len(results) != expected:
        raise ProtocolViolation(f"{name}: batch answer does not hold {expected} results")
    checked: list[tuple[int, dict[str, Any]]] = []
    for result in results:
        status = result.get("status") if isinstance(result, dict) else None
        body = result.get("body") if isinstance(result, dict) else None
        if not isinstance(status, int) or not isinstance(body, dict):
            raise ProtocolViolation(f"{name}: a batch result lacks its status or body")
        checked.append((status, body))
    return checked
