"""The ``services.ports.HeadEnd`` port, once for every protocol: what the adapters share.

Rules:
- every attempt carries a fresh nonce and the tag the caller's credential gives for it
  (``formats.device_auth.request_tag``), so a retry is a new request to the device;
- at most ``session_limit`` attempts are in progress at once per head end (the limit its
  listing announces); others wait their turn before they count against the deadline; the
  limit holds in this process, or across every process of a cluster when the adapter is
  given a shared ``SessionLimiter`` (``adapters.work.sessions``);
- parameters no protocol carries are refused (``CommandRejected``) before anything is sent;
- retries, deadline and error mapping follow ``policy``.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from s1adopt.adapters.headend.policy import NOT_REPEATABLE, RetryPolicy, with_retries
from s1adopt.domain.devices import ReportedDevice
from s1adopt.domain.errors import CommandRejected, ProtocolViolation
from s1adopt.domain.identities import Eui64
from s1adopt.domain.operations import DeviceOperation, Params, Value
from s1adopt.domain.secrets import Secret
from s1adopt.formats.device_auth import new_nonce, request_tag, seal_new_credential
from s1adopt.formats.wire.values import Answer, WireDecodeError, WireRequest, check_value


class SessionLimiter(Protocol):
    """Admits one session at a time to a head end, within its limit."""

    def session(self) -> AbstractAsyncContextManager[object]:
        """Held for the duration of one attempt."""
        ...

    async def close(self) -> None:
        """Give back what the limiter holds."""
        ...


class LocalSessions:
    """``SessionLimiter`` for one process: a semaphore of the head end's limit."""

    def __init__(self, limit: int) -> None:
        self._semaphore = asyncio.Semaphore(limit)

    def session(self) -> AbstractAsyncContextManager[object]:
        """The semaphore, held for one attempt."""
        return self._semaphore

    async def close(self) -> None:
        """Nothing to give back."""


class WireHeadEnd(ABC):
    """A head end reached through one wire protocol; subclasses carry one attempt."""

    def __init__(self, name: str, session_limit: int, policy: RetryPolicy | None) -> None:
        if session_limit < 1:
            raise ValueError(f"head end {name}: session limit {session_limit} is below 1")
        self.name, self.session_limit = name, session_limit
        self.policy = policy or RetryPolicy()
        self._sessions: SessionLimiter = LocalSessions(session_limit)

    @abstractmethod
    async def _exchange(self, request: WireRequest) -> Answer:
        """One attempt within ``policy.timeout``; raise ``policy.Transient`` for faults."""

    def share_sessions(self, limiter: SessionLimiter) -> None:
        """Count this head end's sessions with ``limiter`` (shared by a cluster's processes)
        instead of this process's own semaphore; call before the first request."""
        self._sessions = limiter

    async def close(self) -> None:
        """Release what the adapter holds (connections, shared sessions)."""
        await self._sessions.close()

    async def execute(
        self, device: Eui64, credential: Secret, operation: DeviceOperation, params: Params
    ) -> dict[str, Value]:
        """Carry out one operation of ``domain.operations.CATALOGUE`` on a device."""
        context = f"{self.name}: {device} {operation.value}"
        try:
            check_value(params)
        except WireDecodeError as exc:
            raise CommandRejected(f"{context}: parameters cannot be sent: {exc}") from exc
        device_hex = device.hex

        async def attempt() -> Answer:
            nonce = new_nonce()
            tag = request_tag(credential, operation.value, device_hex, nonce, params)
            async with self._sessions.session():
                return await self._exchange(
                    WireRequest(device_hex, operation.value, params, nonce, tag)
                )

        repeatable = operation not in NOT_REPEATABLE
        return await with_retries(attempt, self.policy, repeatable, context)

    async def read_identity(self, device: Eui64, credential: Secret) -> ReportedDevice:
        """The device's type, manufacturer, model and firmware version."""
        answer = await self.execute(device, credential, DeviceOperation.READ_IDENTITY, {})
        firmware = answer.get("firmware")
        fields = (answer.get("deviceType"), answer.get("manufacturer"), answer.get("model"))
        if not all(isinstance(f, str) for f in fields) or not isinstance(firmware, str | None):
            raise ProtocolViolation(f"{self.name}: {device}: identity answer lacks its fields")
        device_type, manufacturer, model = (str(f) for f in fields)
        return ReportedDevice(device_type, manufacturer, model, firmware)

    async def replace_credential(self, device: Eui64, current: Secret, new: Secret) -> None:
        """Install ``new`` on the device, sealed under and authenticated with ``current``."""
        params = seal_new_credential(current, new, device.hex)
        await self.execute(device, current, DeviceOperation.REPLACE_CREDENTIAL, dict(params))
