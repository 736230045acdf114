from __future__ import annotations

from datetime import UTC, datetime

import pytest

from s1adopt.domain.devices import (
    SMI_TRANSITIONS,
    CredentialHolder,
    Device,
    DeviceType,
    SmiStatus,
)
from s1adopt.domain.errors import IllegalTransition
from s1adopt.domain.failures import FailureReason, Stage
from s1adopt.domain.identities import Eui64
from s1adopt.domain.installation import (
    MAX_FAILED_ATTEMPTS,
    MIGRATION_TRANSITIONS,
    Installation,
    InstallationType,
    MigrationState,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _device(status: SmiStatus = SmiStatus.PENDING) -> Device:
    return Device(
        Eui64.parse("00-11-22-33-44-55-66-77"),
        DeviceType.ESME,
        "M",
        "X",
        "1",
        "S1-1",
        None,
        None,
        status,
        T0,
        CredentialHolder.SMSO,
    )


def test_every_smi_status_has_a_row_in_the_transition_table() -> None:
    assert set(SMI_TRANSITIONS) == set(SmiStatus)


def test_a_pending_device_adopted_by_migration_becomes_commissioned_with_history() -> None:
    device = _device()
    device.change_status(SmiStatus.COMMISSIONED, T0, "adopted by migration")
    assert device.status is SmiStatus.COMMISSIONED
    assert [h.status for h in device.history] == [SmiStatus.COMMISSIONED]


@pytest.mark.parametrize("status", list(SmiStatus))
def test_every_smi_transition_not_in_the_table_raises(status: SmiStatus) -> None:
    for target in SmiStatus:
        device = _device(status)
        if target in SMI_TRANSITIONS[status]:
            device.change_status(target, T0, "allowed")
            assert device.status is target
        else:
            with pytest.raises(IllegalTransition):
                device.change_status(target, T0, "not allowed")
            assert device.status is status


def test_a_decommissioned_device_can_never_change_status_again() -> None:
    assert SMI_TRANSITIONS[SmiStatus.DECOMMISSIONED] == frozenset()


def test_every_migration_state_has_a_row_in_the_transition_table() -> None:
    assert set(MIGRATION_TRANSITIONS) == set(MigrationState)


def test_an_installation_goes_from_validated_to_commissioned_counting_one_attempt() -> None:
    inst = Installation.validated("S1-1", 1, InstallationType.ACTIVE, T0)
    inst.pass_device_testing(T0)
    inst.begin_commissioning(T0)
    inst.complete_commissioning(T0)
    assert inst.state is MigrationState.COMMISSIONED
    assert inst.outcome == "commissioned"
    assert inst.attempts == 1
    assert [h.state for h in inst.history] == [
        MigrationState.VALIDATED,
        MigrationState.TESTED,
        MigrationState.COMMISSIONING,
        MigrationState.COMMISSIONED,
    ]


def test_commissioning_cannot_start_before_device_testing() -> None:
    inst = Installation.validated("S1-1", 1, InstallationType.ACTIVE, T0)
    with pytest.raises(IllegalTransition, match="validated cannot become commissioning"):
        inst.begin_commissioning(T0)


def test_a_commissioned_installation_cannot_fail_afterwards() -> None:
    inst = Installation.validated("S1-1", 1, InstallationType.ACTIVE, T0)
    inst.pass_device_testing(T0)
    inst.begin_commissioning(T0)
    inst.complete_commissioning(T0)
    with pytest.raises(IllegalTransition):
        inst.fail(FailureReason.DEVICE_NO_RESPONSE, "late", T0)


def test_the_fifth_failed_attempt_excludes_the_installation() -> None:
    inst = Installation.validated("S1-1", 1, InstallationType.ACTIVE, T0)
    for attempt in range(1, MAX_FAILED_ATTEMPTS + 1):
        inst.fail(FailureReason.DEVICE_NO_RESPONSE, "no answer", T0)
        assert inst.attempts == attempt
        if attempt < MAX_FAILED_ATTEMPTS:
            assert inst.state is MigrationState.FAILED
            assert inst.outcome == "device_no_response"
            inst.retry(T0)
    assert inst.state is MigrationState.EXCLUDED
    assert inst.outcome == "too_many_attempts"


def test_a_record_rejected_by_validation_is_failed_without_an_attempt() -> None:
    inst = Installation.rejected(
        "S1-9", 1, InstallationType.ACTIVE, FailureReason.INVALID_MPAN, "bad", T0
    )
    assert inst.state is MigrationState.FAILED
    assert inst.attempts == 0
    assert inst.outcome == "invalid_mpan"


@pytest.mark.parametrize("reason", list(FailureReason))
def test_every_failure_reason_has_an_explanation_and_a_stage(reason: FailureReason) -> None:
    assert len(reason.explanation) > 20
    assert isinstance(reason.stage, Stage)


def test_gt01_leaves_the_gas_side_out_and_labels_the_outcome() -> None:
    inst = Installation.validated("S1-1", 1, InstallationType.ACTIVE, T0)
    inst.leave_out_gas("GSME unreachable over the HAN", T0)
    inst.pass_device_testing(T0)
    inst.begin_commissioning(T0)
    inst.complete_commissioning(T0)
    assert inst.outcome == "commissioned_electricity_only"
    assert "GT01" in inst.history[1].detail


def test_the_gas_side_cannot_be_left_out_after_testing() -> None:
    inst = Installation.validated("S1-1", 1, InstallationType.ACTIVE, T0)
    inst.pass_device_testing(T0)
    with pytest.raises(IllegalTransition, match="only in testing"):
        inst.leave_out_gas("too late", T0)
