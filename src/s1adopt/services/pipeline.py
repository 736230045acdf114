"""The migration pipeline: Device Testing, then Commissioning, for the work of some batches.

Rules:
- Work is taken in chunks; each chunk's transitions are committed together with the work that
  follows them (the installation's next step), so a crash at any point resumes from the last
  commit: re-running finishes the batches, commissions nothing twice and leaves nothing
  half-done.
- Before any device is given a new credential, the new credential is generated, sealed and
  committed (state COMMISSIONING, devices REPLACING). On resume, a device that refuses the SMSO
  credential is probed with the stored new one: if it answers, the replacement already happened
  and is not repeated, so each device's credential is replaced at most once.
- Dormant devices (with a firmware target) are upgraded through the head end with the SMSO
  credential before they are tested; a device already running the target is not upgraded again.
- GT01: when the only failures of a dual-fuel installation are HAN failures of its gas devices
  (GSME, GPF), the electricity side is migrated alone; the gas devices keep the SMSO's
  credentials and stay Pending, and the MPRN is not enrolled.
- Device traffic is asynchronous. Up to ``chunks_in_flight`` chunks are worked on at once, each
  a disjoint set of installations, so one chunk's database work overlaps other chunks' device
  traffic; database calls themselves run one at a time on the event loop's thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from s1adopt.domain.devices import (
    CredentialHolder,
    CredentialPurpose,
    Device,
    DeviceType,
    ReportedDevice,
    SmiStatus,
)
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
from s1adopt.domain.operations import DeviceOperation
from s1adopt.domain.secrets import Secret
from s1adopt.formats.firmware import firmware_image_hash
from s1adopt.services.ports import (
    Clock,
    CredentialVault,
    HeadEnd,
    HeadEndDirectory,
    MigrationUnit,
    Partition,
    Progress,
    UnitOfWorkFactory,
    WorkStep,
)

GAS_SIDE = frozenset({DeviceType.GSME, DeviceType.GPF})


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """Tuning of the pipeline."""

    chunk_size: int = 500
    chunks_in_flight: int = 3
    partition: Partition | None = None  # this worker's share when several work side by side


class Failure(Exception):
    """An installation-level failure found while working on it (internal to this module)."""

    def __init__(self, reason: FailureReason, detail: str, device: Device | None = None) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.device = reason, detail, device


class MigrationPipeline:
    """Runs Device Testing and Commissioning for the pending work of some batches."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        headends: HeadEndDirectory,
        vault: CredentialVault,
        clock: Clock,
        settings: PipelineSettings | None = None,
    ) -> None:
        self._uow_factory, self._headends = uow_factory, headends
        self._vault, self._clock = vault, clock
        self._settings = settings or PipelineSettings()

    async def run(self, batch_ids: Sequence[int], progress: Progress | None = None) -> None:
        """Work until no installation of the batches has pending work."""
        with self._uow_factory() as uow:
            pending = uow.migration.pending_count(batch_ids, self._settings.partition)
        if progress:
            progress.start("migrating", pending)
        while await self._one_pass(batch_ids, progress):
            pass  # a further pass picks up anything left behind by the previous one

    async def _one_pass(self, batch_ids: Sequence[int], progress: Progress | None) -> bool:
        """Work through the pending installations once, in id order; False if none were."""
        after_id, worked = 0, False
        in_flight: set[asyncio.Task[int]] = set()
        while True:
            with self._uow_factory() as uow:
                ids = uow.migration.next_work(
                    batch_ids, self._settings.chunk_size, after_id, self._settings.partition
                )
                units = uow.migration.load_units(ids)
            if units:
                worked = True
                after_id = ids[-1]
                in_flight.add(asyncio.create_task(self._work_on(units)))
            if not in_flight:
                return worked
            if units and len(in_flight) < self._settings.chunks_in_flight:
                continue
            # With work still to fetch, wait for one chunk to make room; at the end, for all.
            done, in_flight = await asyncio.wait(
                in_flight,
                return_when=asyncio.FIRST_COMPLETED if units else asyncio.ALL_COMPLETED,
            )
            for task in done:
                finished = task.result()  # a crash propagates; committed chunks stay committed
                if progress:
                    progress.advance(finished)

    async def _work_on(self, units: list[MigrationUnit]) -> int:
        """Test and commission one chunk; the number of installations that reached an end."""
        to_test = [u for u in units if u.installation.state is MigrationState.VALIDATED]
        results = await asyncio.gather(*(self._capture(self._test(u)) for u in to_test))
        now = self._clock.now()
        for unit, failure in zip(to_test, results, strict=True):
            if failure is None:
                unit.installation.pass_device_testing(now)
            else:
                self._fail(unit, failure)
        for unit in units:
            if unit.installation.state is MigrationState.TESTED:
                self._prepare_commissioning(unit)
        self._save(units)
        to_commission = [u for u in units if u.installation.state is MigrationState.COMMISSIONING]
        results = await asyncio.gather(
            *(self._capture(self._install_credentials(u)) for u in to_commission)
        )
        for unit, failure in zip(to_commission, results, strict=True):
            if failure is None:
                self._complete(unit)
            else:
                self._fail(unit, failure)
        self._save(to_commission)
        return sum(1 for u in units if u.next_step is None)

    def _save(self, units: Sequence[MigrationUnit]) -> None:
        if not units:
            return
        with self._uow_factory() as uow:
            uow.migration.save_units(units, self._clock.now())
            uow.commit()

    @staticmethod
    async def _capture(work: Awaitable[None]) -> Failure | None:
        try:
            await work
        except Failure as failure:
            return failure
        return None

    def _headend(self, unit: MigrationUnit) -> HeadEnd:
        headend = self._headends.for_smso(unit.smso)
        if headend is None:
            raise Failure(FailureReason.UNKNOWN_HEAD_END, f"no head end for SMSO {unit.smso}")
        return headend

    def _credential(
        self, unit: MigrationUnit, device: Device, purpose: CredentialPurpose
    ) -> Secret:
        blob = unit.credentials.get((device.device_id, purpose))
        if blob is None:
            raise Failure(
                FailureReason.COMMISSIONING_FAILED, f"{device.device_id}: no {purpose} credential"
            )
        try:
            return self._vault.open(device.device_id, purpose, blob)
        except CredentialError as exc:
            raise Failure(FailureReason.COMMISSIONING_FAILED, str(exc)) from exc

    async def _each_device(
        self, devices: list[Device], work: Callable[[Device], Awaitable[None]]
    ) -> list[Failure]:
        """Run ``work`` on every device at once; the failures, in device order."""
        outcomes = await asyncio.gather(*(self._capture(work(d)) for d in devices))
        return [f for f in outcomes if f is not None]

    async def _test(self, unit: MigrationUnit) -> None:
        """Upgrade dormant devices, then read every device; apply GT01 where it holds."""
        headend = self._headend(unit)
        devices = [d for d in unit.devices if d.credential_holder is CredentialHolder.SMSO]
        failures = await self._each_device(devices, lambda d: self._test_device(headend, unit, d))
        if not failures:
            return
        if self._only_gas_han_failures(unit, failures):
            unit.installation.leave_out_gas(failures[0].detail, self._clock.now())
            return
        raise failures[0]

    @staticmethod
    def _only_gas_han_failures(unit: MigrationUnit, failures: list[Failure]) -> bool:
        has_electricity = any(d.device_type is DeviceType.ESME for d in unit.devices)
        return has_electricity and all(
            f.reason is FailureReason.HAN_FAILURE
            and f.device is not None
            and f.device.device_type in GAS_SIDE
            for f in failures
        )

    async def _test_device(self, headend: HeadEnd, unit: MigrationUnit, device: Device) -> None:
        secret = self._credential(unit, device, CredentialPurpose.SMSO)
        reported = None
        if device.firmware_target is not None:
            reported = await self._upgrade(headend, device, secret)
        if reported is None:
            try:
                reported = await headend.read_identity(device.device_id, secret)
            except HeadEndError as exc:
                raise _failure_for(exc, FailureReason.HEAD_END_UNAVAILABLE, device) from exc
        mismatch = reported.mismatch_with(device)
        if mismatch is not None:
            kind, detail = mismatch
            reason = (
                FailureReason.FIRMWARE_MISMATCH
                if kind == "firmware"
                else FailureReason.DEVICE_MISMATCH
            )
            raise Failure(reason, detail, device)

    async def _upgrade(
        self, headend: HeadEnd, device: Device, secret: Secret
    ) -> ReportedDevice | None:
        """Bring a dormant device to its target firmware (skipped if it already runs it).

        Returns what the device reported when it already ran the target (no need to read it
        again), None when it was upgraded now and must be read afresh.
        """
        target = device.firmware_target
        assert target is not None
        reported: ReportedDevice | None = None
        try:
            reported = await headend.read_identity(device.device_id, secret)
        except DeviceUnreachable:
            pass  # a dormant device answers only firmware operations
        except HeadEndError as exc:
            raise _failure_for(exc, FailureReason.FIRMWARE_UPGRADE_FAILED, device) from exc
        already = reported is not None and reported.firmware_version == target
        if not already:
            image = firmware_image_hash(device.manufacturer, device.model, target)
            try:
                await headend.execute(
                    device.device_id,
                    secret,
                    DeviceOperation.UPDATE_FIRMWARE,
                    {"version": target, "imageHash": image},
                )
                await headend.execute(
                    device.device_id,
                    secret,
                    DeviceOperation.ACTIVATE_FIRMWARE,
                    {"version": target},
                )
            except HeadEndError as exc:
                raise _failure_for(exc, FailureReason.FIRMWARE_UPGRADE_FAILED, device) from exc
        device.firmware_version, device.firmware_target = target, None
        return reported if already else None

    @staticmethod
    def _in_scope(unit: MigrationUnit, device: Device) -> bool:
        """Whether this migration commissions the device (not the gas side under GT01)."""
        return not (unit.installation.electricity_only and device.device_type in GAS_SIDE)

    def _prepare_commissioning(self, unit: MigrationUnit) -> None:
        for device in unit.devices:
            if device.credential_holder is CredentialHolder.SMSO and self._in_scope(unit, device):
                new = self._vault.new_credential()
                key = (device.device_id, CredentialPurpose.DCC_PENDING)
                sealed = self._vault.seal(device.device_id, CredentialPurpose.DCC_PENDING, new)
                unit.credentials[key] = unit.store_credentials[key] = sealed
                device.credential_holder = CredentialHolder.REPLACING
                unit.audit.append((device.device_id, "dcc credential generated"))
        unit.installation.begin_commissioning(self._clock.now())
        unit.next_step = WorkStep.COMMISSION

    async def _install_credentials(self, unit: MigrationUnit) -> None:
        headend = self._headend(unit)
        devices = [d for d in unit.devices if d.credential_holder is CredentialHolder.REPLACING]
        failures = await self._each_device(
            devices, lambda d: self._replace_on_device(headend, unit, d)
        )
        if failures:
            raise failures[0]

    async def _replace_on_device(
        self, headend: HeadEnd, unit: MigrationUnit, device: Device
    ) -> None:
        current = self._credential(unit, device, CredentialPurpose.SMSO)
        new = self._credential(unit, device, CredentialPurpose.DCC_PENDING)
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
                ) from exc
            unit.audit.append((device_id, "dcc credential found installed on resume"))
        except HeadEndError as exc:
            raise Failure(FailureReason.COMMISSIONING_FAILED, f"{device_id}: {exc}") from exc
        else:
            unit.audit.append((device_id, "dcc credential installed"))
        device.credential_holder = CredentialHolder.DCC

    def _complete(self, unit: MigrationUnit) -> None:
        now = self._clock.now()
        for device in unit.devices:
            if not self._in_scope(unit, device):
                continue
            key_pending = (device.device_id, CredentialPurpose.DCC_PENDING)
            if key_pending in unit.credentials:
                unit.store_credentials[(device.device_id, CredentialPurpose.DCC)] = (
                    unit.credentials[key_pending]
                )
                unit.drop_credentials.update(
                    {key_pending, (device.device_id, CredentialPurpose.SMSO)}
                )
                unit.audit.append((device.device_id, "smso credential discarded"))
            device.change_status(SmiStatus.COMMISSIONED, now, "adopted by migration")
        unit.installation.complete_commissioning(now)
        unit.enrol_meter_points = True
        unit.next_step = None

    def _fail(self, unit: MigrationUnit, failure: Failure) -> None:
        unit.installation.fail(failure.reason, failure.detail, self._clock.now())
        unit.next_step = None


_FAILURE_FOR: tuple[tuple[type[HeadEndError], FailureReason], ...] = (
    (DeviceUnreachable, FailureReason.DEVICE_NO_RESPONSE),
    (DeviceAuthenticationFailed, FailureReason.CREDENTIAL_MISMATCH),
    (HeadEndUnavailable, FailureReason.HEAD_END_UNAVAILABLE),
    (HanFailure, FailureReason.HAN_FAILURE),
    (OperationNotSupported, FailureReason.OPERATION_NOT_SUPPORTED),
)


def _failure_for(
    exc: HeadEndError, otherwise: FailureReason, device: Device | None = None
) -> Failure:
    """The failure a head-end error stands for; ``otherwise`` for the rest."""
    for kind, reason in _FAILURE_FOR:
        if isinstance(exc, kind):
            return Failure(reason, str(exc), device)
    return Failure(otherwise, str(exc), device)
