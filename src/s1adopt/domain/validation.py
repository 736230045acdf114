"""Data Validation rules for one installation record.

Rules, checked in this order, the first that fails giving the reason code:
1. every device ID is an EUI-64 (INVALID_DEVICE_ID);
2. the MPAN core, when given, is 13 digits with a valid check digit (INVALID_MPAN);
   the MPRN, when given, is valid (INVALID_MPRN);
3. the installation is consistent (INCONSISTENT_INSTALLATION): a known device type for each
   device, exactly one CHF, at least one meter, an ESME only with an MPAN and a GSME only with
   an MPRN (and the other way round), a GSME only with a GPF, each association naming a device
   of the same installation of the right type, no device listed twice;
4. each device is an eligible product (PRODUCT_NOT_ELIGIBLE); in a Dormant or Mixed
   installation every device whose firmware is not its model's eligible one (the last listed
   for the model) is upgraded to it before Device Testing (``ValidDevice.upgrade_to``),
   whether or not its present firmware is also listed: a dormant meter must be upgraded
   before it is migrated;
5. every device that needs a credential has one (MISSING_CREDENTIALS);
6. no device belongs to another installation already (DUPLICATE_DEVICE), and no meter point
   either (DUPLICATE_METER_POINT); the caller answers both with ``claimed_elsewhere``, which is
   given device EUI-64s and meter point numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from s1adopt.domain.devices import DeviceType
from s1adopt.domain.eligibility import EligibleProducts
from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.failures import FailureReason
from s1adopt.domain.identities import Eui64, Mpan, Mprn
from s1adopt.domain.records import DeviceRecord, InstallationRecord

_UPGRADABLE_TYPES = frozenset({"Dormant", "Mixed"})
_TYPES: dict[str, DeviceType] = {kind.value: kind for kind in DeviceType}
_ASSOCIATION_TARGET: dict[DeviceType, DeviceType] = {
    DeviceType.ESME: DeviceType.CHF,
    DeviceType.GPF: DeviceType.CHF,
    DeviceType.GSME: DeviceType.GPF,
    DeviceType.IHD: DeviceType.CHF,
    DeviceType.PPMID: DeviceType.CHF,
    DeviceType.HCALCS: DeviceType.ESME,
}


@dataclass(frozen=True, slots=True)
class ValidDevice:
    """A device whose identities and product passed validation."""

    device_id: Eui64
    device_type: DeviceType
    record: DeviceRecord
    associated_with: Eui64 | None
    upgrade_to: str | None = None  # firmware the device must be upgraded to (dormant only)


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """Either ``failure`` is set (with a detail naming the culprit) or the record is valid."""

    failure: FailureReason | None
    detail: str
    mpan: Mpan | None = None
    mprn: Mprn | None = None
    devices: tuple[ValidDevice, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the record passed every rule."""
        return self.failure is None


def _fail(reason: FailureReason, detail: str) -> ValidationResult:
    return ValidationResult(reason, detail)


def validate_installation(
    record: InstallationRecord,
    eligible: EligibleProducts,
    claimed_elsewhere: Callable[[Eui64 | str], bool],
) -> ValidationResult:
    """Apply the Data Validation rules of this module to one record."""
    ids: list[Eui64] = []
    for raw in record.devices:
        try:
            ids.append(Eui64.parse(raw.device_id))
        except InvalidIdentity as exc:
            return _fail(FailureReason.INVALID_DEVICE_ID, str(exc))
    mpan = mprn = None
    try:
        mpan = Mpan.parse(record.mpan) if record.mpan is not None else None
    except InvalidIdentity as exc:
        return _fail(FailureReason.INVALID_MPAN, str(exc))
    try:
        mprn = Mprn.parse(record.mprn) if record.mprn is not None else None
    except InvalidIdentity as exc:
        return _fail(FailureReason.INVALID_MPRN, str(exc))

    devices, problem = _check_consistency(record, ids, mpan, mprn)
    if problem:
        return _fail(FailureReason.INCONSISTENT_INSTALLATION, problem)
    may_upgrade = record.installation_type in _UPGRADABLE_TYPES
    for index, dev in enumerate(devices):
        rec = dev.record
        target = (
            eligible.upgrade_target(dev.device_type, rec.manufacturer, rec.model)
            if may_upgrade and not dev.device_type.is_type2
            else None
        )
        if target is not None and target != rec.firmware_version:
            devices[index] = replace(dev, upgrade_to=target)
            continue
        if not eligible.is_eligible(
            dev.device_type, rec.manufacturer, rec.model, rec.firmware_version
        ):
            return _fail(
                FailureReason.PRODUCT_NOT_ELIGIBLE,
                f"{dev.device_type} {dev.device_id}: {rec.manufacturer} {rec.model} "
                f"firmware {rec.firmware_version} is not an eligible product",
            )
    for dev in devices:
        if not dev.device_type.is_type2 and dev.record.credential is None:
            return _fail(
                FailureReason.MISSING_CREDENTIALS,
                f"{dev.device_type} {dev.device_id} has no SMSO credential",
            )
    for dev in devices:
        if claimed_elsewhere(dev.device_id):
            return _fail(
                FailureReason.DUPLICATE_DEVICE,
                f"{dev.device_type} {dev.device_id} already belongs to another installation",
            )
    for point in (mpan.core if mpan else None, mprn.value if mprn else None):
        if point is not None and claimed_elsewhere(point):
            return _fail(
                FailureReason.DUPLICATE_METER_POINT,
                f"meter point {point} already belongs to another installation",
            )
    return ValidationResult(None, "", mpan, mprn, tuple(devices))


def _check_consistency(
    record: InstallationRecord, ids: list[Eui64], mpan: Mpan | None, mprn: Mprn | None
) -> tuple[list[ValidDevice], str]:
    by_id: dict[Eui64, DeviceType] = {}
    typed: list[tuple[Eui64, DeviceType, DeviceRecord]] = []
    for device_id, rec in zip(ids, record.devices, strict=True):
        kind = _TYPES.get(rec.device_type)
        if kind is None:
            return [], f"device {device_id} has unknown type {rec.device_type!r}"
        if device_id in by_id:
            return [], f"device {device_id} is listed twice"
        by_id[device_id] = kind
        typed.append((device_id, kind, rec))
    kinds = [k for _, k, _ in typed]
    if kinds.count(DeviceType.CHF) != 1:
        return [], f"an installation needs exactly one CHF, found {kinds.count(DeviceType.CHF)}"
    has_esme, has_gsme = DeviceType.ESME in kinds, DeviceType.GSME in kinds
    if not (has_esme or has_gsme):
        return [], "an installation needs at least one meter (ESME or GSME)"
    if has_esme != (mpan is not None):
        return [], "an ESME needs an MPAN and an MPAN needs an ESME"
    if has_gsme != (mprn is not None):
        return [], "a GSME needs an MPRN and an MPRN needs a GSME"
    if has_gsme and DeviceType.GPF not in kinds:
        return [], "a GSME needs a GPF"
    devices: list[ValidDevice] = []
    for device_id, kind, rec in typed:
        target = _ASSOCIATION_TARGET.get(kind)
        assoc: Eui64 | None = None
        if target is not None:
            if rec.associated_with is None:
                return [], f"{kind} {device_id} must name the {target} it is associated with"
            try:
                assoc = Eui64.parse(rec.associated_with)
            except InvalidIdentity as exc:
                return [], f"{kind} {device_id}: association: {exc}"
            if by_id.get(assoc) is not target:
                return [], f"{kind} {device_id} is associated with {assoc}, not a {target} here"
        devices.append(ValidDevice(device_id, kind, rec, assoc))
    return devices, ""
