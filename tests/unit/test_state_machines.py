from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from s1adopt.domain.devices import (
    SMI_TRANSITIONS,
    CredentialHolder,
    Device,
    DeviceType,
    SmiStatus,
)
from s1adopt.domain.errors import IllegalTransition
from s1adopt.domain.failures import FailureClass, FailureReason, Stage
from s1adopt.domain.identities import Eui64
from s1adopt.domain.installation import (
    MIGRATION_TRANSITIONS,
    OPERATOR,
    Installation,
    InstallationType,
    MigrationState,
)
from s1adopt.domain.meter_points import MeterPointKind, enrolled_by_migration, gt01_applies
from s1adopt.domain.retry import MAX_FAILED_ATTEMPTS, AfterFailure, RetryRules

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


def _attempting(reference: str = "S1-1") -> Installation:
    inst = Installation.validated(reference, 1, InstallationType.ACTIVE, T0)
    inst.authorise("90-B3-D5-1F-30-01-00-00", T0)
    inst.begin_attempt(T0)
    return inst


def test_an_installation_goes_from_validated_to_commissioned_counting_one_attempt() -> None:
    inst = _attempting()
    inst.pass_device_testing(T0)
    inst.begin_commissioning(T0)
    inst.complete_commissioning(T0)
    assert inst.state is MigrationState.COMMISSIONED
    assert inst.outcome == "commissioned"
    assert inst.attempts == 1
    assert [
        h.state for h in inst.history if h.detail != "authorised by 90-B3-D5-1F-30-01-00-00"
    ] == [
        MigrationState.VALIDATED,
        MigrationState.MIGRATING,
        MigrationState.TESTED,
        MigrationState.COMMISSIONING,
        MigrationState.COMMISSIONED,
    ]


def test_no_attempt_begins_before_the_installation_is_authorised() -> None:
    inst = Installation.validated("S1-1", 1, InstallationType.ACTIVE, T0)
    with pytest.raises(IllegalTransition, match="not authorised"):
        inst.begin_attempt(T0)
    assert inst.attempts == 0


def test_no_attempt_begins_while_the_installation_is_blocked() -> None:
    inst = Installation.validated("S1-1", 1, InstallationType.ACTIVE, T0)
    inst.authorise(OPERATOR, T0)
    inst.set_blocked(True, OPERATOR, "customer complaint", T0)
    with pytest.raises(IllegalTransition, match="blocked"):
        inst.begin_attempt(T0)
    inst.set_blocked(False, OPERATOR, "", T0)
    inst.begin_attempt(T0)
    assert "blocked for migration by operator: customer complaint" in [
        h.detail for h in inst.history
    ]


def test_commissioning_cannot_start_before_device_testing() -> None:
    inst = _attempting()
    with pytest.raises(IllegalTransition, match="migrating cannot become commissioning"):
        inst.begin_commissioning(T0)


def test_a_commissioned_installation_cannot_fail_afterwards() -> None:
    inst = _attempting()
    inst.pass_device_testing(T0)
    inst.begin_commissioning(T0)
    inst.complete_commissioning(T0)
    with pytest.raises(IllegalTransition):
        inst.fail(FailureReason.HEAD_END_UNAVAILABLE, "late", T0)


def test_a_transient_failure_is_retried_after_the_backoff_of_the_retry_rules() -> None:
    inst = _attempting()
    decision = inst.fail(FailureReason.HEAD_END_UNAVAILABLE, "down", T0, RetryRules())
    assert decision.action is AfterFailure.RETRY
    assert inst.state is MigrationState.FAILED
    assert inst.retry_on == T0.date() + timedelta(days=1)
    inst.retry(T0)
    inst.begin_attempt(T0)
    inst.fail(FailureReason.HEAD_END_UNAVAILABLE, "down", T0, RetryRules())
    assert inst.retry_on == T0.date() + timedelta(days=2)


def test_the_fifth_failed_attempt_excludes_the_installation() -> None:
    inst = _attempting()
    for attempt in range(1, MAX_FAILED_ATTEMPTS + 1):
        inst.fail(FailureReason.HEAD_END_UNAVAILABLE, "down", T0)
        assert inst.attempts == attempt
        if attempt < MAX_FAILED_ATTEMPTS:
            assert inst.state is MigrationState.FAILED
            assert inst.outcome == "head_end_unavailable"
            inst.retry(T0)
            inst.begin_attempt(T0)
    assert inst.state is MigrationState.EXCLUDED
    assert inst.outcome == "too_many_attempts"


def test_no_wan_communications_when_migration_is_attempted_excludes_at_once() -> None:
    inst = _attempting()
    decision = inst.fail(FailureReason.DEVICE_NO_RESPONSE, "no answer", T0)
    assert decision.action is AfterFailure.EXCLUDE
    assert inst.state is MigrationState.EXCLUDED
    assert inst.outcome == "device_no_response"
    with pytest.raises(IllegalTransition, match="only a failed installation"):
        inst.retry(T0)


def test_a_data_failure_waits_for_corrected_data_which_is_accepted() -> None:
    inst = _attempting()
    decision = inst.fail(FailureReason.FIRMWARE_MISMATCH, "1.7.3", T0)
    assert decision.action is AfterFailure.AWAIT_DATA
    assert inst.retry_on is None
    assert inst.accepts_corrected_data
    inst.replace_data(2, InstallationType.ACTIVE, None, T0)
    assert inst.state is MigrationState.VALIDATED
    assert (inst.batch_id, inst.attempts, inst.authorised_by) == (
        2,
        1,
        "90-B3-D5-1F-30-01-00-00",
    )


def test_corrected_data_is_refused_while_an_attempt_is_under_way() -> None:
    inst = _attempting()
    assert not inst.accepts_corrected_data
    with pytest.raises(IllegalTransition, match="cannot be replaced"):
        inst.replace_data(2, InstallationType.ACTIVE, None, T0)


def test_a_record_rejected_by_validation_is_failed_without_an_attempt() -> None:
    inst = Installation.rejected(
        "S1-9", 1, InstallationType.ACTIVE, FailureReason.INVALID_MPAN, "bad", T0
    )
    assert inst.state is MigrationState.FAILED
    assert inst.attempts == 0
    assert inst.outcome == "invalid_mpan"


def test_a_record_without_master_keys_is_excluded_at_validation() -> None:
    inst = Installation.rejected(
        "S1-9", 1, InstallationType.ACTIVE, FailureReason.MISSING_CREDENTIALS, "none", T0
    )
    assert inst.state is MigrationState.EXCLUDED
    assert inst.outcome == "missing_credentials"


@pytest.mark.parametrize("reason", list(FailureReason))
def test_every_failure_reason_has_an_explanation_a_stage_and_a_class(
    reason: FailureReason,
) -> None:
    assert len(reason.explanation) > 20
    assert isinstance(reason.stage, Stage)
    assert isinstance(reason.failure_class, FailureClass)


def test_gt01_leaves_the_gas_side_out_and_labels_the_outcome() -> None:
    inst = _attempting()
    inst.leave_out_gas("GSME unreachable over the HAN", T0)
    inst.pass_device_testing(T0)
    inst.begin_commissioning(T0)
    inst.complete_commissioning(T0)
    assert inst.outcome == "commissioned_electricity_only"
    assert any("GT01" in h.detail for h in inst.history)


def test_the_gas_side_cannot_be_left_out_after_testing() -> None:
    inst = _attempting()
    inst.pass_device_testing(T0)
    with pytest.raises(IllegalTransition, match="only in testing"):
        inst.leave_out_gas("too late", T0)


def test_gt01_applies_only_to_han_failures_of_the_gas_side_with_an_electricity_meter() -> None:
    assert gt01_applies(True, [(DeviceType.GSME, True), (DeviceType.GPF, True)])
    assert not gt01_applies(False, [(DeviceType.GSME, True)])
    assert not gt01_applies(True, [(DeviceType.GSME, True), (DeviceType.ESME, True)])
    assert not gt01_applies(True, [(DeviceType.GSME, False)])
    assert not gt01_applies(True, [])
    assert enrolled_by_migration(frozenset(MeterPointKind), True) == {MeterPointKind.MPAN}
    assert enrolled_by_migration(frozenset(MeterPointKind), False) == set(MeterPointKind)
