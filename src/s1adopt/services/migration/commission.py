"""Step ``commission``: DCC's credentials are generated, committed, then installed.

Rules:
- before any device is given a new credential, the credential is generated, sealed and
  committed (state COMMISSIONING, devices REPLACING); a device that already holds a stored
  DCC credential from an earlier try keeps it (never a second one);
- on install, a device that refuses the SMSO credential is probed with the stored new one: if
  it answers, the replacement already happened and is not repeated, so each device's
  credential is replaced at most once;
- when every in-scope device holds DCC's credential: SMSO credentials are discarded, the
  devices become Commissioned in the SMI, the installation COMMISSIONED, and its meter points
  are enrolled in the same commit (``enrol.enrol``): its work is done.
  A failure keeps the stored DCC credentials (a retry probes them) and ends the attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from s1adopt.domain.devices import CredentialHolder, CredentialPurpose, Device, SmiStatus
from s1adopt.domain.errors import DeviceAuthenticationFailed, HeadEndError
from s1adopt.domain.failures import FailureReason
from s1adopt.domain.installation import MigrationState
from s1adopt.domain.meter_points import in_scope_of_migration
from s1adopt.services.migration.enrol import enrol
from s1adopt.services.migration.steps import (
    Failure,
    Step,
    StepContext,
    capture,
    each_device,
    in_state,
)
from s1adopt.services.ports import AttemptEnd, AttemptOutcome, HeadEnd, MigrationUnit


def _in_scope(unit: MigrationUnit, device: Device) -> bool:
    return in_scope_of_migration(device.device_type, unit.installation.electricity_only)


class CommissionStep:
    """Handler of the ``commission`` step."""

    step = Step.COMMISSION

    def __init__(self, ctx: StepContext) -> None:
        self._ctx = ctx

    async def handle(self, units: Sequence[MigrationUnit]) -> None:
        """Prepare (commit new credentials), install them, complete; or fail."""
        stale = [
            u
            for u in units
            if u.installation.state not in (MigrationState.TESTED, MigrationState.COMMISSIONING)
        ]
        for unit in stale:
            unit.next_step, unit.changed = None, True
        prepared = in_state(units, MigrationState.TESTED)
        for unit in prepared:
            self._prepare(unit)
        self._ctx.save(prepared + stale)
        to_install = in_state(units, MigrationState.COMMISSIONING)
        results = await asyncio.gather(*(capture(self._install, u) for u in to_install))
        for unit, failure in zip(to_install, results, strict=True):
            if failure is None:
                self._complete(unit)
            else:
                self._ctx.fail(unit, failure)
        self._ctx.save(to_install)

    def _prepare(self, unit: MigrationUnit) -> None:
        vault = self._ctx.vault
        for device in unit.devices:
            if device.credential_holder is CredentialHolder.SMSO and _in_scope(unit, device):
                key = (device.device_id, CredentialPurpose.DCC_PENDING)
                if key not in unit.credentials:
                    sealed = vault.seal(
                        device.device_id, CredentialPurpose.DCC_PENDING, vault.new_credential()
                    )
                    unit.credentials[key] = unit.store_credentials[key] = sealed
                    unit.audit.append((device.device_id, "dcc credential generated"))
                device.credential_holder = CredentialHolder.REPLACING
        unit.installation.begin_commissioning(self._ctx.clock.now())
        unit.next_step, unit.changed = Step.COMMISSION, True

    async def _install(self, unit: MigrationUnit) -> None:
        headend = self._ctx.headend(unit)
        devices = [d for d in unit.devices if d.credential_holder is CredentialHolder.REPLACING]
        failures = await each_device(devices, lambda d: self._replace(headend, unit, d))
        if failures:
            raise failures[0]

    async def _replace(self, headend: HeadEnd, unit: MigrationUnit, device: Device) -> None:
        current = self._ctx.credential(unit, device, CredentialPurpose.SMSO)
        new = self._ctx.credential(unit, device, CredentialPurpose.DCC_PENDING)
        device_id = device.device_id
        try:
            await headend.replace_credential(device_id, current, new)
        except DeviceAuthenticationFailed:
            # The SMSO credential no longer works: an earlier run may have replaced it already.
            try:
                await headend.read_identity(device_id, new)
            except HeadEndError as exc:
                raise Failure(
                    FailureReason.COMMISSIONING_FAILED,
                    f"{device_id}: refuses both the SMSO and the new DCC credential",
                    device,
                ) from exc
            unit.audit.append((device_id, "dcc credential found installed on resume"))
        except HeadEndError as exc:
            raise Failure(
                FailureReason.COMMISSIONING_FAILED, f"{device_id}: {exc}", device
            ) from exc
        else:
            unit.audit.append((device_id, "dcc credential installed"))
        device.credential_holder = CredentialHolder.DCC

    def _complete(self, unit: MigrationUnit) -> None:
        now = self._ctx.clock.now()
        for device in unit.devices:
            if not _in_scope(unit, device):
                continue  # GT01: the gas side stays Pending with the SMSO's credentials
            if device.credential_holder is not CredentialHolder.NONE:
                pending = (device.device_id, CredentialPurpose.DCC_PENDING)
                if pending in unit.credentials:  # sealed again, bound to its new purpose
                    secret = self._ctx.credential(unit, device, CredentialPurpose.DCC_PENDING)
                    unit.store_credentials[(device.device_id, CredentialPurpose.DCC)] = (
                        self._ctx.vault.seal(device.device_id, CredentialPurpose.DCC, secret)
                    )
                    unit.drop_credentials.update(
                        {pending, (device.device_id, CredentialPurpose.SMSO)}
                    )
                    unit.audit.append((device.device_id, "smso credential discarded"))
                device.credential_holder = CredentialHolder.DCC
            device.change_status(SmiStatus.COMMISSIONED, now, "adopted by migration")
        unit.installation.complete_commissioning(now)
        unit.ended = AttemptEnd(unit.installation.attempts, AttemptOutcome.COMMISSIONED, None)
        enrol(unit)
