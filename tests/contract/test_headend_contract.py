"""The head-end contract: the same tests, unchanged, for every protocol's adapter and head end.

Each test runs once per protocol (``s1-bin/1``, ``s1-json/2``, ``s1-xml/1``) through the
``services.ports.HeadEnd`` adapter, over loopback, against a real protocol front end.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from s1adopt.adapters.headend.policy import RetryPolicy
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.errors import (
    CommandRejected,
    DeviceAuthenticationFailed,
    DeviceUnreachable,
    HanFailure,
    HeadEndUnavailable,
    OperationNotSupported,
    ProtocolViolation,
)
from s1adopt.domain.identities import Eui64
from s1adopt.domain.operations import CATALOGUE, DeviceOperation
from s1adopt.domain.secrets import Secret
from s1adopt.emulators.world.device import WorldDevice
from s1adopt.formats.firmware import firmware_image_hash
from tests.contract.conftest import FAST, SESSION_LIMIT, HeadEndUnderTest

D = DeviceOperation
PREFERRED = (DeviceType.ESME, DeviceType.GSME, DeviceType.CHF, DeviceType.PPMID, DeviceType.GPF)
PREPAYMENT = frozenset({D.TOP_UP, D.READ_BALANCE, D.ADJUST_DEBT, D.ACTIVATE_EMERGENCY_CREDIT})
# Operations the device takes only after another (the world keeps state between them).
PRELUDE = {
    D.UPDATE_PRICE: D.UPDATE_TARIFF,
    D.ACTIVATE_FIRMWARE: D.UPDATE_FIRMWARE,
    D.ARM_SUPPLY: D.DISABLE_SUPPLY,
}
ALL_BUT_JOINING = sorted(set(D) - {D.JOIN_DEVICE, D.UNJOIN_DEVICE, D.REPLACE_CREDENTIAL})


def sample_params(operation: DeviceOperation, device: WorldDevice) -> dict[str, Any]:
    """Parameters the device takes for ``operation``, at the present time."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day = {
        "from": (today - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "to": today.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    version = device.firmware or ""
    model = device.model
    return {
        D.SYNCHRONISE_CLOCK: {"time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
        D.READ_PROFILE: day,
        D.READ_DAILY_LOG: day,
        D.READ_EVENT_LOG: {"limit": 10},
        D.READ_SECURITY_LOG: {"limit": 10},
        D.UPDATE_TARIFF: {"bands": [0] * 14 + [1] * 20 + [0] * 14, "prices": [1500, 2800]},
        D.UPDATE_PRICE: {"standingCharge": 4500, "prices": [1600, 2900]},
        D.TOP_UP: {"amount": 1000, "utrn": "73641028374651029384"},
        D.ADJUST_DEBT: {"amount": 500},
        D.DISPLAY_MESSAGE: {"text": "Your meter now talks to DCC. Ünïcödé & <tags> ok"},
        D.UPDATE_FIRMWARE: {
            "version": version,
            "imageHash": firmware_image_hash(model.manufacturer, model.model, version),
        },
        D.ACTIVATE_FIRMWARE: {"version": version},
        D.READ_SETTINGS: {"names": ["supplierName", "billingCalendar"]},
        D.WRITE_SETTINGS: {
            "settings": {
                "supplierName": "Contract & <Co>",
                "billingCalendar": {"start": "2026-04-01T00:00:00Z", "periodicity": "quarterly"},
            }
        },
    }.get(operation, {})


def takes(operation: DeviceOperation) -> Callable[[WorldDevice], bool]:
    """Whether a device's model supports ``operation`` (and is prepayment, if it must be)."""

    def check(device: WorldDevice) -> bool:
        supported = operation not in device.model.behaviour.unsupported
        return supported and (operation not in PREPAYMENT or device.prepayment)

    return check


async def test_an_identity_read_reports_type_manufacturer_model_and_firmware(
    headend: HeadEndUnderTest,
) -> None:
    device, credential = headend.device(DeviceType.ESME)
    model = headend.world_device(device).model

    reported = await headend.adapter().read_identity(device, credential)

    assert (reported.device_type, reported.manufacturer, reported.model) == (
        "ESME",
        model.manufacturer,
        model.model,
    )
    assert reported.firmware_version == headend.world_device(device).firmware


@pytest.mark.parametrize("operation", ALL_BUT_JOINING, ids=str)
async def test_every_operation_is_carried_out_on_a_device_it_applies_to(
    headend: HeadEndUnderTest, operation: DeviceOperation
) -> None:
    applies = CATALOGUE[operation].applies_to
    kind = next(k for k in PREFERRED if k in applies and headend.devices(k, takes(operation)))
    device, credential = headend.device(kind, where=takes(operation))
    world_device = headend.world_device(device)
    adapter = headend.adapter()
    if operation in PRELUDE:
        before = PRELUDE[operation]
        await adapter.execute(device, credential, before, sample_params(before, world_device))

    try:
        result = await adapter.execute(
            device, credential, operation, sample_params(operation, world_device)
        )
    except CommandRejected:
        # Emergency credit is granted only below the low-credit threshold: the device's
        # refusal still proves the round trip.
        if operation is not D.ACTIVATE_EMERGENCY_CREDIT:
            raise
        return

    assert isinstance(result, dict)
    assert result


async def test_a_hub_joins_and_unjoins_a_han_device(headend: HeadEndUnderTest) -> None:
    hub, credential = headend.device(DeviceType.CHF)
    ihd = "000D6F09FFFFFFF0"
    adapter = headend.adapter()

    joined = await adapter.execute(
        hub, credential, D.JOIN_DEVICE, {"device": ihd, "deviceType": "IHD"}
    )
    left = await adapter.execute(hub, credential, D.UNJOIN_DEVICE, {"device": ihd})

    assert isinstance(joined, dict)
    assert isinstance(left, dict)


async def test_a_replaced_credential_is_the_only_one_the_device_accepts_afterwards(
    headend: HeadEndUnderTest,
) -> None:
    device, old = headend.device(DeviceType.ESME)
    new = Secret(os.urandom(32))
    adapter = headend.adapter()

    await adapter.replace_credential(device, old, new)

    with pytest.raises(DeviceAuthenticationFailed):
        await adapter.read_identity(device, old)
    assert (await adapter.read_identity(device, new)).device_type == "ESME"


async def test_a_credential_mismatch_is_an_authentication_failure_tried_once(
    headend: HeadEndUnderTest,
) -> None:
    device, _ = headend.device(DeviceType.CHF)

    with pytest.raises(DeviceAuthenticationFailed):
        await headend.adapter().read_identity(device, Secret(os.urandom(32)))
    assert headend.requests_of(device) == 1


async def test_a_device_that_does_not_answer_is_unreachable_without_retries(
    headend: HeadEndUnderTest,
) -> None:
    device, credential = headend.device(DeviceType.ESME)
    headend.set_fault(device, "no_answer")

    with pytest.raises(DeviceUnreachable):
        await headend.adapter().read_identity(device, credential)
    assert headend.requests_of(device) == 1


async def test_a_silent_device_is_unreachable_after_every_retry_timed_out(
    headend: HeadEndUnderTest,
) -> None:
    device, credential = headend.device(DeviceType.ESME)
    headend.set_fault(device, "timeout")
    started = time.perf_counter()

    with pytest.raises(DeviceUnreachable, match=r"no answer within 0\.4 s"):
        await headend.adapter().read_identity(device, credential)

    assert headend.requests_of(device) == FAST.retries + 1
    assert time.perf_counter() - started >= (FAST.retries + 1) * FAST.timeout


async def test_a_silent_device_does_not_hold_up_the_requests_travelling_with_it(
    headend: HeadEndUnderTest,
) -> None:
    silent, credential = headend.device(DeviceType.ESME, 1)
    healthy = [headend.device(DeviceType.ESME, i) for i in (0, 2, 3)]
    headend.set_fault(silent, "timeout")
    adapter = headend.adapter(RetryPolicy(retries=0, timeout=0.4))

    outcomes = await asyncio.gather(
        adapter.read_identity(silent, credential),
        *(adapter.read_identity(d, c) for d, c in healthy),
        return_exceptions=True,
    )

    assert isinstance(outcomes[0], DeviceUnreachable)
    assert all(reported.device_type == "ESME" for reported in outcomes[1:])  # type: ignore[union-attr]


async def test_a_slow_answer_within_the_deadline_succeeds_first_time(
    headend: HeadEndUnderTest,
) -> None:
    device, credential = headend.device(DeviceType.GSME)
    headend.set_fault(device, "slow")

    reported = await headend.adapter().read_identity(device, credential)

    assert reported.device_type == "GSME"
    assert headend.requests_of(device) == 1


async def test_a_garbled_answer_is_retried_and_the_retry_succeeds(
    headend: HeadEndUnderTest,
) -> None:
    device, credential = headend.device(DeviceType.ESME)
    headend.set_fault(device, "garbled", count=1)

    reported = await headend.adapter().read_identity(device, credential)

    assert reported.device_type == "ESME"
    assert headend.requests_of(device) == 2


async def test_answers_garbled_every_time_are_a_protocol_violation(
    headend: HeadEndUnderTest,
) -> None:
    device, credential = headend.device(DeviceType.ESME)
    headend.set_fault(device, "garbled")

    with pytest.raises(ProtocolViolation, match="garbled"):
        await headend.adapter().read_identity(device, credential)
    assert headend.requests_of(device) == FAST.retries + 1


async def test_a_han_failure_on_the_gas_meter_leaves_the_electricity_meter_working(
    headend: HeadEndUnderTest,
) -> None:
    gas, gas_credential = headend.device(DeviceType.GSME)
    electricity, electricity_credential = headend.device(DeviceType.ESME)
    headend.set_fault(gas, "han_failure")
    adapter = headend.adapter()

    with pytest.raises(HanFailure):
        await adapter.read_identity(gas, gas_credential)
    assert (await adapter.read_identity(electricity, electricity_credential)).device_type == "ESME"
    assert headend.requests_of(gas) == 1


async def test_an_unavailable_head_end_is_reported_and_serves_again_once_back(
    headend: HeadEndUnderTest,
) -> None:
    device, credential = headend.device(DeviceType.ESME)
    adapter = headend.adapter()
    headend.set_available(False)

    with pytest.raises(HeadEndUnavailable, match="unavailable"):
        await adapter.read_identity(device, credential)

    headend.set_available(True)
    assert (await adapter.read_identity(device, credential)).device_type == "ESME"


async def test_a_head_end_back_within_the_retries_answers_the_waiting_request(
    headend: HeadEndUnderTest,
) -> None:
    device, credential = headend.device(DeviceType.ESME)
    adapter = headend.adapter(RetryPolicy(retries=6, first_backoff=0.02, timeout=1.0))
    headend.set_available(False)
    asyncio.get_running_loop().call_later(0.1, headend.set_available, True)

    reported = await adapter.read_identity(device, credential)

    assert reported.device_type == "ESME"


async def test_the_adapter_keeps_within_the_session_limit_so_every_request_completes(
    headend: HeadEndUnderTest,
) -> None:
    devices = [
        headend.device(kind, i) for kind in (DeviceType.ESME, DeviceType.GSME) for i in range(4)
    ]
    for device, _ in devices:
        headend.set_fault(device, "slow")
    adapter = headend.adapter(RetryPolicy(retries=0, timeout=5.0), session_limit=SESSION_LIMIT)

    reports = await asyncio.gather(
        *(adapter.read_identity(d, c) for d, c in devices for _ in range(4))
    )

    assert len(reports) == 32
    assert headend.core.max_in_progress <= SESSION_LIMIT


async def test_a_burst_beyond_the_session_limit_is_answered_busy(
    headend: HeadEndUnderTest,
) -> None:
    device, credential = headend.device(DeviceType.ESME)
    headend.set_fault(device, "slow")
    unlimited = headend.adapter(RetryPolicy(retries=0, timeout=5.0), session_limit=1000)

    outcomes = await asyncio.gather(
        *(unlimited.read_identity(device, credential) for _ in range(3 * SESSION_LIMIT)),
        return_exceptions=True,
    )

    busy = [o for o in outcomes if isinstance(o, HeadEndUnavailable)]
    assert len(busy) == 2 * SESSION_LIMIT
    assert all("BUSY" in str(o) or "busy" in str(o) for o in busy)


async def test_an_operation_the_device_does_not_support_is_reported_as_such(
    headend: HeadEndUnderTest,
) -> None:
    hub, credential = headend.device(DeviceType.CHF)

    with pytest.raises(OperationNotSupported):
        await headend.adapter().execute(hub, credential, D.READ_PROFILE, {"from": "x", "to": "y"})
    assert headend.requests_of(hub) == 1


async def test_parameters_the_device_cannot_take_are_a_rejected_command(
    headend: HeadEndUnderTest,
) -> None:
    device, credential = headend.device(DeviceType.ESME)

    with pytest.raises(CommandRejected):
        await headend.adapter().execute(device, credential, D.READ_EVENT_LOG, {"limit": "ten"})
    assert headend.requests_of(device) == 1


async def test_parameters_no_protocol_carries_are_refused_before_sending(
    headend: HeadEndUnderTest,
) -> None:
    device, credential = headend.device(DeviceType.ESME)

    with pytest.raises(CommandRejected, match="cannot be sent"):
        await headend.adapter().execute(
            device, credential, D.DISPLAY_MESSAGE, {"text": float("nan")}
        )
    assert headend.requests_of(device) == 0


async def test_a_debt_adjustment_whose_answer_is_lost_is_not_repeated(
    headend: HeadEndUnderTest,
) -> None:
    device, credential = headend.device(DeviceType.ESME)
    headend.set_fault(device, "garbled", count=1)

    with pytest.raises(ProtocolViolation, match="after 1 try"):
        await headend.adapter().execute(device, credential, D.ADJUST_DEBT, {"amount": 500})
    assert headend.requests_of(device) == 1


async def test_a_device_the_head_end_does_not_serve_is_a_clear_protocol_violation(
    headend: HeadEndUnderTest,
) -> None:
    stranger = Eui64.parse("00-0D-6F-09-AA-AA-AA-AA")

    with pytest.raises(ProtocolViolation, match="UNKNOWN_DEVICE"):
        await headend.adapter().read_identity(stranger, Secret(os.urandom(32)))


async def test_many_concurrent_requests_each_get_their_own_answer(
    headend: HeadEndUnderTest,
) -> None:
    pairs = [
        headend.device(kind, i)
        for kind in (DeviceType.ESME, DeviceType.GSME, DeviceType.CHF)
        for i in range(4)
    ]
    adapter = headend.adapter(session_limit=SESSION_LIMIT)

    reports = await asyncio.gather(*(adapter.read_identity(d, c) for d, c in pairs * 20))

    assert [r.device_type for r in reports] == [
        headend.world_device(d).model.device_type.value for d, _ in pairs * 20
    ]


# -- settings, event log and HAN log: objects and lists on every protocol --------------------------


def lacks_a_setting(device: WorldDevice) -> bool:
    return bool(device.model.behaviour.unsupported_settings)


async def test_settings_written_as_an_object_are_read_back_through_the_protocol(
    headend: HeadEndUnderTest,
) -> None:
    device, credential = headend.device(DeviceType.ESME)
    adapter = headend.adapter()
    settings = {
        "supplierName": "Wire & <Co>",
        "prepayment": {
            "debtRecoveryRateCap": 30,
            "emergencyCreditLimit": 300_000,
            "emergencyCreditThreshold": 100_000,
            "lowCreditThreshold": 200_000,
            "maxMeterBalance": 5_000_000,
            "maxCreditThreshold": 1_000_000,
        },
        "alertBehaviours": {"810D": True, "8119": False},
        "tenancyRestrictedFrom": None,
        "paymentMode": "prepayment",
    }

    written = await adapter.execute(device, credential, D.WRITE_SETTINGS, {"settings": settings})
    read = await adapter.execute(device, credential, D.READ_SETTINGS, {"names": sorted(settings)})
    configuration = await adapter.execute(device, credential, D.READ_CONFIGURATION, {})

    assert written["previous"]["supplierName"] == "Supplier"
    assert written["previous"]["tenancyRestrictedFrom"] is None
    assert read == {"settings": settings}
    assert configuration["paymentMode"] == "prepayment"


async def test_a_setting_the_model_lacks_is_not_supported_and_a_bad_value_rejected(
    headend: HeadEndUnderTest,
) -> None:
    kind = next(
        k for k in (DeviceType.ESME, DeviceType.GSME) if headend.devices(k, lacks_a_setting)
    )
    device, credential = headend.device(kind, where=lacks_a_setting)
    lacking = sorted(headend.world_device(device).model.behaviour.unsupported_settings)[0]
    adapter = headend.adapter()

    with pytest.raises(OperationNotSupported, match=lacking):
        await adapter.execute(device, credential, D.READ_SETTINGS, {"names": [lacking]})
    with pytest.raises(CommandRejected, match="supplierName"):
        await adapter.execute(
            device, credential, D.WRITE_SETTINGS, {"settings": {"supplierName": "x" * 16}}
        )
    assert headend.world_device(device).extras is None


async def test_the_event_log_is_cleared_and_the_han_log_listed_through_the_protocol(
    headend: HeadEndUnderTest,
) -> None:
    meter, meter_credential = headend.device(DeviceType.GSME)
    hub, hub_credential = headend.device(DeviceType.CHF)
    headend.world_device(meter).log_event(0, "tamper")
    adapter = headend.adapter()
    installed = sorted(
        key for key, d in headend.core.inner.devices.items() if d.associated == hub.hex
    )

    cleared = await adapter.execute(meter, meter_credential, D.CLEAR_EVENT_LOG, {})
    han = await adapter.execute(hub, hub_credential, D.READ_HAN_LOG, {})

    assert cleared == {"cleared": 1}
    assert [entry["device"] for entry in han["devices"]] == installed
    assert {entry["deviceType"] for entry in han["devices"]} >= {"ESME", "IHD"}
