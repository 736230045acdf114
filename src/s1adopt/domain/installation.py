"""The installation aggregate and its migration state machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from s1adopt.domain.errors import IllegalTransition
from s1adopt.domain.failures import (
    COMMISSIONED_OUTCOME,
    ELECTRICITY_ONLY_OUTCOME,
    FailureReason,
)

MAX_FAILED_ATTEMPTS = 5  # TMAD: five or more failed migration attempts exclude an installation


class InstallationType(StrEnum):
    """How the installation communicated before migration."""

    ACTIVE = "Active"  # communicating in smart mode
    DORMANT = "Dormant"  # gone dumb: needs an upgrade and a customer notice first
    MIXED = "Mixed"  # some devices active, some dormant


class MigrationState(StrEnum):
    """Where an installation stands in migration."""

    VALIDATED = "validated"  # passed Data Validation; awaits Device Testing
    TESTED = "tested"  # devices answered and matched the data; awaits Commissioning
    COMMISSIONING = "commissioning"  # DCC credentials generated and stored; being installed
    COMMISSIONED = "commissioned"  # adopted: operated only through DCC (terminal)
    FAILED = "failed"  # this attempt failed with a reason; may be retried
    EXCLUDED = "excluded"  # will not be migrated (terminal)

    @property
    def is_terminal(self) -> bool:
        """No further migration work is scheduled in a terminal state (FAILED waits for a retry)."""
        return self in _TERMINAL


_TERMINAL = frozenset({MigrationState.COMMISSIONED, MigrationState.FAILED, MigrationState.EXCLUDED})

MIGRATION_TRANSITIONS: dict[MigrationState, frozenset[MigrationState]] = {
    MigrationState.VALIDATED: frozenset({MigrationState.TESTED, MigrationState.FAILED}),
    MigrationState.TESTED: frozenset({MigrationState.COMMISSIONING, MigrationState.FAILED}),
    MigrationState.COMMISSIONING: frozenset({MigrationState.COMMISSIONED, MigrationState.FAILED}),
    MigrationState.FAILED: frozenset({MigrationState.VALIDATED, MigrationState.EXCLUDED}),
    MigrationState.COMMISSIONED: frozenset(),
    MigrationState.EXCLUDED: frozenset(),
}


def outcome_label(
    state: MigrationState, reason: FailureReason | str | None, electricity_only: bool
) -> str | None:
    """The outcome shown in summaries and reports: ``commissioned`` (or
    ``commissioned_electricity_only`` under GT01), the failure reason code of a failed or
    excluded installation, or None while migration work remains."""
    if state is MigrationState.COMMISSIONED:
        return ELECTRICITY_ONLY_OUTCOME if electricity_only else COMMISSIONED_OUTCOME
    if state in (MigrationState.FAILED, MigrationState.EXCLUDED):
        return str(reason) if reason else str(state)
    return None


@dataclass(frozen=True, slots=True)
class StateChange:
    """One step of an installation's migration history."""

    state: MigrationState
    at: datetime
    reason: FailureReason | None = None
    detail: str = ""


@dataclass(slots=True)
class Installation:
    """An installation being migrated: its state, attempt counter and history.

    Rules: every change goes through ``_move``, which enforces ``MIGRATION_TRANSITIONS``; a
    device-touching attempt starts only from VALIDATED and counts one attempt; the
    ``MAX_FAILED_ATTEMPTS``-th failure excludes the installation instead of failing it.
    """

    reference: str
    batch_id: int
    installation_type: InstallationType
    state: MigrationState
    attempts: int = 0
    failure_reason: FailureReason | None = None
    failure_detail: str = ""
    electricity_only: bool = False  # GT01: the gas side is left out of this migration
    history: list[StateChange] = field(default_factory=list)

    @classmethod
    def validated(
        cls, reference: str, batch_id: int, kind: InstallationType, at: datetime
    ) -> Installation:
        """An installation that passed Data Validation."""
        inst = cls(reference, batch_id, kind, MigrationState.VALIDATED)
        inst.history.append(StateChange(MigrationState.VALIDATED, at))
        return inst

    @classmethod
    def rejected(
        cls,
        reference: str,
        batch_id: int,
        kind: InstallationType,
        reason: FailureReason,
        detail: str,
        at: datetime,
    ) -> Installation:
        """An installation that failed Data Validation; no device was touched."""
        inst = cls(reference, batch_id, kind, MigrationState.FAILED, 0, reason, detail)
        inst.history.append(StateChange(MigrationState.FAILED, at, reason, detail))
        return inst

    @property
    def outcome(self) -> str | None:
        """``commissioned``, the failure reason code, or None while work remains."""
        return outcome_label(self.state, self.failure_reason, self.electricity_only)

    def leave_out_gas(self, detail: str, at: datetime) -> None:
        """GT01: only the gas side failed, on HAN errors; migrate the electricity side alone.

        Allowed only during Device Testing (state VALIDATED); recorded in the history.
        """
        if self.state is not MigrationState.VALIDATED:
            raise IllegalTransition(
                f"installation {self.reference}: the gas side can be left out only in testing"
            )
        self.electricity_only = True
        self.history.append(
            StateChange(
                self.state, at, FailureReason.HAN_FAILURE, f"GT01, gas side left out: {detail}"
            )
        )

    def pass_device_testing(self, at: datetime) -> None:
        """Every device answered and matched the migration data."""
        if self.state is MigrationState.VALIDATED:
            self.attempts += 1
        self._move(MigrationState.TESTED, at)

    def begin_commissioning(self, at: datetime) -> None:
        """DCC's new credentials are generated and stored; installing them may start."""
        self._move(MigrationState.COMMISSIONING, at)

    def complete_commissioning(self, at: datetime) -> None:
        """Every device holds DCC's credentials and is Commissioned in the SMI."""
        self._move(MigrationState.COMMISSIONED, at)

    def fail(self, reason: FailureReason, detail: str, at: datetime) -> None:
        """This attempt failed; the last allowed failure excludes the installation."""
        if self.state is MigrationState.VALIDATED:
            self.attempts += 1  # the attempt that failed in Device Testing
        self._move(MigrationState.FAILED, at, reason, detail)
        self.failure_reason, self.failure_detail = reason, detail
        if self.attempts >= MAX_FAILED_ATTEMPTS:
            self._move(MigrationState.EXCLUDED, at, FailureReason.TOO_MANY_ATTEMPTS, detail)
            self.failure_reason = FailureReason.TOO_MANY_ATTEMPTS

    def retry(self, at: datetime) -> None:
        """Schedule a failed installation for another attempt (not after a validation failure
        whose data must be corrected and re-sent)."""
        self._move(MigrationState.VALIDATED, at)
        self.failure_reason, self.failure_detail = None, ""

    def _move(
        self,
        new: MigrationState,
        at: datetime,
        reason: FailureReason | None = None,
        detail: str = "",
    ) -> None:
        if new not in MIGRATION_TRANSITIONS[self.state]:
            raise IllegalTransition(
                f"installation {self.reference}: migration state {self.state} cannot become {new}"
            )
        self.state = new
        self.history.append(StateChange(new, at, reason, detail))
