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
from dataclasses import dataclass

from s1adopt.domain.devices import DeviceType
from s1adopt.domain.eligibility import EligibleProducts
from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.failures import FailureReason
from s1adopt.domain.identities import Eui64, Mpan, Mprn
from s1adopt.domain.records import DeviceRecord, InstallationRecord

_UPGRADABLE_TYPES = frozenset({"Dormant", "Mixed"})
_TYPES: dict[str, DeviceType] = {kind.value: kind for kind in DeviceType}
_TYPE2 = frozenset(kind for kind in DeviceType if kind.is_type2)
_ASSOCIATION_TARGET: dict[DeviceType, DeviceType] = {
    DeviceType.ESME: DeviceType.CHF,
    DeviceType.GPF: DeviceType.CHF,
    DeviceType.GSME: DeviceType.GPF,
    DeviceType.IHD: DeviceType.CHF,
    DeviceType.PPMID: DeviceType.CHF,
    DeviceType.HCALCS: DeviceType.ESME,
}
# A device that passed the consistency rule: its ID, type, record and association.
_Typed = tuple[Eui64, DeviceType, DeviceRecord, Eui64 | None]


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

    typed, problem = _check_consistency(record, ids, mpan, mprn)
    if problem:
        return _fail(FailureReason.INCONSISTENT_INSTALLATION, problem)
    may_upgrade = record.installation_type in _UPGRADABLE_TYPES
    upgrades: list[str | None] = []
    for device_id, kind, rec, _ in typed:
        target = (
            eligible.upgrade_target(kind, rec.manufacturer, rec.model)
            if may_upgrade and kind not in _TYPE2
            else None
        )
        if target is not None and target != rec.firmware_version:
            upgrades.append(target)
            continue
        upgrades.append(None)
        if not eligible.is_eligible(kind, rec.manufacturer, rec.model, rec.firmware_version):
            return _fail(
                FailureReason.PRODUCT_NOT_ELIGIBLE,
                f"{kind} {device_id}: {rec.manufacturer} {rec.model} "
                f"firmware {rec.firmware_version} is not an eligible product",
            )
    for device_id, kind, rec, _ in typed:
        if rec.credential is None and kind not in _TYPE2:
            return _fail(
                FailureReason.MISSING_CREDENTIALS,
                f"{kind} {device_id} has no SMSO credential",
            )
    for device_id, kind, _, _ in typed:
        if claimed_elsewhere(device_id):
            return _fail(
                FailureReason.DUPLICATE_DEVICE,
                f"{kind} {device_id} already belongs to another installation",
            )
    for point in (mpan.core if mpan else None, mprn.value if mprn else None):
        if point is not None and claimed_elsewhere(point):
            return _fail(
                FailureReason.DUPLICATE_METER_POINT,
                f"meter point {point} already belongs to another installation",
            )
    devices = tuple(
        ValidDevice(device_id, kind, rec, assoc, upgrade)
        for (device_id, kind, rec, assoc), upgrade in zip(typed, upgrades, strict=True)
    )
    return ValidationResult(None, "", mpan, mprn, devices)


def _check_consistency(
    record: InstallationRecord, ids: list[Eui64], mpan: Mpan | None, mprn: Mprn | None
) -> tuple[list[_Typed], str]:
    # Keyed by the canonical text: an Eui64's own hash and equality are Python-level calls.
    by_id: dict[str, tuple[DeviceType, Eui64]] = {}
    kinds: list[DeviceType] = []
    for device_id, rec in zip(ids, record.devices, strict=True):
        kind = _TYPES.get(rec.device_type)
        if kind is None:
            return [], f"device {device_id} has unknown type {rec.device_type!r}"
        if device_id.value in by_id:
            return [], f"device {device_id} is listed twice"
        by_id[device_id.value] = (kind, device_id)
        kinds.append(kind)
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
    typed: list[_Typed] = []
    for device_id, kind, rec in zip(ids, kinds, record.devices, strict=True):
        target = _ASSOCIATION_TARGET.get(kind)
        assoc: Eui64 | None = None
        if target is not None:
            named = rec.associated_with
            if named is None:
                return [], f"{kind} {device_id} must name the {target} it is associated with"
            found = by_id.get(named)  # the usual spelling: a device's canonical ID
            if found is None:
                try:
                    assoc = Eui64.parse(named)
                except InvalidIdentity as exc:
                    return [], f"{kind} {device_id}: association: {exc}"
                found = by_id.get(assoc.value)
            else:
                assoc = found[1]
            if found is None or found[0] is not target:
                return [], f"{kind} {device_id} is associated with {assoc}, not a {target} here"
        typed.append((device_id, kind, rec, assoc))
    return typed, ""
