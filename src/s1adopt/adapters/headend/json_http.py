"""S1SP adapter for head ends speaking ``s1-json/1`` (JSON over HTTP), on aiohttp.

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
    MAX_BODY_BYTES,
    ErrorCode,
    Operation,
    auth_tag,
    new_nonce,
    path_for,
    seal_new_credential,
)


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
        for attempt in range(policy.retries + 1):
            try:
                return await self._once(device, op, body)
            except _Transient as exc:
                if attempt == policy.retries:
                    raise HeadEndUnavailable(
                        f"{self._name}: {exc} (after {policy.retries + 1} tries)"
                    ) from exc
                await asyncio.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    async def _once(self, device: Eui64, op: Operation, body: dict[str, str]) -> dict[str, Any]:
        url = self._base + path_for(device.hex, op)
        try:
            async with self._session.post(
                url, json=body, timeout=aiohttp.ClientTimeout(total=self._policy.timeout)
            ) as response:
                raw = await response.content.read(MAX_BODY_BYTES + 1)
                status = response.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise _Transient(f"{exc.__class__.__name__} {exc}".strip()) from exc
        if len(raw) > MAX_BODY_BYTES:
            raise ProtocolViolation(f"{self._name}: answer larger than {MAX_BODY_BYTES} bytes")
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError as exc:
            if status >= 500:
                raise _Transient(f"HTTP {status}") from exc
            raise ProtocolViolation(f"{self._name}: answer is not JSON (HTTP {status})") from exc
        if not isinstance(answer, dict):
            raise ProtocolViolation(f"{self._name}: answer is not a JSON object")
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
