"""Step ``upgrade``: dormant devices are brought to their model's eligible firmware.

Rules: the upgrade uses the SMSO's credential (``update_firmware`` with the image's SHA-256,
then ``activate_firmware``); a device that already runs the target is not upgraded again (so a
resumed step repeats nothing); a failure ends the attempt (``firmware_upgrade_failed`` unless
the head end's error says more). Units without a firmware target pass straight to ``test``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from s1adopt.domain.devices import CredentialHolder, CredentialPurpose, Device, ReportedDevice
from s1adopt.domain.errors import DeviceUnreachable, HeadEndError
from s1adopt.domain.failures import FailureReason
from s1adopt.domain.installation import MigrationState
from s1adopt.domain.operations import DeviceOperation
from s1adopt.domain.secrets import Secret
from s1adopt.formats.firmware import firmware_image_hash
from s1adopt.services.migration.steps import (
    Step,
    StepContext,
    capture,
    each_device,
    failure_for,
)
from s1adopt.services.ports import HeadEnd, MigrationUnit


class UpgradeStep:
    """Handler of the ``upgrade`` step."""

    step = Step.UPGRADE

    def __init__(self, ctx: StepContext) -> None:
        self._ctx = ctx

    async def handle(self, units: Sequence[MigrationUnit]) -> None:
        """Upgrade the units' dormant devices; every unit moves on to ``test`` or fails."""
        to_upgrade: list[MigrationUnit] = []
        for unit in units:
            if unit.installation.state is not MigrationState.MIGRATING:
                unit.next_step, unit.changed = None, True  # stale work: nothing to do
            elif any(self._targets(unit)):
                to_upgrade.append(unit)
            else:
                unit.next_step = Step.TEST  # nothing to upgrade; the stored step is resumable
        results = await asyncio.gather(*(capture(self._upgrade, u) for u in to_upgrade))
        for unit, failure in zip(to_upgrade, results, strict=True):
            if failure is None:
                unit.next_step, unit.changed = Step.TEST, True
            else:
                self._ctx.fail(unit, failure)
        self._ctx.save([u for u in units if u.changed])

    @staticmethod
    def _targets(unit: MigrationUnit) -> list[Device]:
        return [
            d
            for d in unit.devices
            if d.firmware_target is not None and d.credential_holder is CredentialHolder.SMSO
        ]

    async def _upgrade(self, unit: MigrationUnit) -> None:
        headend = self._ctx.headend(unit)

        async def one(device: Device) -> None:
            secret = self._ctx.credential(unit, device, CredentialPurpose.SMSO)
            reported = await _upgrade_device(headend, device, secret)
            if reported is not None:
                unit.observed[device.device_id] = reported

        failures = await each_device(self._targets(unit), one)
        if failures:
            raise failures[0]


async def _upgrade_device(
    headend: HeadEnd, device: Device, secret: Secret
) -> ReportedDevice | None:
    """Bring one device to its target firmware; what it reported if it already ran it."""
    target = device.firmware_target
    assert target is not None
    reported: ReportedDevice | None = None
    try:
        reported = await headend.read_identity(device.device_id, secret)
    except DeviceUnreachable:
        pass  # a dormant device answers only firmware operations
    except HeadEndError as exc:
        raise failure_for(exc, FailureReason.FIRMWARE_UPGRADE_FAILED, device) from exc
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
                device.device_id, secret, DeviceOperation.ACTIVATE_FIRMWARE, {"version": target}
            )
        except HeadEndError as exc:
            raise failure_for(exc, FailureReason.FIRMWARE_UPGRADE_FAILED, device) from exc
    device.firmware_version, device.firmware_target = target, None
    return reported if already else None
