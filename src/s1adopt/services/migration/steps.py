"""What the step handlers share: step names, failures, credentials and saving.

Rules:
- a handler saves its units together with their next work item in one unit of work, so a
  crash at any point resumes from the last commit;
- a handler whose device work is harmless to repeat (reads only) may defer its save: its
  units' transitions then commit, with their next work item, in the chunk's next save (at the
  latest when the chunk's work ends), so a crash before it only repeats the reads;
- an attempt that fails is decided by the retry rules (``Installation.fail``), recorded as an
  attempt end for the reports, and its work item finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from s1adopt.domain.devices import CredentialPurpose, Device
from s1adopt.domain.errors import (
    CredentialError,
    DeviceAuthenticationFailed,
    DeviceUnreachable,
    HanFailure,
    HeadEndError,
    HeadEndUnavailable,
    OperationNotSupported,
)
from s1adopt.domain.failures import FailureReason
from s1adopt.domain.installation import MigrationState
from s1adopt.domain.retry import AfterFailure, RetryRules
from s1adopt.domain.secrets import Secret
from s1adopt.services.ports import (
    AttemptEnd,
    AttemptOutcome,
    Clock,
    CredentialVault,
    HeadEnd,
    HeadEndDirectory,
    MigrationUnit,
    UnitOfWorkFactory,
)

QUEUE = "migration"


class Step:
    """The migration work an installation waits for (the work item's step)."""

    UPGRADE = "upgrade"
    TEST = "test"
    COMMISSION = "commission"
    ENROL = "enrol"


class Failure(Exception):
    """An installation-level failure found while working on it."""

    def __init__(self, reason: FailureReason, detail: str, device: Device | None = None) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.device = reason, detail, device


@dataclass
class StepContext:
    """The collaborators every step handler uses."""

    uow_factory: UnitOfWorkFactory
    headends: HeadEndDirectory
    vault: CredentialVault
    clock: Clock
    rules: RetryRules = field(default_factory=RetryRules)
    deferred: list[MigrationUnit] = field(default_factory=list)  # this chunk's unsaved units

    def for_chunk(self) -> StepContext:
        """The same collaborators with a chunk's own deferred saves."""
        return replace(self, deferred=[])

    def headend(self, unit: MigrationUnit) -> HeadEnd:
        """The head end of the unit's SMSO (a failure when none is known)."""
        headend = self.headends.for_smso(unit.smso)
        if headend is None:
            raise Failure(FailureReason.UNKNOWN_HEAD_END, f"no head end for SMSO {unit.smso}")
        return headend

    def credential(self, unit: MigrationUnit, device: Device, purpose: CredentialPurpose) -> Secret:
        """A device's stored credential for ``purpose``, opened from the vault (once per
        sealed blob while the unit is loaded)."""
        key = (device.device_id, purpose)
        blob = unit.credentials.get(key)
        if blob is None:
            raise Failure(
                FailureReason.COMMISSIONING_FAILED, f"{device.device_id}: no {purpose} credential"
            )
        opened = unit.opened.get(key)
        if opened is not None and opened[0] is blob:
            return opened[1]
        try:
            secret = self.vault.open(device.device_id, purpose, blob)
        except CredentialError as exc:
            raise Failure(FailureReason.COMMISSIONING_FAILED, str(exc)) from exc
        unit.opened[key] = (blob, secret)
        return secret

    def defer(self, units: Sequence[MigrationUnit]) -> None:
        """Keep the units' changes for the chunk's next ``save`` (see the module rules)."""
        self.deferred.extend(units)

    def save(self, units: Sequence[MigrationUnit]) -> None:
        """Persist the units, and those deferred, with their next work item (or none) in one
        unit of work."""
        if self.deferred:
            seen = {id(u) for u in units}
            units = [*units, *(u for u in self.deferred if id(u) not in seen)]
            self.deferred = []
        if not units:
            return
        now = self.clock.now()
        with self.uow_factory() as uow:
            uow.migration.save_units(units, now)
            moved = [
                (u.installation_id, u.next_step)
                for u in units
                if u.next_step is not None and u.next_step != u.step
            ]
            uow.work.move(QUEUE, moved, now)
            uow.work.finish(QUEUE, [u.installation_id for u in units if u.next_step is None])
            uow.commit()
        for unit in units:
            unit.step = unit.next_step

    def fail(self, unit: MigrationUnit, failure: Failure) -> None:
        """End the unit's attempt with ``failure`` (retry, wait for data, or exclusion)."""
        inst = unit.installation
        decision = inst.fail(failure.reason, failure.detail, self.clock.now(), self.rules)
        outcome = (
            AttemptOutcome.EXCLUDED
            if decision.action is AfterFailure.EXCLUDE
            else AttemptOutcome.FAILED
        )
        unit.ended = AttemptEnd(inst.attempts, outcome, str(decision.reason))
        unit.next_step = None
        unit.changed = True


T = TypeVar("T")


async def capture(work: Callable[[T], Awaitable[None]], subject: T) -> Failure | None:
    """Run ``work(subject)``; its ``Failure``, or None. (The coroutine is made here, so a
    cancelled gather leaves none behind un-awaited.)"""
    try:
        await work(subject)
    except Failure as failure:
        return failure
    return None


async def each_device(
    devices: list[Device], work: Callable[[Device], Awaitable[None]]
) -> list[Failure]:
    """Run ``work`` on every device at once; the failures, in device order."""
    outcomes = await asyncio.gather(*(capture(work, d) for d in devices))
    return [f for f in outcomes if f is not None]


def in_state(units: Sequence[MigrationUnit], *states: MigrationState) -> list[MigrationUnit]:
    """The units whose installation is in one of ``states``."""
    return [u for u in units if u.installation.state in states]


_FAILURE_FOR: tuple[tuple[type[HeadEndError], FailureReason], ...] = (
    (DeviceUnreachable, FailureReason.DEVICE_NO_RESPONSE),
    (DeviceAuthenticationFailed, FailureReason.CREDENTIAL_MISMATCH),
    (HeadEndUnavailable, FailureReason.HEAD_END_UNAVAILABLE),
    (HanFailure, FailureReason.HAN_FAILURE),
    (OperationNotSupported, FailureReason.OPERATION_NOT_SUPPORTED),
)


def failure_for(
    exc: HeadEndError, otherwise: FailureReason, device: Device | None = None
) -> Failure:
    """The failure a head-end error stands for; ``otherwise`` for the rest."""
    for kind, reason in _FAILURE_FOR:
        if isinstance(exc, kind):
            return Failure(reason, str(exc), device)
    return Failure(otherwise, str(exc), device)
