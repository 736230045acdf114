"""The device model table: cohorts, quirks (operations and settings), firmware formats,
eligibility."""

from __future__ import annotations

import pytest

from s1adopt.domain.device_models import (
    COHORTS,
    MODELS,
    FirmwareFormat,
    cohort_models,
    model_for,
    supports_operation,
    supports_setting,
    unsupported_reason,
)
from s1adopt.domain.device_settings import settings_of
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.operations import CATALOGUE, DeviceOperation
from s1adopt.formats.eligible_products import load_eligible_products

MIGRATION_OPERATIONS = {
    DeviceOperation.READ_IDENTITY,
    DeviceOperation.REPLACE_CREDENTIAL,
    DeviceOperation.UPDATE_FIRMWARE,
    DeviceOperation.ACTIVATE_FIRMWARE,
}


@pytest.mark.parametrize("cohort", COHORTS)
def test_each_cohort_has_its_own_full_set_of_products(cohort: str) -> None:
    models = cohort_models(cohort)

    assert len(models[DeviceType.CHF]) == len(models[DeviceType.GPF]) == 1
    assert len(models[DeviceType.IHD]) == len(models[DeviceType.PPMID]) == 1
    for meter in (DeviceType.ESME, DeviceType.GSME):
        assert len(models[meter]) == 2
        assert len({m.manufacturer for m in models[meter]}) == 2
        assert {m.behaviour.profile_stamp for m in models[meter]} == {"start", "end"}


def test_no_model_is_shared_between_cohorts_and_foc_has_edmi_like_meters() -> None:
    keys = [(m.device_type, m.manufacturer, m.model) for m in MODELS]

    assert len(keys) == len(set(keys))
    foc_esme = cohort_models("FOC")[DeviceType.ESME]
    assert any(m.manufacturer.startswith("EDM") for m in foc_esme)


def test_the_documented_quirks_are_present() -> None:
    meters = [m for m in MODELS if m.device_type.is_meter]

    assert {m.behaviour.tou_registers for m in meters} == {4, 8}
    assert any(
        DeviceOperation.ARM_SUPPLY in m.behaviour.unsupported
        for m in meters
        if m.device_type is DeviceType.ESME
    )
    assert any(
        DeviceOperation.READ_SECURITY_LOG in m.behaviour.unsupported
        for m in meters
        if m.device_type is DeviceType.GSME
    )
    assert {m.behaviour.firmware_format for m in MODELS} == {
        FirmwareFormat.DOTTED,
        FirmwareFormat.PADDED,
        FirmwareFormat.HEX,
    }
    delays = sorted(m.behaviour.answer_delay for m in MODELS)
    assert delays[-1] > 3 * delays[-2]
    assert all(d <= 0.005 for d in delays[:-1])


@pytest.mark.parametrize("cohort", COHORTS)
@pytest.mark.parametrize("meter", [DeviceType.ESME, DeviceType.GSME])
def test_every_cohort_can_do_every_operation_and_setting_of_a_meter_on_some_model(
    cohort: str, meter: DeviceType
) -> None:
    models = cohort_models(cohort)[meter]
    operations = [op for op, spec in CATALOGUE.items() if meter in spec.applies_to]

    for op in operations:
        assert any(supports_operation(m, op) for m in models), (cohort, meter, op)
    for name in settings_of(meter):
        assert any(supports_setting(m, name) for m in models), (cohort, meter, name)


def test_a_model_lacks_only_settings_its_device_type_has() -> None:
    for model in MODELS:
        assert model.behaviour.unsupported_settings <= set(settings_of(model.device_type))


@pytest.mark.parametrize(
    ("manufacturer", "model", "lacks"),
    [
        ("Brightwell", "BW-SP1", {"loadLimit", "loadLimitCounter"}),
        ("Larkspur & Gale", "LG-E470", {"tamperState"}),
        ("Larkspur & Gale", "LG-G350", {"gasFlow"}),
        ("EDM Instruments", "EDM-Atlas-Mk10A", {"randomisationOffsetLimit"}),
    ],
)
def test_the_documented_setting_variations_are_present(
    manufacturer: str, model: str, lacks: set[str]
) -> None:
    found = next(m for m in MODELS if (m.manufacturer, m.model) == (manufacturer, model))

    assert found.behaviour.unsupported_settings == lacks
    assert all(not supports_setting(found, name) for name in lacks)


def test_unsupported_reason_says_why_a_model_cannot_or_none_if_it_can() -> None:
    bw = model_for("ESME", "Brightwell", "BW-SP1")
    am = model_for("ESME", "Aurora Metering", "AM-E310")
    hub = model_for("CHF", "Northwind Comms", "NW-CH1")
    read, write = DeviceOperation.READ_SETTINGS, DeviceOperation.WRITE_SETTINGS

    assert unsupported_reason(am, read, ["loadLimit", "loadLimitCounter"]) is None
    assert unsupported_reason(bw, write, ["supplierName"]) is None
    assert "loadLimit" in str(unsupported_reason(bw, read, ["supplierName", "loadLimit"]))
    assert "arm_supply" in str(unsupported_reason(bw, DeviceOperation.ARM_SUPPLY))
    assert "does not apply to a CHF" in str(unsupported_reason(hub, DeviceOperation.TOP_UP))
    assert "gasFlow" in str(unsupported_reason(am, write, ["gasFlow"]))  # an ESME has none
    assert not supports_operation(hub, DeviceOperation.READ_INSTANTANEOUS)
    assert supports_operation(hub, DeviceOperation.READ_HAN_LOG)


def test_no_model_refuses_an_operation_migration_needs() -> None:
    for model in MODELS:
        assert not model.behaviour.unsupported & MIGRATION_OPERATIONS, model.model


def test_every_model_is_eligible_with_its_firmware_and_dormant_firmware_is_older() -> None:
    eligible = load_eligible_products()
    for m in MODELS:
        assert eligible.is_eligible(m.device_type, m.manufacturer, m.model, m.firmware)
        if m.firmware is None:
            assert m.device_type.is_type2
            continue
        assert m.dormant_firmware is not None
        assert not eligible.is_eligible(m.device_type, m.manufacturer, m.model, m.dormant_firmware)
        fmt = m.behaviour.firmware_format
        assert fmt.parse(m.dormant_firmware) < fmt.parse(m.firmware)  # type: ignore[operator]
        assert eligible.upgrade_target(m.device_type, m.manufacturer, m.model) == m.firmware


@pytest.mark.parametrize(
    ("fmt", "text", "parts", "bumped"),
    [
        (FirmwareFormat.DOTTED, "1.7.2", (1, 7, 2), "1.7.3"),
        (FirmwareFormat.PADDED, "V01.07.02", (1, 7, 2), "V01.07.03"),
        (FirmwareFormat.HEX, "0x0172", (1, 7, 2), "0x0173"),
    ],
)
def test_firmware_formats_render_parse_and_bump(
    fmt: FirmwareFormat, text: str, parts: tuple[int, int, int], bumped: str
) -> None:
    assert fmt.render(*parts) == text
    assert fmt.parse(text) == parts
    assert fmt.bumped(text) == bumped
    other = next(f for f in (FirmwareFormat.DOTTED, FirmwareFormat.PADDED) if f is not fmt)
    assert fmt.parse(other.render(*parts)) is None


def test_a_product_outside_the_table_gets_a_generic_model() -> None:
    prototype = model_for("ESME", "Aurora Metering", "AM-E310-PROTO")

    assert prototype.device_type is DeviceType.ESME
    assert prototype.behaviour.firmware_format is FirmwareFormat.ANY
    assert prototype.behaviour.tou_registers == 4
    assert prototype.behaviour.unsupported_settings == frozenset()
    assert model_for("ESME", "Aurora Metering", "AM-E310-PROTO") is prototype
    with pytest.raises(ValueError, match="cohort"):
        cohort_models("XYZ")
