"""How every head-end adapter treats faults: one deadline, retries, and one error table.

Rules:
- every attempt has a deadline (``RetryPolicy.timeout`` seconds, connecting included);
- transient faults are retried up to ``retries`` times with exponential backoff (from
  ``first_backoff``, doubling, at most ``max_backoff``, jittered down by up to half); they are
  BUSY and UNAVAILABLE answers, failures to connect, connections lost, timeouts and garbled
  (undecodable) answers. Device-level answers are never retried;
- a fault after which the operation may have been carried out (timeout, garbled answer,
  connection lost mid-request) is retried only for operations that are harmless to repeat:
  not for ``NOT_REPEATABLE`` (a repeated debt adjustment would count twice; a repeated top-up
  would be refused as a duplicate UTRN although the first was applied), whose outcome is then
  reported as unknown at once;
- a fault that outlasts the retries ends as: a timeout -> ``DeviceUnreachable`` ("no answer
  within ..."), a garbled answer -> ``ProtocolViolation``, anything else ->
  ``HeadEndUnavailable``;
- every ``ErrorCode`` maps to one domain error (``ERRORS``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from s1adopt.domain.errors import (
    CommandRejected,
    DeviceAuthenticationFailed,
    DeviceUnreachable,
    HanFailure,
    HeadEndError,
    HeadEndUnavailable,
    OperationNotSupported,
    ProtocolViolation,
)
from s1adopt.domain.operations import DeviceOperation
from s1adopt.formats.device_auth import TRANSIENT, ErrorCode
from s1adopt.formats.wire.values import Answer, Result, WireError

NOT_REPEATABLE = frozenset({DeviceOperation.ADJUST_DEBT, DeviceOperation.TOP_UP})

ERRORS: dict[ErrorCode, type[HeadEndError]] = {
    ErrorCode.NO_RESPONSE: DeviceUnreachable,
    ErrorCode.AUTH_FAILED: DeviceAuthenticationFailed,
    ErrorCode.NOT_SUPPORTED: OperationNotSupported,
    ErrorCode.REJECTED: CommandRejected,
    ErrorCode.BAD_REQUEST: CommandRejected,
    ErrorCode.HAN_FAILURE: HanFailure,
    ErrorCode.UNKNOWN_DEVICE: ProtocolViolation,  # the inventory and the head end disagree
    ErrorCode.BUSY: HeadEndUnavailable,  # once retries are spent
    ErrorCode.UNAVAILABLE: HeadEndUnavailable,  # once retries are spent
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Deadline and retries of head-end requests."""

    retries: int = 3
    first_backoff: float = 0.05
    timeout: float = 10.0
    max_backoff: float = 2.0


class Fault(Enum):
    """A transient fault, and whether the operation may have been carried out despite it."""

    BUSY = ("busy", False)
    UNAVAILABLE = ("unavailable", False)
    CONNECT = ("connection failed", False)
    LOST = ("connection lost", True)
    TIMEOUT = ("no answer", True)
    GARBLED = ("garbled answer", True)

    def __init__(self, label: str, maybe_done: bool) -> None:
        self.label, self.maybe_done = label, maybe_done


class Transient(Exception):
    """A fault worth another attempt (internal to the adapters)."""

    def __init__(self, fault: Fault, detail: str = "") -> None:
        super().__init__(f"{fault.label}: {detail}" if detail else fault.label)
        self.fault = fault


_FAULT_OF_CODE = {ErrorCode.BUSY: Fault.BUSY, ErrorCode.UNAVAILABLE: Fault.UNAVAILABLE}


def domain_error(error: WireError, context: str) -> HeadEndError:
    """The domain error a head end's error code stands for."""
    return ERRORS[error.code](f"{context}: {error.code.value}: {error.message}")


def final_error(fault: Transient, context: str, policy: RetryPolicy, tries: int) -> HeadEndError:
    """The domain error a transient fault ends as once no further attempt is made."""
    after = f"after {tries} {'try' if tries == 1 else 'tries'}"
    if fault.fault is Fault.TIMEOUT:
        return DeviceUnreachable(f"{context}: no answer within {policy.timeout:g} s ({after})")
    if fault.fault is Fault.GARBLED:
        return ProtocolViolation(f"{context}: {fault} ({after})")
    return HeadEndUnavailable(f"{context}: {fault} ({after})")


async def with_retries(
    attempt: Callable[[], Awaitable[Answer]],
    policy: RetryPolicy,
    repeatable: bool,
    context: str,
) -> Result:
    """The result of ``attempt``, retried per the rules above; else the final domain error."""
    delay = policy.first_backoff
    for tries in range(1, policy.retries + 2):
        try:
            answer = await attempt()
            if isinstance(answer, WireError):
                if answer.code not in TRANSIENT:
                    raise domain_error(answer, context)
                raise Transient(_FAULT_OF_CODE[answer.code], answer.message)
            return answer
        except Transient as fault:
            if tries > policy.retries or (fault.fault.maybe_done and not repeatable):
                raise final_error(fault, context, policy, tries) from fault
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not secrets
        delay = min(delay * 2, policy.max_backoff)
    raise AssertionError("unreachable")
