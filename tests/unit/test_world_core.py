"""Every device operation and every fault, through ``EmulatedHeadEnd.execute`` (no network)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from s1adopt.domain.device_models import model_for
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.operations import CATALOGUE, DeviceOperation
from s1adopt.domain.secrets import Secret
from s1adopt.emulators.world.alerts import Alert, AlertSink
from s1adopt.emulators.world.clock import DAY, HALF_HOUR, time_text
from s1adopt.emulators.world.core import EmulatedHeadEnd, HeadEndSettings
from s1adopt.emulators.world.core_api import CoreRefusal, Garble, HeadEndCore, Silence
from s1adopt.emulators.world.device import WorldDevice
from s1adopt.emulators.world.faults import DeviceFault
from s1adopt.emulators.world.journal import Journal
from s1adopt.emulators.world.meter import EMERGENCY_CREDIT, LOW_CREDIT_THRESHOLD
from s1adopt.formats.device_auth import (
    ErrorCode,
    new_nonce,
    request_tag,
    seal_new_credential,
)
from s1adopt.formats.firmware import firmware_image_hash

D = DeviceOperation
NOW = int(datetime(2026, 11, 28, 9, 40, 17, tzinfo=UTC).timestamp())
KEY = bytes(range(32))
CHF, ESME, ESME_END, GSME, GPF, IHD, PPMID, ESME_PREPAY, GSME_NO_LOG = (
    f"000D6F01000000{n:02X}" for n in range(1, 10)
)


class StoppedClock:
    """The world's time, moved only by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingSink(AlertSink):
    """Keeps the alerts pushed instead of sending them."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Alert] = []

    def push(self, alert: Alert) -> None:
        self.sent.append(alert)


def _device(kind: str, manufacturer: str, model: str, **meter: Any) -> WorldDevice:
    found = model_for(kind, manufacturer, model)
    return WorldDevice(found, found.firmware, None if kind == "IHD" else KEY, **meter)


def _devices() -> dict[str, WorldDevice]:
    return {
        CHF: _device("CHF", "Northwind Comms", "NW-CH1"),
        ESME: _device(
            "ESME",
            "Aurora Metering",
            "AM-E310",
            mpxn="1200000000019",
            base=5_000_000,
            associated=CHF,
        ),
        ESME_END: _device("ESME", "Brightwell", "BW-SP1", mpxn="1300000000010", base=7),
        GSME: _device("GSME", "Brightwell", "BW-GS2", mpxn="1000000108", base=40_000),
        GPF: _device("GPF", "Northwind Comms", "NW-GPF1", associated=CHF),
        IHD: _device("IHD", "Corvid", "CV-IHD3", associated=CHF),
        PPMID: _device("PPMID", "Corvid", "CV-PP1", associated=CHF),
        ESME_PREPAY: _device(
            "ESME", "Aurora Metering", "AM-E310", mpxn="1400000000012", prepayment=True, base=3
        ),
        GSME_NO_LOG: _device("GSME", "Aurora Metering", "AM-G210", mpxn="1000000207", base=9),
    }


@pytest.fixture
def clock() -> StoppedClock:
    return StoppedClock(NOW + 0.25)


@pytest.fixture
def headend(tmp_path: Path, clock: StoppedClock) -> Iterator[EmulatedHeadEnd]:
    journal = Journal(tmp_path / "smso-test.journal.jsonl")
    journal.open()
    settings = HeadEndSettings(no_answer_delay=0.001, slow_delay=0.05, model_delays=False)
    core = EmulatedHeadEnd(
        name="smso-test",
        smso="90-B3-D5-1F-30-10-00-01",
        cohort="IOC",
        protocol="s1-json/2",
        session_limit=4,
        devices=_devices(),
        journal=journal,
        alerts=RecordingSink(),
        clock=clock,
        world_seed=3,
        settings=settings,
    )
    yield core
    journal.close()


def alerts(headend: EmulatedHeadEnd) -> list[Alert]:
    sink = headend.alerts
    assert isinstance(sink, RecordingSink)
    return sink.sent


async def run(
    headend: EmulatedHeadEnd,
    device: str,
    op: DeviceOperation,
    params: dict[str, Any] | None = None,
    credential: bytes = KEY,
) -> dict[str, Any]:
    params = params or {}
    nonce = new_nonce()
    tag = request_tag(Secret(credential), op, device, nonce, params)
    return await headend.execute(device, op.value, params, nonce, tag)


async def refused(
    headend: EmulatedHeadEnd,
    device: str,
    op: DeviceOperation,
    params: dict[str, Any] | None = None,
    credential: bytes = KEY,
) -> CoreRefusal:
    with pytest.raises(CoreRefusal) as caught:
        await run(headend, device, op, params, credential)
    return caught.value


def span(days: float, end: int = NOW) -> dict[str, str]:
    return {"from": time_text(int(end - days * DAY)), "to": time_text(end)}


def test_the_core_implements_the_head_end_core_contract(headend: EmulatedHeadEnd) -> None:
    core: HeadEndCore = headend
    assert (core.name, core.cohort, core.protocol, core.session_limit) == (
        "smso-test",
        "IOC",
        "s1-json/2",
        4,
    )
    assert core.available


# -- identity, configuration, credential, clock ---------------------------------------------------


async def test_read_identity_reports_the_model_and_its_firmware(headend: EmulatedHeadEnd) -> None:
    answer = await run(headend, ESME.lower(), D.READ_IDENTITY)

    assert answer == {
        "deviceId": ESME,
        "deviceType": "ESME",
        "manufacturer": "Aurora Metering",
        "model": "AM-E310",
        "firmware": "1.7.2",
    }
    assert headend.devices[ESME].identity_reads == 1
    assert headend.totals.identity_reads == 1


async def test_read_configuration_reports_meter_point_payment_tariff_and_supply(
    headend: EmulatedHeadEnd,
) -> None:
    credit = await run(headend, ESME, D.READ_CONFIGURATION)
    prepay = await run(headend, ESME_PREPAY, D.READ_CONFIGURATION)

    assert credit["mpxn"] == "1200000000019"
    assert credit["paymentMode"] == "credit"
    assert prepay["paymentMode"] == "prepayment"
    assert credit["tariff"]["bands"] == [0] * 48
    assert len(credit["tariff"]["prices"]) == 1
    assert credit["supply"] == "enabled"


async def test_a_replaced_credential_is_journalled_and_the_old_one_stops_working(
    headend: EmulatedHeadEnd,
) -> None:
    new = bytes(range(100, 132))
    params = seal_new_credential(Secret(KEY), Secret(new), ESME)

    assert await run(headend, ESME, D.REPLACE_CREDENTIAL, params) == {"replaced": True}

    assert (await refused(headend, ESME, D.READ_IDENTITY)).code is ErrorCode.AUTH_FAILED
    assert (await run(headend, ESME, D.READ_IDENTITY, credential=new))["model"] == "AM-E310"
    assert new.hex() in headend.journal.path.read_text()
    assert headend.totals.credential_replacements == 1
    log = await run(headend, ESME, D.READ_SECURITY_LOG, {"limit": 10}, credential=new)
    assert [e["kind"] for e in log["events"]] == ["auth_failure", "credential_replaced"]


async def test_a_credential_that_does_not_open_or_is_too_short_is_a_bad_request(
    headend: EmulatedHeadEnd,
) -> None:
    wrong = seal_new_credential(Secret(b"x" * 32), Secret(b"y" * 32), ESME)
    short = seal_new_credential(Secret(KEY), Secret(b"short"), ESME)

    for params in (wrong, short):
        refusal = await refused(headend, ESME, D.REPLACE_CREDENTIAL, params)
        assert refusal.code is ErrorCode.BAD_REQUEST
        assert "sealed" in refusal.message
    assert headend.devices[ESME].credential == KEY


async def test_synchronise_clock_answers_the_offset_and_moves_the_device_clock(
    headend: EmulatedHeadEnd,
) -> None:
    ahead = NOW + 90
    first = await run(headend, ESME, D.SYNCHRONISE_CLOCK, {"time": time_text(ahead)})
    second = await run(headend, ESME, D.SYNCHRONISE_CLOCK, {"time": time_text(ahead)})
    reading = await run(headend, ESME, D.READ_INSTANTANEOUS)

    assert first == {"offset": -90, "time": time_text(ahead)}
    assert second["offset"] == 0
    assert reading["time"] == time_text(ahead)


# -- readings -------------------------------------------------------------------------------------


async def test_instantaneous_registers_sized_by_the_model_add_up_to_the_total(
    headend: EmulatedHeadEnd,
) -> None:
    four = await run(headend, ESME, D.READ_INSTANTANEOUS)
    eight = await run(headend, ESME_END, D.READ_INSTANTANEOUS)
    gas = await run(headend, GSME, D.READ_INSTANTANEOUS)

    assert len(four["tou"]) == 4
    assert len(eight["tou"]) == 8
    assert sum(four["tou"]) == four["total"] > 5_000_000
    assert four["unit"] == "Wh"
    assert gas["unit"] == "L"
    assert four["demand"] > 0
    assert await run(headend, ESME, D.READ_INSTANTANEOUS) == four  # repeatable


async def test_registers_advance_with_the_clock(
    headend: EmulatedHeadEnd, clock: StoppedClock
) -> None:
    before = await run(headend, ESME, D.READ_INSTANTANEOUS)
    clock.now += 6 * 3600
    after = await run(headend, ESME, D.READ_INSTANTANEOUS)

    assert after["total"] > before["total"]


async def test_the_profile_sums_to_the_register_delta_over_the_same_span(
    headend: EmulatedHeadEnd, clock: StoppedClock
) -> None:
    end = NOW - NOW % HALF_HOUR
    start = end - 2 * DAY
    clock.now = start
    at_start = (await run(headend, ESME, D.READ_INSTANTANEOUS))["total"]
    clock.now = end
    at_end = (await run(headend, ESME, D.READ_INSTANTANEOUS))["total"]
    profile = await run(
        headend, ESME, D.READ_PROFILE, {"from": time_text(start), "to": time_text(end)}
    )

    assert len(profile["intervals"]) == 96
    assert sum(i["value"] for i in profile["intervals"]) == at_end - at_start


async def test_a_smets1_model_stamps_an_interval_at_its_start_another_at_its_end(
    headend: EmulatedHeadEnd,
) -> None:
    start = NOW - NOW % HALF_HOUR - DAY
    params = {"from": time_text(start), "to": time_text(start + 2 * HALF_HOUR)}

    at_start = await run(headend, ESME, D.READ_PROFILE, params)
    at_end = await run(headend, ESME_END, D.READ_PROFILE, params)

    assert [list(i) for i in at_start["intervals"]] == [["start", "value"]] * 2
    assert at_start["intervals"][0]["start"] == time_text(start)
    assert at_end["intervals"][0]["end"] == time_text(start + HALF_HOUR)


async def test_the_profile_holds_only_completed_intervals(headend: EmulatedHeadEnd) -> None:
    answer = await run(headend, ESME, D.READ_PROFILE, span(1, NOW + DAY // 4))

    last = answer["intervals"][-1]["start"]
    assert last == time_text(NOW - NOW % HALF_HOUR - HALF_HOUR)


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        (span(32), "at most 31 days"),
        ({"from": time_text(NOW), "to": time_text(NOW - 60)}, "before 'to'"),
        ({"from": "2019-12-01T00:00:00Z", "to": "2019-12-02T00:00:00Z"}, "no data before"),
    ],
)
async def test_a_profile_read_outside_the_limits_is_rejected(
    headend: EmulatedHeadEnd, params: dict[str, str], problem: str
) -> None:
    refusal = await refused(headend, ESME, D.READ_PROFILE, params)

    assert refusal.code is ErrorCode.REJECTED
    assert problem in refusal.message


async def test_the_daily_log_equals_the_register_at_each_midnight(
    headend: EmulatedHeadEnd, clock: StoppedClock
) -> None:
    log = await run(headend, GSME, D.READ_DAILY_LOG, span(3))
    midnight = NOW - NOW % DAY
    clock.now = midnight
    at_midnight = await run(headend, GSME, D.READ_INSTANTANEOUS)

    assert [d["time"] for d in log["days"]] == [time_text(midnight - n * DAY) for n in (2, 1, 0)]
    assert log["days"][-1]["value"] == at_midnight["total"]
    assert log["unit"] == "L"


# -- logs -----------------------------------------------------------------------------------------


async def test_logs_are_bounded_newest_first_and_cost_nothing_while_idle(
    headend: EmulatedHeadEnd,
) -> None:
    assert (await run(headend, CHF, D.READ_EVENT_LOG, {"limit": 5})) == {"events": []}
    assert headend.devices[CHF].extras is None

    for n in range(105):
        headend.devices[CHF].log_event(NOW + n, "tamper", str(n))
    events = (await run(headend, CHF, D.READ_EVENT_LOG, {"limit": 100}))["events"]

    assert len(events) == 100
    assert events[0]["detail"] == "104"
    assert events[-1]["detail"] == "5"
    refusal = await refused(headend, CHF, D.READ_EVENT_LOG, {"limit": 0})
    assert refusal.code is ErrorCode.BAD_REQUEST
    assert "limit" in refusal.message


# -- tariff and prices ----------------------------------------------------------------------------


async def test_a_tariff_change_keeps_the_registers_adding_up(
    headend: EmulatedHeadEnd, clock: StoppedClock
) -> None:
    before = await run(headend, ESME, D.READ_INSTANTANEOUS)
    bands = [1 if 14 <= h < 44 else 0 for h in range(48)]
    assert await run(headend, ESME, D.UPDATE_TARIFF, {"bands": bands, "prices": [1200, 3100]})
    clock.now += 2 * DAY
    after = await run(headend, ESME, D.READ_INSTANTANEOUS)
    config = await run(headend, ESME, D.READ_CONFIGURATION)

    assert sum(after["tou"]) == after["total"]
    assert after["tou"][1] > 0
    assert after["tou"][0] > before["tou"][0]
    assert config["tariff"]["bands"] == bands
    assert config["tariff"]["prices"] == [1200, 3100]


async def test_more_bands_than_the_model_has_registers_is_rejected(
    headend: EmulatedHeadEnd,
) -> None:
    bands = [h % 5 for h in range(48)]

    refusal = await refused(
        headend, ESME, D.UPDATE_TARIFF, {"bands": bands, "prices": [1, 2, 3, 4, 5]}
    )
    eight = await run(headend, ESME_END, D.UPDATE_TARIFF, {"bands": bands, "prices": [1] * 5})

    assert refusal.code is ErrorCode.REJECTED
    assert "4 time-of-use registers" in refusal.message
    assert eight == {"updated": True}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bands": [0] * 47, "prices": [1]}, "bands"),
        ({"bands": [2] * 48, "prices": [1, 2]}, "bands"),
        ({"bands": [0] * 48, "prices": []}, "prices"),
        ({"bands": [0] * 48, "prices": ["1"]}, "prices"),
        ({"bands": [0] * 48}, "prices"),
        ({"bands": [0] * 48, "prices": [1], "colour": "red"}, "colour"),
    ],
)
async def test_bad_tariff_parameters_are_a_bad_request_naming_the_field(
    headend: EmulatedHeadEnd, params: dict[str, Any], field: str
) -> None:
    refusal = await refused(headend, ESME, D.UPDATE_TARIFF, params)

    assert refusal.code is ErrorCode.BAD_REQUEST
    assert repr(field) in refusal.message


async def test_update_price_keeps_the_bands_and_needs_a_price_per_band(
    headend: EmulatedHeadEnd,
) -> None:
    assert await run(headend, ESME, D.UPDATE_PRICE, {"standingCharge": 55, "prices": [2600]})
    tariff = (await run(headend, ESME, D.READ_CONFIGURATION))["tariff"]
    refusal = await refused(headend, ESME, D.UPDATE_PRICE, {"standingCharge": 55, "prices": [1, 2]})

    assert tariff == {"bands": [0] * 48, "prices": [2600], "standingCharge": 55}
    assert refusal.code is ErrorCode.REJECTED


# -- prepayment -----------------------------------------------------------------------------------


async def test_a_top_up_adds_credit_and_its_utrn_is_accepted_once(
    headend: EmulatedHeadEnd,
) -> None:
    before = (await run(headend, ESME_PREPAY, D.READ_BALANCE))["balance"]
    utrn = "12345678901234567890"

    after = await run(headend, ESME_PREPAY, D.TOP_UP, {"amount": 2000, "utrn": utrn})
    again = await refused(headend, ESME_PREPAY, D.TOP_UP, {"amount": 2000, "utrn": utrn})

    assert after["balance"] == before + 2000
    assert again.code is ErrorCode.REJECTED
    assert "UTRN" in again.message
    bad = await refused(headend, ESME_PREPAY, D.TOP_UP, {"amount": 5, "utrn": "123"})
    assert bad.code is ErrorCode.BAD_REQUEST
    assert "utrn" in bad.message


async def test_prepayment_operations_on_a_credit_meter_are_rejected(
    headend: EmulatedHeadEnd,
) -> None:
    for op, params in (
        (D.READ_BALANCE, {}),
        (D.TOP_UP, {"amount": 100, "utrn": "1" * 20}),
        (D.ADJUST_DEBT, {"amount": 100}),
        (D.ACTIVATE_EMERGENCY_CREDIT, {}),
    ):
        assert (await refused(headend, ESME, op, params)).code is ErrorCode.REJECTED


async def test_the_balance_is_credit_less_the_cost_of_consumption(
    headend: EmulatedHeadEnd, clock: StoppedClock
) -> None:
    monday = NOW - (NOW - 1_578_268_800) % (7 * DAY)  # the week's top-up
    clock.now = monday + 60
    early = await run(headend, ESME_PREPAY, D.READ_BALANCE)
    clock.now = monday + 6 * DAY
    late = await run(headend, ESME_PREPAY, D.READ_BALANCE)

    assert late["balance"] < early["balance"]
    assert early["debt"] == 0
    assert early["emergencyCreditAvailable"] == EMERGENCY_CREDIT
    assert early["emergencyCreditInUse"] == 0


async def test_dearer_prices_run_the_credit_low_then_emergency_credit_helps(
    headend: EmulatedHeadEnd, clock: StoppedClock
) -> None:
    too_early = await refused(headend, ESME_PREPAY, D.ACTIVATE_EMERGENCY_CREDIT)
    await run(headend, ESME_PREPAY, D.UPDATE_PRICE, {"standingCharge": 60, "prices": [90_000]})
    clock.now += 10 * DAY
    low = await run(headend, ESME_PREPAY, D.READ_BALANCE)
    granted = await run(headend, ESME_PREPAY, D.ACTIVATE_EMERGENCY_CREDIT)
    twice = await refused(headend, ESME_PREPAY, D.ACTIVATE_EMERGENCY_CREDIT)
    repaid = await run(headend, ESME_PREPAY, D.TOP_UP, {"amount": 600, "utrn": "9" * 20})

    assert too_early.code is ErrorCode.REJECTED
    assert low["balance"] < LOW_CREDIT_THRESHOLD
    assert [a.kind for a in alerts(headend)] == ["low_credit"]
    assert granted["balance"] == low["balance"] + EMERGENCY_CREDIT
    assert twice.code is ErrorCode.REJECTED
    assert repaid["balance"] == granted["balance"]  # the top-up went to the emergency credit
    state = await run(headend, ESME_PREPAY, D.READ_BALANCE)
    assert state["emergencyCreditInUse"] == EMERGENCY_CREDIT - 600


async def test_debt_is_added_and_cleared_but_never_below_zero(headend: EmulatedHeadEnd) -> None:
    assert await run(headend, ESME_PREPAY, D.ADJUST_DEBT, {"amount": 700}) == {"debt": 700}
    assert await run(headend, ESME_PREPAY, D.ADJUST_DEBT, {"amount": -200}) == {"debt": 500}
    refusal = await refused(headend, ESME_PREPAY, D.ADJUST_DEBT, {"amount": -501})

    assert refusal.code is ErrorCode.REJECTED
    assert (await run(headend, ESME_PREPAY, D.READ_BALANCE))["debt"] == 500


# -- supply and display ---------------------------------------------------------------------------


async def test_the_supply_state_machine_and_its_alerts(headend: EmulatedHeadEnd) -> None:
    assert (await refused(headend, ESME, D.ARM_SUPPLY)).code is ErrorCode.REJECTED
    assert await run(headend, ESME, D.DISABLE_SUPPLY) == {"supply": "disabled"}
    assert await run(headend, ESME, D.DISABLE_SUPPLY) == {"supply": "disabled"}
    assert await run(headend, ESME, D.ARM_SUPPLY) == {"supply": "armed"}
    assert await run(headend, ESME, D.ENABLE_SUPPLY) == {"supply": "enabled"}

    assert [a.kind for a in alerts(headend)] == ["supply_outage", "supply_restored"]
    assert alerts(headend)[0].device == ESME
    assert alerts(headend)[0].headend == "smso-test"
    events = (await run(headend, ESME, D.READ_EVENT_LOG, {"limit": 5}))["events"]
    assert [e["kind"] for e in events] == ["supply_restored", "supply_outage"]
    assert (await run(headend, ESME, D.READ_CONFIGURATION))["supply"] == "enabled"


async def test_a_message_of_at_most_160_characters_is_displayed(
    headend: EmulatedHeadEnd,
) -> None:
    assert await run(headend, PPMID, D.DISPLAY_MESSAGE, {"text": "x" * 160}) == {"displayed": True}
    refusal = await refused(headend, ESME, D.DISPLAY_MESSAGE, {"text": "x" * 161})

    assert refusal.code is ErrorCode.BAD_REQUEST
    assert "text" in refusal.message


# -- firmware -------------------------------------------------------------------------------------


async def test_an_authentic_image_is_transferred_then_activated(
    headend: EmulatedHeadEnd,
) -> None:
    image = firmware_image_hash("Aurora Metering", "AM-E310", "1.8.0")
    assert await run(headend, ESME, D.UPDATE_FIRMWARE, {"version": "1.8.0", "imageHash": image})
    assert (await run(headend, ESME, D.READ_IDENTITY))["firmware"] == "1.7.2"

    assert await run(headend, ESME, D.ACTIVATE_FIRMWARE, {"version": "1.8.0"}) == {
        "firmware": "1.8.0"
    }

    assert (await run(headend, ESME, D.READ_IDENTITY))["firmware"] == "1.8.0"
    assert [a.kind for a in alerts(headend)] == ["firmware_activated"]
    assert '"firmware": "1.8.0"' in headend.journal.path.read_text()


@pytest.mark.parametrize(
    ("version", "image_of", "problem"),
    [
        ("1.8.0", ("Brightwell", "BW-SP1", "1.8.0"), "not Aurora Metering AM-E310"),
        ("1.8.0", ("Aurora Metering", "AM-E310", "1.8.1"), "not Aurora Metering AM-E310"),
        ("V01.08.00", ("Aurora Metering", "AM-E310", "V01.08.00"), "dotted format"),
    ],
)
async def test_an_image_that_is_not_the_models_is_rejected(
    headend: EmulatedHeadEnd, version: str, image_of: tuple[str, str, str], problem: str
) -> None:
    params = {"version": version, "imageHash": firmware_image_hash(*image_of)}

    refusal = await refused(headend, ESME, D.UPDATE_FIRMWARE, params)

    assert refusal.code is ErrorCode.REJECTED
    assert problem in refusal.message


async def test_activating_an_image_never_transferred_is_rejected(
    headend: EmulatedHeadEnd,
) -> None:
    refusal = await refused(headend, ESME, D.ACTIVATE_FIRMWARE, {"version": "9.9.9"})

    assert refusal.code is ErrorCode.REJECTED


# -- HAN ------------------------------------------------------------------------------------------


async def test_ihds_and_ppmids_join_and_leave_the_hub(headend: EmulatedHeadEnd) -> None:
    newcomer = "00-0D-6F-01-00-00-00-7E"
    already = await refused(headend, CHF, D.UNJOIN_DEVICE, {"device": newcomer})

    assert await run(headend, CHF, D.JOIN_DEVICE, {"device": newcomer, "deviceType": "IHD"}) == {
        "joined": "000D6F010000007E"
    }
    twice = await refused(headend, CHF, D.JOIN_DEVICE, {"device": newcomer, "deviceType": "IHD"})
    assert await run(headend, CHF, D.UNJOIN_DEVICE, {"device": IHD}) == {"unjoined": IHD}
    gone = await refused(headend, CHF, D.UNJOIN_DEVICE, {"device": IHD})
    assert await run(headend, CHF, D.JOIN_DEVICE, {"device": IHD, "deviceType": "IHD"})

    assert already.code is twice.code is gone.code is ErrorCode.REJECTED


async def test_joining_with_a_wrong_type_is_refused(headend: EmulatedHeadEnd) -> None:
    wrong_kind = await refused(headend, CHF, D.JOIN_DEVICE, {"device": ESME, "deviceType": "ESME"})
    contradicts = await refused(headend, CHF, D.JOIN_DEVICE, {"device": PPMID, "deviceType": "IHD"})

    assert wrong_kind.code is ErrorCode.BAD_REQUEST
    assert "deviceType" in wrong_kind.message
    assert contradicts.code is ErrorCode.REJECTED


# -- the rules every operation follows ------------------------------------------------------------


async def test_every_catalogued_operation_is_answered_for_a_device_it_applies_to(
    headend: EmulatedHeadEnd,
) -> None:
    examples: dict[DeviceOperation, tuple[str, dict[str, Any]]] = {
        D.REPLACE_CREDENTIAL: (GPF, seal_new_credential(Secret(KEY), Secret(KEY * 2), GPF)),
        D.SYNCHRONISE_CLOCK: (CHF, {"time": time_text(NOW)}),
        D.READ_PROFILE: (ESME, span(1)),
        D.READ_DAILY_LOG: (ESME, span(1)),
        D.READ_EVENT_LOG: (GSME, {"limit": 1}),
        D.READ_SECURITY_LOG: (GSME, {"limit": 1}),
        D.UPDATE_TARIFF: (GSME, {"bands": [0] * 48, "prices": [650]}),
        D.UPDATE_PRICE: (ESME, {"standingCharge": 1, "prices": [1]}),
        D.TOP_UP: (ESME_PREPAY, {"amount": 1, "utrn": "5" * 20}),
        D.READ_BALANCE: (ESME_PREPAY, {}),
        D.ADJUST_DEBT: (ESME_PREPAY, {"amount": 1}),
        D.DISPLAY_MESSAGE: (ESME, {"text": "hello"}),
        D.UPDATE_FIRMWARE: (
            PPMID,
            {"version": "0.9.9", "imageHash": firmware_image_hash("Corvid", "CV-PP1", "0.9.9")},
        ),
        D.JOIN_DEVICE: (CHF, {"device": "000D6F0100000077", "deviceType": "PPMID"}),
        D.UNJOIN_DEVICE: (CHF, {"device": PPMID}),
        D.READ_SETTINGS: (GSME, {"names": ["gasConversion"]}),
        D.WRITE_SETTINGS: (ESME, {"settings": {"maxDemandPeriod": 900}}),
        D.READ_HAN_LOG: (CHF, {}),
    }
    answered = set()
    for op in (o for o in CATALOGUE if o not in (D.ACTIVATE_EMERGENCY_CREDIT, D.ACTIVATE_FIRMWARE)):
        device, params = examples.get(op, (ESME, {}))
        assert isinstance(await run(headend, device, op, params), dict), op
        answered.add(op)

    assert headend.operations[D.READ_IDENTITY.value] == 1
    assert sum(headend.operations.values()) == len(answered)


async def test_an_operation_outside_the_devices_type_or_model_is_not_supported(
    headend: EmulatedHeadEnd,
) -> None:
    cases: list[tuple[str, DeviceOperation, dict[str, Any]]] = [
        (CHF, D.READ_INSTANTANEOUS, {}),  # not for a hub
        (ESME, D.JOIN_DEVICE, {"device": IHD, "deviceType": "IHD"}),  # hubs only
        (ESME_END, D.ARM_SUPPLY, {}),  # the Brightwell ESME has no arming
        (GSME_NO_LOG, D.READ_SECURITY_LOG, {"limit": 3}),  # this gas model keeps none
        (ESME, D.READ_HAN_LOG, {}),  # hubs and gas proxies only
        (ESME_END, D.READ_SETTINGS, {"names": ["loadLimit"]}),  # no load limiting
    ]
    for device, op, params in cases:
        refusal = await refused(headend, device, op, params)
        assert refusal.code is ErrorCode.NOT_SUPPORTED, (device, op)


async def test_an_ihd_holds_no_credential_so_it_fails_authentication(
    headend: EmulatedHeadEnd,
) -> None:
    refusal = await refused(headend, IHD, D.READ_IDENTITY)

    assert refusal.code is ErrorCode.AUTH_FAILED
    assert headend.devices[IHD].auth_failures == headend.totals.auth_failures == 1


async def test_unknown_devices_and_operations_are_refused(headend: EmulatedHeadEnd) -> None:
    unknown = await refused(headend, "000D6F01000000FF", D.READ_IDENTITY)
    with pytest.raises(CoreRefusal) as bad_op:
        await headend.execute(ESME, "make_tea", {}, "n", "t")
    with pytest.raises(CoreRefusal) as bad_id:
        await headend.execute("not-a-device", "read_identity", {}, "n", "t")

    assert unknown.code is ErrorCode.UNKNOWN_DEVICE
    assert headend.totals.unknown_device_requests == 1
    assert bad_op.value.code is bad_id.value.code is ErrorCode.BAD_REQUEST


async def test_a_wrong_tag_is_an_authentication_failure_counted_on_the_device(
    headend: EmulatedHeadEnd,
) -> None:
    refusal = await refused(headend, ESME, D.READ_IDENTITY, credential=b"z" * 32)

    assert refusal.code is ErrorCode.AUTH_FAILED
    assert headend.devices[ESME].counters() == {
        "requests": 1,
        "identity_reads": 0,
        "credential_replacements": 0,
        "auth_failures": 1,
    }
    assert headend.touched_devices() == {ESME: headend.devices[ESME].counters()}


# -- faults ---------------------------------------------------------------------------------------


async def test_no_answer_is_no_response_after_the_wan_timeout(headend: EmulatedHeadEnd) -> None:
    headend.devices[ESME].set_fault(DeviceFault.NO_ANSWER)

    refusal = await refused(headend, ESME, D.READ_IDENTITY)

    assert refusal.code is ErrorCode.NO_RESPONSE
    assert (await refused(headend, ESME, D.READ_IDENTITY)).code is ErrorCode.NO_RESPONSE


async def test_timeout_is_silence(headend: EmulatedHeadEnd) -> None:
    headend.devices[ESME].set_fault(DeviceFault.TIMEOUT)

    with pytest.raises(Silence):
        await run(headend, ESME, D.READ_IDENTITY)


async def test_slow_answers_after_the_delay(headend: EmulatedHeadEnd) -> None:
    import time

    headend.devices[ESME].set_fault(DeviceFault.SLOW)
    started = time.monotonic()

    answer = await run(headend, ESME, D.READ_IDENTITY)

    assert answer["model"] == "AM-E310"
    assert time.monotonic() - started >= 0.05


async def test_garbled_once_garbles_the_first_answer_only_without_acting(
    headend: EmulatedHeadEnd,
) -> None:
    headend.devices[ESME].set_fault(DeviceFault.GARBLED, 1)
    params = seal_new_credential(Secret(KEY), Secret(b"n" * 32), ESME)

    with pytest.raises(Garble):
        await run(headend, ESME, D.REPLACE_CREDENTIAL, params)

    assert headend.devices[ESME].credential == KEY  # nothing happened behind the garble
    assert headend.devices[ESME].fault is None
    assert await run(headend, ESME, D.REPLACE_CREDENTIAL, params) == {"replaced": True}


async def test_a_fault_with_a_count_clears_itself(headend: EmulatedHeadEnd) -> None:
    headend.devices[ESME].set_fault(DeviceFault.NO_ANSWER, 2)

    codes = [(await refused(headend, ESME, D.READ_IDENTITY)).code for _ in range(2)]

    assert codes == [ErrorCode.NO_RESPONSE] * 2
    assert (await run(headend, ESME, D.READ_IDENTITY))["model"] == "AM-E310"


async def test_han_failure_takes_the_gas_side_only_the_gt01_case(
    headend: EmulatedHeadEnd,
) -> None:
    for device in (GSME, GPF):
        headend.devices[device].set_fault(DeviceFault.HAN_FAILURE)

    gas = [(await refused(headend, d, D.READ_IDENTITY)).code for d in (GSME, GPF)]

    assert gas == [ErrorCode.HAN_FAILURE] * 2
    assert (await run(headend, ESME, D.READ_IDENTITY))["deviceType"] == "ESME"
    assert (await run(headend, CHF, D.READ_IDENTITY))["deviceType"] == "CHF"


async def test_a_credential_mismatch_is_an_authentication_failure(
    headend: EmulatedHeadEnd,
) -> None:
    headend.devices[ESME].credential = b"q" * 32  # the file's credential is not the device's

    assert (await refused(headend, ESME, D.READ_IDENTITY)).code is ErrorCode.AUTH_FAILED


async def test_a_firmware_mismatch_is_the_device_reporting_other_firmware(
    headend: EmulatedHeadEnd,
) -> None:
    headend.devices[ESME].firmware = "1.7.3"

    assert (await run(headend, ESME, D.READ_IDENTITY))["firmware"] == "1.7.3"


async def test_an_unavailable_head_end_answers_unavailable(headend: EmulatedHeadEnd) -> None:
    headend.available = False

    refusal = await refused(headend, ESME, D.READ_IDENTITY)

    assert refusal.code is ErrorCode.UNAVAILABLE
    assert headend.totals.requests == 0


async def test_a_dormant_device_answers_only_firmware_until_upgraded_to_the_eligible_release(
    headend: EmulatedHeadEnd,
) -> None:
    device = headend.devices[ESME]
    device.firmware = "1.6.0"
    device.set_fault(DeviceFault.DORMANT)

    def upgrade(version: str) -> dict[str, Any]:
        return {
            "version": version,
            "imageHash": firmware_image_hash("Aurora Metering", "AM-E310", version),
        }

    assert (await refused(headend, ESME, D.READ_IDENTITY)).code is ErrorCode.NO_RESPONSE
    await run(headend, ESME, D.UPDATE_FIRMWARE, upgrade("1.6.5"))
    await run(headend, ESME, D.ACTIVATE_FIRMWARE, {"version": "1.6.5"})
    assert (await refused(headend, ESME, D.READ_IDENTITY)).code is ErrorCode.NO_RESPONSE

    await run(headend, ESME, D.UPDATE_FIRMWARE, upgrade("1.7.2"))
    await run(headend, ESME, D.ACTIVATE_FIRMWARE, {"version": "1.7.2"})

    assert (await run(headend, ESME, D.READ_IDENTITY))["firmware"] == "1.7.2"
    assert device.fault is None


def test_the_device_type_of_every_test_device_is_what_its_model_says() -> None:
    kinds = {key: d.model.device_type for key, d in _devices().items()}

    assert kinds[GPF] is DeviceType.GPF
    assert kinds[IHD] is DeviceType.IHD
