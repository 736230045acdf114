"""The installation aggregate and its migration state machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from s1adopt.domain.errors import IllegalTransition
from s1adopt.domain.failures import (
    COMMISSIONED_OUTCOME,
    ELECTRICITY_ONLY_OUTCOME,
    FailureClass,
    FailureReason,
)
from s1adopt.domain.retry import AfterFailure, RetryDecision, RetryRules


class InstallationType(StrEnum):
    """How the installation communicated before migration."""

    ACTIVE = "Active"  # communicating in smart mode
    DORMANT = "Dormant"  # gone dumb: needs an upgrade and a customer notice first
    MIXED = "Mixed"  # some devices active, some dormant

    @property
    def needs_notice(self) -> bool:
        """Dormant installations: the supplier is told before the upgrade and the migration."""
        return self is not InstallationType.ACTIVE


class MigrationState(StrEnum):
    """Where an installation stands in migration."""

    VALIDATED = "validated"  # passed Data Validation; waits for authorisation, its day, a retry
    MIGRATING = "migrating"  # an attempt is under way (counted): upgrade and Device Testing
    TESTED = "tested"  # devices answered and matched the data; awaits Commissioning
    COMMISSIONING = "commissioning"  # DCC credentials generated and stored; being installed
    COMMISSIONED = "commissioned"  # adopted: operated only through DCC (terminal)
    FAILED = "failed"  # failed with a reason: waits for a retry day or corrected data
    EXCLUDED = "excluded"  # will not be migrated (terminal)

    @property
    def is_terminal(self) -> bool:
        """No further migration work is scheduled in a terminal state (FAILED waits for a retry)."""
        return self in _TERMINAL

    @property
    def in_attempt(self) -> bool:
        """An attempt is under way: device work is queued for the installation."""
        return self in _IN_ATTEMPT


_TERMINAL = frozenset({MigrationState.COMMISSIONED, MigrationState.FAILED, MigrationState.EXCLUDED})
_IN_ATTEMPT = frozenset(
    {MigrationState.MIGRATING, MigrationState.TESTED, MigrationState.COMMISSIONING}
)

MIGRATION_TRANSITIONS: dict[MigrationState, frozenset[MigrationState]] = {
    MigrationState.VALIDATED: frozenset(
        {
            MigrationState.MIGRATING,
            MigrationState.VALIDATED,  # corrected data replaced the record
            MigrationState.FAILED,  # corrected data failed Data Validation
            MigrationState.EXCLUDED,  # corrected data lacks master keys
        }
    ),
    MigrationState.MIGRATING: frozenset(
        {MigrationState.TESTED, MigrationState.FAILED, MigrationState.EXCLUDED}
    ),
    MigrationState.TESTED: frozenset(
        {MigrationState.COMMISSIONING, MigrationState.FAILED, MigrationState.EXCLUDED}
    ),
    MigrationState.COMMISSIONING: frozenset(
        {MigrationState.COMMISSIONED, MigrationState.FAILED, MigrationState.EXCLUDED}
    ),
    MigrationState.FAILED: frozenset(
        {MigrationState.VALIDATED, MigrationState.FAILED, MigrationState.EXCLUDED}
    ),
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


OPERATOR = "operator"  # the actor of operator actions and of `migrate`'s own authorisation


@dataclass(slots=True)
class Installation:
    """An installation being migrated: its state, attempt counter, programme flags and history.

    Rules:
    - every state change goes through ``_move``, which enforces ``MIGRATION_TRANSITIONS``;
    - an attempt starts only from VALIDATED, for an authorised installation that is not
      blocked, and counts one attempt (``begin_attempt``), committed before any device is
      contacted;
    - a failure is decided by ``RetryRules``: FINAL reasons and the ``max_attempts``-th failed
      attempt exclude; TRANSIENT ones wait for ``retry_on``; DATA ones wait for corrected data;
    - corrected data (``replace_data``) is accepted while no attempt is under way and the
      installation is neither commissioned nor excluded; attempts are kept.
    """

    reference: str
    batch_id: int
    installation_type: InstallationType
    state: MigrationState
    attempts: int = 0
    failure_reason: FailureReason | None = None
    failure_detail: str = ""
    electricity_only: bool = False  # GT01: the gas side is left out of this migration
    authorised_by: str | None = None  # the supplier's EUI-64, or OPERATOR
    retry_on: date | None = None  # a transient failure's first retry day
    blocked: bool = False  # blocked for migration by the operator or the supplier
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
        """An installation that failed Data Validation; no device was touched. A FINAL reason
        (missing master keys) excludes it at once."""
        state = (
            MigrationState.EXCLUDED
            if reason.failure_class is FailureClass.FINAL
            else MigrationState.FAILED
        )
        inst = cls(reference, batch_id, kind, state, 0, reason, detail)
        inst.history.append(StateChange(state, at, reason, detail))
        return inst

    @property
    def outcome(self) -> str | None:
        """``commissioned``, the failure reason code, or None while work remains."""
        return outcome_label(self.state, self.failure_reason, self.electricity_only)

    @property
    def accepts_corrected_data(self) -> bool:
        """A new record may replace this one (see the class rules)."""
        return self.state in (MigrationState.VALIDATED, MigrationState.FAILED)

    def replace_data(
        self,
        batch_id: int,
        kind: InstallationType,
        failure: tuple[FailureReason, str] | None,
        at: datetime,
    ) -> None:
        """Corrected migration data from the SMSO replaced the record (from ``batch_id``);
        ``failure`` is its Data Validation failure, if any."""
        if not self.accepts_corrected_data:
            raise IllegalTransition(
                f"installation {self.reference}: data cannot be replaced while {self.state}"
            )
        self.batch_id, self.installation_type = batch_id, kind
        self.electricity_only, self.retry_on = False, None
        if failure is None:
            self.failure_reason, self.failure_detail = None, ""
            self._move(MigrationState.VALIDATED, at, detail=f"corrected data, batch {batch_id}")
            return
        reason, detail = failure
        excluded = reason.failure_class is FailureClass.FINAL
        self._move(
            MigrationState.EXCLUDED if excluded else MigrationState.FAILED, at, reason, detail
        )
        self.failure_reason, self.failure_detail = reason, detail

    def authorise(self, by: str, at: datetime) -> None:
        """The responsible supplier (or the operator) authorised the migration."""
        if self.authorised_by != by:
            self.authorised_by = by
            self.history.append(StateChange(self.state, at, detail=f"authorised by {by}"))

    def set_blocked(self, blocked: bool, actor: str, note: str, at: datetime) -> None:
        """Block or unblock the installation for migration (audited in the history)."""
        if self.state.is_terminal and self.state is not MigrationState.FAILED:
            raise IllegalTransition(
                f"installation {self.reference} is {self.state}: blocking no longer applies"
            )
        self.blocked = blocked
        what = "blocked" if blocked else "unblocked"
        text = f"{what} for migration by {actor}" + (f": {note}" if note else "")
        self.history.append(StateChange(self.state, at, detail=text))

    def begin_attempt(self, at: datetime) -> None:
        """Start a migration attempt: counted now, before any device is contacted."""
        if self.authorised_by is None:
            raise IllegalTransition(f"installation {self.reference} is not authorised")
        if self.blocked:
            raise IllegalTransition(f"installation {self.reference} is blocked for migration")
        self._move(MigrationState.MIGRATING, at, detail=f"attempt {self.attempts + 1}")
        self.attempts += 1
        self.retry_on = None

    def leave_out_gas(self, detail: str, at: datetime) -> None:
        """GT01: only the gas side failed, on HAN errors; migrate the electricity side alone.

        Allowed only during Device Testing (state MIGRATING); recorded in the history.
        """
        if self.state is not MigrationState.MIGRATING:
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
        self._move(MigrationState.TESTED, at)

    def begin_commissioning(self, at: datetime) -> None:
        """DCC's new credentials are generated and stored; installing them may start."""
        self._move(MigrationState.COMMISSIONING, at)

    def complete_commissioning(self, at: datetime) -> None:
        """Every device holds DCC's credentials and is Commissioned in the SMI."""
        self._move(MigrationState.COMMISSIONED, at)

    def fail(
        self, reason: FailureReason, detail: str, at: datetime, rules: RetryRules | None = None
    ) -> RetryDecision:
        """The attempt failed with ``reason``; ``rules`` decide retry, wait or exclusion."""
        decision = (rules or RetryRules()).after_failure(reason, self.attempts, at.date())
        self.failure_detail = detail
        if decision.action is AfterFailure.EXCLUDE:
            if decision.reason is not reason:  # the last allowed attempt failed
                self._move(MigrationState.FAILED, at, reason, detail)
            self._move(MigrationState.EXCLUDED, at, decision.reason, detail)
        else:
            self._move(MigrationState.FAILED, at, reason, detail)
        self.failure_reason = decision.reason
        self.retry_on = decision.retry_on
        return decision

    def retry(self, at: datetime, actor: str = OPERATOR) -> None:
        """Make a failed installation ready for another attempt (by the retry rules on its
        retry day, or at once by an operator's ``installation retry``)."""
        if self.state is not MigrationState.FAILED:
            raise IllegalTransition(
                f"installation {self.reference} is {self.state}: only a failed installation "
                "can be retried"
            )
        self._move(MigrationState.VALIDATED, at, detail=f"retry ordered by {actor}")
        self.failure_reason, self.failure_detail, self.retry_on = None, "", None

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
