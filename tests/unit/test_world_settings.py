"""Settings, the event log's clearing and the HAN device log, through
``EmulatedHeadEnd.execute`` (no network)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s1adopt.domain.device_settings import SETTINGS, settings_of
from s1adopt.domain.devices import DeviceType
from s1adopt.emulators.world.core import EmulatedHeadEnd, HeadEndSettings
from s1adopt.emulators.world.device import WorldDevice
from s1adopt.emulators.world.journal import Journal
from s1adopt.formats.device_auth import ErrorCode
from tests.unit.test_world_core import (
    NOW,
    D,
    RecordingSink,
    StoppedClock,
    _device,
    alerts,
    refused,
    run,
)

CHF, ESME, ESME_NO_LOAD_LIMIT, ESME_PREPAY, GPF, GSME, GSME_NO_FLOW, IHD, PPMID = (
    f"000D6F02000000{n:02X}" for n in range(1, 10)
)
STRANGER_IHD = "000D6F09FFFFFFF0"
PREPAYMENT = {
    "debtRecoveryRateCap": 30,
    "emergencyCreditLimit": 2_000,
    "emergencyCreditThreshold": 10_000_000,
    "lowCreditThreshold": 10_000_000,
    "maxMeterBalance": 5_000_000,
    "maxCreditThreshold": 1_000_000,
}


def _devices() -> dict[str, WorldDevice]:
    return {
        CHF: _device("CHF", "Northwind Comms", "NW-CH1"),
        ESME: _device(
            "ESME", "Aurora Metering", "AM-E310", mpxn="1200000000019", base=5, associated=CHF
        ),
        ESME_NO_LOAD_LIMIT: _device("ESME", "Brightwell", "BW-SP1", mpxn="1300000000010"),
        ESME_PREPAY: _device(
            "ESME", "Aurora Metering", "AM-E310", mpxn="1400000000012", prepayment=True
        ),
        GPF: _device("GPF", "Northwind Comms", "NW-GPF1", associated=CHF),
        GSME: _device("GSME", "Brightwell", "BW-GS2", mpxn="1000000108", associated=GPF),
        GSME_NO_FLOW: _device("GSME", "Larkspur & Gale", "LG-G350", mpxn="1000000207"),
        IHD: _device("IHD", "Corvid", "CV-IHD3", associated=CHF),
        PPMID: _device("PPMID", "Corvid", "CV-PP1", associated=CHF),
    }


@pytest.fixture
def headend(tmp_path: Path) -> Iterator[EmulatedHeadEnd]:
    journal = Journal(tmp_path / "smso-settings.journal.jsonl")
    journal.open()
    core = EmulatedHeadEnd(
        name="smso-settings",
        smso="90-B3-D5-1F-30-10-00-01",
        cohort="IOC",
        protocol="s1-json/2",
        session_limit=4,
        devices=_devices(),
        journal=journal,
        alerts=RecordingSink(),
        clock=StoppedClock(NOW + 0.25),
        world_seed=5,
        settings=HeadEndSettings(no_answer_delay=0.001, model_delays=False),
    )
    yield core
    journal.close()


async def read(headend: EmulatedHeadEnd, device: str, *names: str) -> dict[str, Any]:
    answer = await run(headend, device, D.READ_SETTINGS, {"names": list(names)})
    settings: dict[str, Any] = answer["settings"]
    return settings


async def write(headend: EmulatedHeadEnd, device: str, **settings: Any) -> dict[str, Any]:
    answer = await run(headend, device, D.WRITE_SETTINGS, {"settings": settings})
    previous: dict[str, Any] = answer["previous"]
    return previous


# -- reading and writing --------------------------------------------------------------------------


@pytest.mark.parametrize(("device", "kind"), [(ESME, DeviceType.ESME), (GSME, DeviceType.GSME)])
async def test_a_meter_answers_every_setting_of_its_type_with_its_default_until_written(
    headend: EmulatedHeadEnd, device: str, kind: DeviceType
) -> None:
    values = await read(headend, device, *settings_of(kind))

    assert list(values) == list(settings_of(kind))
    for name, value in values.items():
        if name == "importMpxn":
            assert value == headend.devices[device].mpxn
        else:
            assert value == SETTINGS[name].default, name
    assert headend.devices[device].extras is None  # reading changes nothing


async def test_a_written_setting_is_read_back_and_the_write_answers_what_it_replaced(
    headend: EmulatedHeadEnd,
) -> None:
    calendar = {"start": "2026-04-01T00:00:00.00Z", "periodicity": "quarterly"}

    previous = await write(
        headend, ESME, supplierName="Octo", billingCalendar=calendar, maxDemandPeriod=900
    )
    again = await write(headend, ESME, supplierName="Octo Two")

    assert previous == {
        "supplierName": "Supplier",
        "billingCalendar": SETTINGS["billingCalendar"].default,
        "maxDemandPeriod": 1800,
    }
    assert again == {"supplierName": "Octo"}
    assert await read(headend, ESME, "supplierName", "billingCalendar", "maxDemandPeriod") == {
        "supplierName": "Octo Two",
        "billingCalendar": {"start": "2026-04-01T00:00:00Z", "periodicity": "quarterly"},
        "maxDemandPeriod": 900,
    }
    assert await read(headend, ESME_PREPAY, "supplierName") == {"supplierName": "Supplier"}


async def test_answers_are_copies_so_changing_one_changes_no_device(
    headend: EmulatedHeadEnd,
) -> None:
    answered = await read(headend, GSME, "gasFlow")
    answered["gasFlow"]["period"] = 1

    assert (await read(headend, GSME, "gasFlow"))["gasFlow"]["period"] == 60
    assert SETTINGS["gasFlow"].default["period"] == 60


async def test_alert_behaviours_written_merge_into_those_held(headend: EmulatedHeadEnd) -> None:
    await write(headend, GSME, alertBehaviours={"810d": False, "8F35": True})
    previous = await write(headend, GSME, alertBehaviours={"8F35": False})

    assert previous == {"alertBehaviours": {"810D": False, "8F35": True}}
    assert await read(headend, GSME, "alertBehaviours") == {
        "alertBehaviours": {"810D": False, "8F35": False}
    }


async def test_payment_mode_and_meter_point_are_the_state_read_configuration_reports(
    headend: EmulatedHeadEnd,
) -> None:
    previous = await write(headend, ESME, paymentMode="prepayment", importMpxn="1900000000011")
    configuration = await run(headend, ESME, D.READ_CONFIGURATION)

    assert previous == {"paymentMode": "credit", "importMpxn": "1200000000019"}
    assert configuration["paymentMode"] == "prepayment"
    assert configuration["mpxn"] == "1900000000011"
    assert await read(headend, ESME_PREPAY, "paymentMode") == {"paymentMode": "prepayment"}
    assert "balance" in await run(headend, ESME, D.READ_BALANCE)  # a prepayment meter now

    await write(headend, ESME, paymentMode="credit")
    assert (await run(headend, ESME, D.READ_CONFIGURATION))["paymentMode"] == "credit"
    assert (await refused(headend, ESME, D.READ_BALANCE)).code is ErrorCode.REJECTED


# -- refusals leave the device as it was ----------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"supplierName": "Fine", "maxDemandPeriod": 59}, "maxDemandPeriod"),
        ({"supplierName": "Fine", "powerThresholds": {"low": 9, "medium": 1}}, "low"),
        ({"paymentMode": "prepayment", "importMpxn": "12345"}, "MPAN"),
        ({"alertBehaviours": {"810D": False}, "tamperState": "Locked"}, "tamperState"),
        ({"supplierName": "Fine", "colour": "red"}, "'colour' is not a setting"),
        ({"supplierName": "Fine", "gasFlow": {}}, "device type ESME"),
    ],
)
async def test_an_invalid_write_is_a_bad_request_naming_the_setting_and_changes_nothing(
    headend: EmulatedHeadEnd, settings: dict[str, Any], named: str
) -> None:
    refusal = await refused(headend, ESME, D.WRITE_SETTINGS, {"settings": settings})

    assert refusal.code is ErrorCode.BAD_REQUEST
    assert named in refusal.message
    device = headend.devices[ESME]
    assert device.extras is None or device.extras.settings is None
    assert (device.prepayment, device.mpxn) == (False, "1200000000019")


async def test_reading_or_writing_a_setting_the_model_lacks_is_not_supported(
    headend: EmulatedHeadEnd,
) -> None:
    load_limit = {"powerThreshold": 6900, "period": 300, "restorationPeriod": 30}
    flow = {"uncontrolledGasFlowRate": 61_680, "period": 300}
    cases: list[tuple[str, Any, dict[str, Any]]] = [
        (ESME_NO_LOAD_LIMIT, D.READ_SETTINGS, {"names": ["supplierName", "loadLimitCounter"]}),
        (ESME_NO_LOAD_LIMIT, D.WRITE_SETTINGS, {"settings": {"loadLimit": load_limit}}),
        (GSME_NO_FLOW, D.WRITE_SETTINGS, {"settings": {"privacyPin": False, "gasFlow": flow}}),
    ]
    for device, op, params in cases:
        refusal = await refused(headend, device, op, params)
        assert refusal.code is ErrorCode.NOT_SUPPORTED, (device, op)
        assert "does not support the setting" in refusal.message
        assert headend.devices[device].extras is None

    assert await write(headend, ESME, loadLimit=load_limit)  # the other model has it
    assert (await read(headend, GSME, "gasFlow"))["gasFlow"]["period"] == 60


async def test_settings_must_be_named_and_hubs_hold_none_yet(headend: EmulatedHeadEnd) -> None:
    no_names = await refused(headend, ESME, D.READ_SETTINGS, {"names": []})
    no_settings = await refused(headend, GSME, D.WRITE_SETTINGS, {"settings": {}})
    not_an_object = await refused(headend, GSME, D.WRITE_SETTINGS, {"settings": ["privacyPin"]})
    on_a_hub = await refused(headend, CHF, D.READ_SETTINGS, {"names": ["supplierName"]})
    on_an_ihd_type = await refused(headend, PPMID, D.READ_SETTINGS, {"names": ["supplierName"]})

    assert no_names.code is no_settings.code is not_an_object.code is ErrorCode.BAD_REQUEST
    assert "names" in no_names.message
    assert "settings" in no_settings.message
    assert "settings" in not_an_object.message
    assert on_a_hub.code is ErrorCode.BAD_REQUEST
    assert "device type CHF" in on_a_hub.message
    assert on_an_ihd_type.code is ErrorCode.NOT_SUPPORTED  # read_settings is not a PPMID's


# -- settings that drive behaviour ----------------------------------------------------------------


async def test_a_disabled_alert_code_is_logged_but_not_sent(headend: EmulatedHeadEnd) -> None:
    await write(headend, ESME, alertBehaviours={"8F57": False})  # supply interrupted

    await run(headend, ESME, D.DISABLE_SUPPLY)
    await run(headend, ESME, D.ENABLE_SUPPLY)

    assert [a.kind for a in alerts(headend)] == ["supply_restored"]
    assert headend.totals.alerts_suppressed == 1
    events = (await run(headend, ESME, D.READ_EVENT_LOG, {"limit": 5}))["events"]
    assert [e["kind"] for e in events] == ["supply_restored", "supply_outage"]

    await write(headend, ESME, alertBehaviours={"8F57": True})
    await run(headend, ESME, D.DISABLE_SUPPLY)
    assert [a.kind for a in alerts(headend)] == ["supply_restored", "supply_outage"]


async def test_the_prepayment_setting_drives_low_credit_and_emergency_credit(
    headend: EmulatedHeadEnd,
) -> None:
    before = await run(headend, ESME_PREPAY, D.READ_BALANCE)
    assert alerts(headend) == []  # the balance is above the default threshold

    await write(headend, ESME_PREPAY, prepayment=PREPAYMENT)
    low = await run(headend, ESME_PREPAY, D.READ_BALANCE)
    granted = await run(headend, ESME_PREPAY, D.ACTIVATE_EMERGENCY_CREDIT)

    assert (
        before["emergencyCreditAvailable"] == SETTINGS["prepayment"].default["emergencyCreditLimit"]
    )
    assert low["emergencyCreditAvailable"] == 2_000
    assert [a.kind for a in alerts(headend)] == ["low_credit"]
    assert granted == {"balance": low["balance"] + 2_000, "emergencyCreditInUse": 2_000}


# -- event log ------------------------------------------------------------------------------------


async def test_clearing_the_event_log_empties_it_and_is_a_security_event(
    headend: EmulatedHeadEnd,
) -> None:
    for n in range(3):
        headend.devices[GSME].log_event(NOW + n, "tamper", str(n))

    first = await run(headend, GSME, D.CLEAR_EVENT_LOG)
    second = await run(headend, GSME, D.CLEAR_EVENT_LOG)

    assert (first, second) == ({"cleared": 3}, {"cleared": 0})
    assert await run(headend, GSME, D.READ_EVENT_LOG, {"limit": 10}) == {"events": []}
    security = (await run(headend, GSME, D.READ_SECURITY_LOG, {"limit": 10}))["events"]
    assert [(e["kind"], e["detail"]) for e in security] == [
        ("event_log_cleared", "0 entries"),
        ("event_log_cleared", "3 entries"),
    ]
    assert (await refused(headend, CHF, D.CLEAR_EVENT_LOG)).code is ErrorCode.NOT_SUPPORTED


# -- HAN device log -------------------------------------------------------------------------------


async def test_the_han_log_lists_the_devices_installed_with_the_hub_plus_joined_minus_removed(
    headend: EmulatedHeadEnd,
) -> None:
    installed = await run(headend, CHF, D.READ_HAN_LOG)
    await run(headend, CHF, D.JOIN_DEVICE, {"device": STRANGER_IHD.lower(), "deviceType": "IHD"})
    await run(headend, CHF, D.UNJOIN_DEVICE, {"device": PPMID})
    changed = await run(headend, CHF, D.READ_HAN_LOG)
    await run(headend, CHF, D.JOIN_DEVICE, {"device": PPMID, "deviceType": "PPMID"})
    await run(headend, CHF, D.UNJOIN_DEVICE, {"device": STRANGER_IHD})
    restored = await run(headend, CHF, D.READ_HAN_LOG)

    assert installed == {
        "devices": [
            {"device": ESME, "deviceType": "ESME"},
            {"device": GPF, "deviceType": "GPF"},
            {"device": IHD, "deviceType": "IHD"},
            {"device": PPMID, "deviceType": "PPMID"},
        ]
    }
    assert changed == {
        "devices": [
            {"device": ESME, "deviceType": "ESME"},
            {"device": GPF, "deviceType": "GPF"},
            {"device": IHD, "deviceType": "IHD"},
            {"device": STRANGER_IHD, "deviceType": "IHD"},
        ]
    }
    assert restored == installed


async def test_the_gas_proxy_s_han_log_lists_its_gas_meter_and_meters_keep_none(
    headend: EmulatedHeadEnd,
) -> None:
    assert await run(headend, GPF, D.READ_HAN_LOG) == {
        "devices": [{"device": GSME, "deviceType": "GSME"}]
    }
    assert (await refused(headend, ESME, D.READ_HAN_LOG)).code is ErrorCode.NOT_SUPPORTED
