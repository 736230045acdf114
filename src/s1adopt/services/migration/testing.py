"""Step ``test``: Device Testing through the SMSO's head end.

Rules: every device that holds a credential is read with the credential it holds (the SMSO's;
for a device whose replacement an earlier attempt may have done, the SMSO's and then DCC's
stored one); it must answer, and its type, manufacturer, model and firmware must match the
data. GT01: when the only failures are HAN failures of gas-side devices of an installation
with an electricity meter, the gas side is left out and the electricity side goes on.
Passing moves the installation to TESTED with ``commission`` as its next work. Testing only
reads devices, so its save is deferred (``steps`` rules): it commits with the commissioning's
first one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from s1adopt.domain.devices import (
    CredentialHolder,
    CredentialPurpose,
    Device,
    DeviceType,
    ReportedDevice,
)
from s1adopt.domain.errors import DeviceAuthenticationFailed, HeadEndError
from s1adopt.domain.failures import FailureReason
from s1adopt.domain.installation import MigrationState
from s1adopt.domain.meter_points import gt01_applies
from s1adopt.services.migration.steps import (
    Failure,
    Step,
    StepContext,
    capture,
    each_device,
    failure_for,
)
from s1adopt.services.ports import HeadEnd, MigrationUnit


class TestStep:
    """Handler of the ``test`` step."""

    __test__ = False  # not a pytest test class
    step = Step.TEST

    def __init__(self, ctx: StepContext) -> None:
        self._ctx = ctx

    async def handle(self, units: Sequence[MigrationUnit]) -> None:
        """Test the units' devices; each unit passes (next: commission) or fails."""
        to_test: list[MigrationUnit] = []
        for unit in units:
            if unit.installation.state is MigrationState.MIGRATING:
                to_test.append(unit)
            else:
                unit.next_step, unit.changed = None, True  # stale work: nothing to do
        results = await asyncio.gather(*(capture(self._test, u) for u in to_test))
        now = self._ctx.clock.now()
        for unit, failure in zip(to_test, results, strict=True):
            if failure is None:
                unit.installation.pass_device_testing(now)
                unit.next_step, unit.changed = Step.COMMISSION, True
            else:
                self._ctx.fail(unit, failure)
        self._ctx.defer(units)

    async def _test(self, unit: MigrationUnit) -> None:
        headend = self._ctx.headend(unit)
        devices = [d for d in unit.devices if d.credential_holder is not CredentialHolder.NONE]
        failures = await each_device(devices, lambda d: self._test_device(headend, unit, d))
        if not failures:
            return
        has_esme = any(d.device_type is DeviceType.ESME for d in unit.devices)
        seen = [
            (f.device.device_type, f.reason is FailureReason.HAN_FAILURE)
            for f in failures
            if f.device is not None
        ]
        if len(seen) == len(failures) and gt01_applies(has_esme, seen):
            unit.installation.leave_out_gas(failures[0].detail, self._ctx.clock.now())
            return
        raise failures[0]

    async def _test_device(self, headend: HeadEnd, unit: MigrationUnit, device: Device) -> None:
        reported = unit.observed.pop(device.device_id, None)
        if reported is None:
            reported = await self._read(headend, unit, device)
        mismatch = reported.mismatch_with(device)
        if mismatch is not None:
            kind, detail = mismatch
            reason = (
                FailureReason.FIRMWARE_MISMATCH
                if kind == "firmware"
                else FailureReason.DEVICE_MISMATCH
            )
            raise Failure(reason, detail, device)

    async def _read(self, headend: HeadEnd, unit: MigrationUnit, device: Device) -> ReportedDevice:
        purposes = {
            CredentialHolder.SMSO: (CredentialPurpose.SMSO,),
            CredentialHolder.REPLACING: (CredentialPurpose.SMSO, CredentialPurpose.DCC_PENDING),
            CredentialHolder.DCC: (CredentialPurpose.DCC,),
        }[device.credential_holder]
        for index, purpose in enumerate(purposes):
            secret = self._ctx.credential(unit, device, purpose)
            try:
                return await headend.read_identity(device.device_id, secret)
            except DeviceAuthenticationFailed as exc:
                if index + 1 < len(purposes):
                    continue  # the replacement may have happened: try DCC's credential
                raise failure_for(exc, FailureReason.HEAD_END_UNAVAILABLE, device) from exc
            except HeadEndError as exc:
                raise failure_for(exc, FailureReason.HEAD_END_UNAVAILABLE, device) from exc
        raise AssertionError("unreachable: the last purpose returns or raises")
