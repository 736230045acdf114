"""The Migration Error Handling and Retry Strategy (MEHRS) as rules over failure classes.

Rules:
- a failure of class FINAL excludes the installation with its own reason;
- the ``max_attempts``-th failed attempt (default 5: TMAD's "five or more failed migration
  attempts") excludes the installation with ``too_many_attempts``;
- otherwise a TRANSIENT failure is retried automatically on a later migration day: after the
  n-th failed attempt, ``backoff_days[n-1]`` days later (the last entry repeats);
- a DATA failure waits for a corrected record from the SMSO (no automatic retry).
The same rules drive the real programme and the planner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from s1adopt.domain.failures import FailureClass, FailureReason

MAX_FAILED_ATTEMPTS = 5  # TMAD: five or more failed migration attempts exclude an installation


class AfterFailure(StrEnum):
    """What happens to an installation after a failed attempt."""

    RETRY = "retry"  # retried automatically on ``retry_on``
    AWAIT_DATA = "await_data"  # waits for a corrected migration record
    EXCLUDE = "exclude"  # excluded from migration (terminal)


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """The decision for one failed attempt."""

    action: AfterFailure
    reason: FailureReason  # the reason recorded (``too_many_attempts`` when that excludes)
    retry_on: date | None = None  # the first migration day the retry may run (RETRY only)


@dataclass(frozen=True, slots=True)
class RetryRules:
    """Retry and exclusion rules; ``backoff_days`` are the waits after the 1st, 2nd, ... failure."""

    max_attempts: int = MAX_FAILED_ATTEMPTS
    backoff_days: tuple[int, ...] = (1, 2, 4, 8)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if not self.backoff_days or any(d < 1 for d in self.backoff_days):
            raise ValueError(f"backoff_days must be whole days of at least 1: {self.backoff_days}")

    def backoff(self, failed_attempts: int) -> int:
        """Days to wait after the ``failed_attempts``-th failure before the retry."""
        index = min(max(failed_attempts, 1), len(self.backoff_days)) - 1
        return self.backoff_days[index]

    def after_failure(self, reason: FailureReason, attempts: int, day: date) -> RetryDecision:
        """The decision after attempt number ``attempts`` failed with ``reason`` on ``day``.

        ``attempts`` counts device-touching attempts including this one; a Data Validation
        failure (no attempt) passes 0 and is never excluded for the attempt count.
        """
        kind = reason.failure_class
        if kind is FailureClass.FINAL:
            return RetryDecision(AfterFailure.EXCLUDE, reason)
        if attempts >= self.max_attempts:
            return RetryDecision(AfterFailure.EXCLUDE, FailureReason.TOO_MANY_ATTEMPTS)
        if kind is FailureClass.DATA:
            return RetryDecision(AfterFailure.AWAIT_DATA, reason)
        return RetryDecision(
            AfterFailure.RETRY, reason, day + timedelta(days=self.backoff(attempts))
        )
