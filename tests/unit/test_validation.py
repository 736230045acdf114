from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from s1adopt.domain.failures import FailureReason
from s1adopt.domain.identities import Eui64
from s1adopt.domain.validation import validate_installation
from s1adopt.formats.credentials import CredentialSealer
from s1adopt.formats.eligible_products import load_eligible_products
from tests.builders import FleetBuilder, with_device

ELIGIBLE = load_eligible_products()


@pytest.fixture
def fleet() -> FleetBuilder:
    key = X25519PrivateKey.generate().public_key().public_bytes_raw()
    return FleetBuilder(CredentialSealer(key, "F1"))


def nothing_claimed(_: object) -> bool:
    return False


def test_a_well_formed_dual_fuel_installation_passes_every_rule(fleet: FleetBuilder) -> None:
    result = validate_installation(fleet.installation(1, dual_fuel=True), ELIGIBLE, nothing_claimed)
    assert result.ok, result.detail
    assert len(result.devices) == 5
    assert result.mpan is not None
    assert result.mprn is not None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda r: with_device(r, 1, device_id="00-12-4B-00-00-00-00-ZZ"),
            FailureReason.INVALID_DEVICE_ID,
        ),
        (
            lambda r: replace(r, mpan=r.mpan[:-1] + str((int(r.mpan[-1]) + 1) % 10)),
            FailureReason.INVALID_MPAN,
        ),
        (lambda r: replace(r, mprn="123"), FailureReason.INVALID_MPRN),
        (lambda r: with_device(r, 1, model="AM-E310-PROTO"), FailureReason.PRODUCT_NOT_ELIGIBLE),
        (lambda r: with_device(r, 1, firmware_version="9.9.9"), FailureReason.PRODUCT_NOT_ELIGIBLE),
        (lambda r: with_device(r, 1, credential=None), FailureReason.MISSING_CREDENTIALS),
        (lambda r: replace(r, mpan=None), FailureReason.INCONSISTENT_INSTALLATION),
        (
            lambda r: with_device(r, 1, device_type="TOASTER"),
            FailureReason.INCONSISTENT_INSTALLATION,
        ),
        (
            lambda r: with_device(r, 1, associated_with=None),
            FailureReason.INCONSISTENT_INSTALLATION,
        ),
        (
            lambda r: with_device(r, 1, associated_with=r.devices[2].device_id),
            FailureReason.INCONSISTENT_INSTALLATION,
        ),
        (lambda r: replace(r, devices=r.devices[1:]), FailureReason.INCONSISTENT_INSTALLATION),
        (
            lambda r: replace(r, devices=(*r.devices, r.devices[1])),
            FailureReason.INCONSISTENT_INSTALLATION,
        ),
    ],
    ids=[
        "bad-eui",
        "mpan-check",
        "mprn-shape",
        "model",
        "firmware",
        "no-credential",
        "no-mpan",
        "unknown-type",
        "no-association",
        "associated-to-ihd",
        "no-chf",
        "listed-twice",
    ],
)
def test_each_broken_rule_gives_its_reason_code(fleet: FleetBuilder, change, reason) -> None:  # type: ignore[no-untyped-def]
    record = change(fleet.installation(1, dual_fuel=True))
    result = validate_installation(record, ELIGIBLE, nothing_claimed)
    assert result.failure is reason, result.detail
    assert result.detail


def test_a_device_held_by_another_installation_is_a_duplicate(fleet: FleetBuilder) -> None:
    record = fleet.installation(1)
    esme = Eui64.parse(record.devices[1].device_id)
    result = validate_installation(record, ELIGIBLE, lambda x: x == esme)
    assert result.failure is FailureReason.DUPLICATE_DEVICE
    assert str(esme) in result.detail


def test_a_meter_point_held_by_another_installation_is_a_duplicate(fleet: FleetBuilder) -> None:
    record = fleet.installation(1)
    result = validate_installation(record, ELIGIBLE, lambda x: x == record.mpan)
    assert result.failure is FailureReason.DUPLICATE_METER_POINT


def test_a_type2_device_is_eligible_whatever_firmware_is_reported(fleet: FleetBuilder) -> None:
    record = with_device(fleet.installation(1), 2, firmware_version="anything")
    assert validate_installation(record, ELIGIBLE, nothing_claimed).ok


def test_a_dormant_device_on_an_older_firmware_of_an_eligible_model_is_to_be_upgraded(
    fleet: FleetBuilder,
) -> None:
    record = with_device(fleet.installation(1, kind="Dormant"), 1, firmware_version="1.6.0")
    result = validate_installation(record, ELIGIBLE, nothing_claimed)
    assert result.ok, result.detail
    assert [d.upgrade_to for d in result.devices] == [None, "1.7.2", None]


def test_a_dormant_device_of_a_model_not_on_the_list_is_not_eligible(fleet: FleetBuilder) -> None:
    record = with_device(fleet.installation(1, kind="Dormant"), 1, model="AM-E999")
    result = validate_installation(record, ELIGIBLE, nothing_claimed)
    assert result.failure is FailureReason.PRODUCT_NOT_ELIGIBLE


def test_the_upgrade_target_is_the_highest_listed_firmware_of_the_model() -> None:
    from s1adopt.domain.devices import DeviceType
    from s1adopt.domain.eligibility import EligibleProducts, Product

    products = EligibleProducts(
        Product(DeviceType.ESME, "M", "X", v) for v in ("1.9.0", "1.10.0", "1.2.0")
    )
    assert products.upgrade_target(DeviceType.ESME, "M", "X") == "1.10.0"
    assert products.upgrade_target(DeviceType.ESME, "M", "Y") is None
