"""Composing one installation of a generated fleet: its record for the migration file and
its devices for the emulated head end.

Rules:
- About 60% of installations are electricity only (CHF, ESME, IHD; an MPAN), 40% dual fuel
  (CHF, ESME, GPF, GSME, IHD; an MPAN and an MPRN); about 15% also have a PPMID (prepayment).
  ESME, GPF, IHD and PPMID are associated with the CHF, the GSME with the GPF.
- Products are picked among the eligible products of each device type; every device except
  the IHD (Type 2) holds a 32-byte credential, sealed in the file for the service.
- The composition draws from its own generator in the same order whatever the faults, so the
  same seed gives the same devices at any fault rate; faults draw from a second generator.
- A fault changes only the installation's ESME (or its MPAN), as ``faults.FaultKind`` says.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from s1adopt.domain.devices import DeviceType
from s1adopt.domain.eligibility import EligibleProducts, Product
from s1adopt.domain.identities import Eui64, Mpan, Mprn
from s1adopt.domain.installation import InstallationType
from s1adopt.domain.records import DeviceRecord, InstallationRecord
from s1adopt.domain.secrets import Secret
from s1adopt.emulators.faults import FaultKind
from s1adopt.emulators.fleet_files import NO_ANSWER, DeviceEntry
from s1adopt.emulators.profiles import SmsoProfile
from s1adopt.formats.credentials import CredentialSealer

DUAL_FUEL_SHARE = 0.40
PREPAYMENT_SHARE = 0.15
CREDENTIAL_BYTES = 32
MPRN_BASE = 10_000_000  # leading 8 digits of MPRNs start here
MAX_START_REGISTER_WH = 60_000_000
_NEEDED_TYPES = (
    DeviceType.CHF,
    DeviceType.ESME,
    DeviceType.GPF,
    DeviceType.GSME,
    DeviceType.IHD,
    DeviceType.PPMID,
)


@dataclass(slots=True)
class _PlannedDevice:
    device_id: Eui64
    device_type: DeviceType
    product: Product
    associated_with: str | None
    credential: bytes | None  # what the device itself holds
    file_id: str  # the ID the migration file gives it (normally the canonical EUI-64)
    file_credential: bytes | None  # what the file hands over for it
    model: str
    reported_firmware: str | None  # what the device reports when read
    fault: str | None = None
    registers: dict[str, int] | None = None
    in_emulator: bool = True


@dataclass(frozen=True, slots=True)
class _EsmeClaim:
    file_id: str
    product: Product
    file_credential: bytes | None


@dataclass(frozen=True, slots=True)
class ComposedInstallation:
    """One installation: its migration file record and the devices the head end serves."""

    record: InstallationRecord
    devices: tuple[DeviceEntry, ...]


class InstallationComposer:
    """Composes the installations of one SMSO's file, one at a time, in reference order."""

    def __init__(
        self,
        profile: SmsoProfile,
        eligible: EligibleProducts,
        sealer: CredentialSealer,
        rng: random.Random,
        fault_rng: random.Random,
    ) -> None:
        self._profile, self._sealer = profile, sealer
        self._rng, self._fault_rng = rng, fault_rng
        self._products = products_by_type(eligible)
        self._next_device = 1
        self._last_healthy_esme: _EsmeClaim | None = None

    def compose(self, number: int, fault: FaultKind | None) -> ComposedInstallation:
        """Installation ``S1-<number>``, with ``fault`` planted (None for a healthy one)."""
        rng = self._rng
        dual_fuel = rng.random() < DUAL_FUEL_SHARE
        prepayment = rng.random() < PREPAYMENT_SHARE
        first_twelve = f"{rng.randint(10, 23):02d}{number:010d}"
        chf = self._device(DeviceType.CHF, None)
        esme = self._device(DeviceType.ESME, chf)
        devices = [chf, esme]
        if dual_fuel:
            gpf = self._device(DeviceType.GPF, chf)
            devices += [gpf, self._device(DeviceType.GSME, gpf)]
        devices.append(self._device(DeviceType.IHD, chf))
        if prepayment:
            devices.append(self._device(DeviceType.PPMID, chf))
        mpan = Mpan.with_check_digit(first_twelve).core
        mprn = Mprn.with_check_digits(f"{MPRN_BASE + number:08d}").value if dual_fuel else None

        if fault is FaultKind.BAD_MPAN:
            mpan = mpan[:12] + str((int(mpan[12]) + 1) % 10)
        elif fault is not None:
            self._plant(fault, esme)
        else:
            self._last_healthy_esme = _EsmeClaim(esme.file_id, esme.product, esme.file_credential)

        record = InstallationRecord(
            reference=installation_reference(number),
            installation_type=InstallationType.ACTIVE.value,
            cohort=self._profile.cohort,
            mpan=mpan,
            mprn=mprn,
            devices=tuple(self._record(d) for d in devices),
        )
        return ComposedInstallation(record, tuple(_entry(d) for d in devices if d.in_emulator))

    def _device(self, kind: DeviceType, associated: _PlannedDevice | None) -> _PlannedDevice:
        rng = self._rng
        product = rng.choice(self._products[kind])
        device_id = Eui64.from_int((self._profile.device_prefix << 32) | self._next_device)
        self._next_device += 1
        credential = None if kind.is_type2 else rng.randbytes(CREDENTIAL_BYTES)
        registers = {"import_wh": rng.randrange(MAX_START_REGISTER_WH)} if kind.is_meter else None
        return _PlannedDevice(
            device_id=device_id,
            device_type=kind,
            product=product,
            associated_with=None if associated is None else associated.device_id.value,
            credential=credential,
            file_id=device_id.value,
            file_credential=credential,
            model=product.model,
            reported_firmware=product.firmware_version,
            registers=registers,
        )

    def _plant(self, fault: FaultKind, esme: _PlannedDevice) -> None:
        if fault is FaultKind.NO_ANSWER:
            esme.fault = NO_ANSWER
        elif fault is FaultKind.FIRMWARE_MISMATCH:
            esme.reported_firmware = bumped_firmware(esme.product.firmware_version or "0")
        elif fault is FaultKind.CREDENTIAL_MISMATCH:
            other = esme.credential
            while other == esme.credential:
                other = self._fault_rng.randbytes(CREDENTIAL_BYTES)
            esme.file_credential = other
        elif fault is FaultKind.NOT_ELIGIBLE:
            esme.model = f"{esme.product.model}-PROTO"
        elif fault is FaultKind.MALFORMED_DEVICE_ID:
            esme.file_id = esme.device_id.hex[:-1]  # 15 hex digits: not an EUI-64
            esme.in_emulator = False
        elif fault is FaultKind.DUPLICATE_DEVICE:
            claim = self._last_healthy_esme
            if claim is None:
                raise RuntimeError("duplicate_device planned before any healthy installation")
            esme.file_id, esme.product = claim.file_id, claim.product
            esme.model, esme.reported_firmware = claim.product.model, claim.product.firmware_version
            esme.file_credential = claim.file_credential
            esme.in_emulator = False  # the head end knows that ESME once, from its first owner

    def _record(self, device: _PlannedDevice) -> DeviceRecord:
        sealed = None
        if device.file_credential is not None:
            sealed = self._sealer.seal(device.file_id, Secret(device.file_credential))
        return DeviceRecord(
            device_id=device.file_id,
            device_type=device.device_type.value,
            manufacturer=device.product.manufacturer,
            model=device.model,
            firmware_version=device.product.firmware_version,
            associated_with=device.associated_with,
            credential=sealed,
        )


def _entry(device: _PlannedDevice) -> DeviceEntry:
    return DeviceEntry(
        device_hex=device.device_id.hex,
        device_type=device.device_type.value,
        manufacturer=device.product.manufacturer,
        model=device.model,
        firmware=device.reported_firmware,
        credential=device.credential,
        fault=device.fault,
        registers=device.registers or {},
    )


def installation_reference(number: int) -> str:
    """The reference of the ``number``-th installation (1-based): ``S1-0000001``."""
    return f"S1-{number:07d}"


def bumped_firmware(version: str) -> str:
    """A plausible other release of ``version``: its last numeric part plus one."""
    head, _, last = version.rpartition(".")
    if last.isdigit():
        return f"{head}.{int(last) + 1}" if head else str(int(last) + 1)
    return f"{version}-r2"


def products_by_type(eligible: EligibleProducts) -> dict[DeviceType, list[Product]]:
    """The eligible products of each device type the generator needs, in a stable order.

    Rule: every type an installation may hold must have at least one eligible product.
    """
    by_type: dict[DeviceType, list[Product]] = {kind: [] for kind in _NEEDED_TYPES}
    for product in eligible:
        if product.device_type in by_type:
            by_type[product.device_type].append(product)
    missing = [str(kind) for kind, products in by_type.items() if not products]
    if missing:
        raise ValueError(f"the eligible products list has no product for {', '.join(missing)}")
    return by_type
