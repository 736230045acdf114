"""The device model table: cohorts, quirks, firmware formats, eligibility."""

from __future__ import annotations

import pytest

from s1adopt.domain.devices import DeviceType
from s1adopt.domain.operations import DeviceOperation
from s1adopt.emulators.world.models import (
    COHORTS,
    MODELS,
    FirmwareFormat,
    cohort_models,
    model_for,
)
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
    assert model_for("ESME", "Aurora Metering", "AM-E310-PROTO") is prototype
    with pytest.raises(ValueError, match="cohort"):
        cohort_models("XYZ")
