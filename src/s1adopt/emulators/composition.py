"""Composing one installation of a generated fleet: its record for the migration file and
its devices for the emulated head end.

Rules:
- About 60% of installations are electricity only (CHF, ESME, IHD; an MPAN), 40% dual fuel
  (CHF, ESME, GPF, GSME, IHD; an MPAN and an MPRN); about 15% are prepayment, with a PPMID
  and both meters in prepayment mode. ESME, GPF, IHD and PPMID are associated with the
  CHF, the GSME with the GPF.
- Models are picked among the SMSO's cohort's models (``domain.device_models``), each running its
  eligible firmware; every device except the IHD (Type 2) holds a 32-byte credential,
  sealed in the file for the service.
- Each installation draws from its own generator, seeded by the fleet's seed and its number,
  and its devices' IDs follow from its number (``device_prefix``, number, slot), so the same
  seed gives the same installation whatever the faults around it; faults draw from a
  second generator.
- The meter points drawn are the ones the installation is registered with
  (``ComposedInstallation.registered``); a fault that corrupts the MPAN changes only what the
  migration file says. ``is_dual_fuel`` tells, without composing, whether it has an MPRN.
- A fault changes only the installation's ESME (or its MPAN), as ``faults.FaultKind`` says,
  except ``han_failure``, which makes the installation dual fuel and puts the fault on its
  GPF and GSME.
- A dormant installation has the type Dormant; every device with firmware runs its model's
  older ``dormant_firmware``, in the file and in the emulator, and carries the ``dormant``
  fault.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from s1adopt.domain.device_models import DeviceModel, cohort_models
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.eligibility import EligibleProducts
from s1adopt.domain.identities import Eui64, Mpan, Mprn
from s1adopt.domain.installation import InstallationType
from s1adopt.domain.records import DeviceRecord, InstallationRecord
from s1adopt.domain.secrets import Secret
from s1adopt.emulators.faults import FaultKind
from s1adopt.emulators.fleet_files import DeviceEntry
from s1adopt.emulators.profiles import SmsoProfile
from s1adopt.emulators.world.faults import GARBLED_ONCE, DeviceFault
from s1adopt.formats.credentials import CredentialSealer

DUAL_FUEL_SHARE = 0.40
PREPAYMENT_SHARE = 0.15
CREDENTIAL_BYTES = 32
MPRN_BASE = 10_000_000  # leading 8 digits of MPRNs start here
MAX_START_REGISTER = {DeviceType.ESME: 30_000_000, DeviceType.GSME: 15_000_000}  # Wh, litres
_SLOTS = {
    DeviceType.CHF: 0,
    DeviceType.ESME: 1,
    DeviceType.GPF: 2,
    DeviceType.GSME: 3,
    DeviceType.IHD: 4,
    DeviceType.PPMID: 5,
}
_ESME_FAULTS = {
    FaultKind.NO_ANSWER: DeviceFault.NO_ANSWER.value,
    FaultKind.SLOW: DeviceFault.SLOW.value,
    FaultKind.GARBLED_ONCE: GARBLED_ONCE,
}


@dataclass(slots=True)
class _PlannedDevice:
    device_id: Eui64
    model: DeviceModel
    associated_with: str | None
    credential: bytes | None  # what the device itself holds
    file_id: str  # the ID the migration file gives it (normally the canonical EUI-64)
    file_credential: bytes | None  # what the file hands over for it
    model_name: str
    file_firmware: str | None  # what the file says it runs
    reported_firmware: str | None  # what the device reports when read
    import_register: int | None
    mpxn: str | None = None
    fault: str | None = None
    in_emulator: bool = True


@dataclass(frozen=True, slots=True)
class _EsmeClaim:
    file_id: str
    model: DeviceModel
    file_credential: bytes | None


@dataclass(frozen=True, slots=True)
class MeterPoints:
    """The meter points an installation is registered with: the real ones, whatever its
    migration file says (a ``bad_mpan`` file carries a corrupted MPAN)."""

    mpan: str
    mprn: str | None  # dual fuel only


@dataclass(frozen=True, slots=True)
class ComposedInstallation:
    """One installation: its migration file record, the devices the head end serves and its
    registered meter points."""

    record: InstallationRecord
    devices: tuple[DeviceEntry, ...]
    registered: MeterPoints


class InstallationComposer:
    """Composes the installations of one SMSO's file, one at a time, in reference order."""

    def __init__(
        self,
        profile: SmsoProfile,
        sealer: CredentialSealer,
        seed: int,
        fault_rng: random.Random,
    ) -> None:
        self._profile, self._sealer = profile, sealer
        self._seed, self._fault_rng = seed, fault_rng
        self._models = cohort_models(profile.cohort)
        self._last_healthy_esme: _EsmeClaim | None = None

    def compose(
        self, number: int, fault: FaultKind | None, dormant: bool = False
    ) -> ComposedInstallation:
        """Installation ``S1-<number>``, with ``fault`` planted (None for a healthy one)."""
        rng = installation_rng(self._seed, number)
        registered, prepayment = _draw_meter_points(rng, number, fault)
        mpan, mprn = registered.mpan, registered.mprn
        dual_fuel = mprn is not None
        chf = self._device(rng, number, DeviceType.CHF, None, dormant)
        esme = self._device(rng, number, DeviceType.ESME, chf, dormant, mpan)
        devices = [chf, esme]
        if dual_fuel:
            gpf = self._device(rng, number, DeviceType.GPF, chf, dormant)
            devices += [gpf, self._device(rng, number, DeviceType.GSME, gpf, dormant, mprn)]
        devices.append(self._device(rng, number, DeviceType.IHD, chf, dormant))
        if prepayment:
            devices.append(self._device(rng, number, DeviceType.PPMID, chf, dormant))

        if fault is FaultKind.BAD_MPAN:
            mpan = mpan[:12] + str((int(mpan[12]) + 1) % 10)
        elif fault is FaultKind.HAN_FAILURE:
            for device in devices[2:4]:  # the GPF and the GSME
                device.fault = DeviceFault.HAN_FAILURE.value
        elif fault is not None:
            self._plant(fault, esme)
        elif not dormant:
            self._last_healthy_esme = _EsmeClaim(esme.file_id, esme.model, esme.file_credential)

        kind = InstallationType.DORMANT if dormant else InstallationType.ACTIVE
        record = InstallationRecord(
            reference=installation_reference(number),
            installation_type=kind.value,
            cohort=self._profile.cohort,
            mpan=mpan,
            mprn=mprn,
            devices=tuple(self._record(d) for d in devices),
        )
        payment = "prepayment" if prepayment else "credit"
        entries = tuple(_entry(d, payment) for d in devices if d.in_emulator)
        return ComposedInstallation(record, entries, registered)

    def _device(
        self,
        rng: random.Random,
        number: int,
        kind: DeviceType,
        associated: _PlannedDevice | None,
        dormant: bool,
        mpxn: str | None = None,
    ) -> _PlannedDevice:
        model = rng.choice(self._models[kind])
        device_id = Eui64.from_int(
            (self._profile.device_prefix << 32) | (number << 3) | _SLOTS[kind]
        )
        credential = None if kind.is_type2 else rng.randbytes(CREDENTIAL_BYTES)
        start = rng.randrange(MAX_START_REGISTER[kind]) if kind.is_meter else None
        firmware = model.dormant_firmware if dormant else model.firmware
        return _PlannedDevice(
            device_id=device_id,
            model=model,
            associated_with=None if associated is None else associated.device_id.value,
            credential=credential,
            file_id=device_id.value,
            file_credential=credential,
            model_name=model.model,
            file_firmware=firmware,
            reported_firmware=firmware,
            import_register=start,
            mpxn=mpxn,
            fault=DeviceFault.DORMANT.value if dormant and firmware is not None else None,
        )

    def _plant(self, fault: FaultKind, esme: _PlannedDevice) -> None:
        if fault in _ESME_FAULTS:
            esme.fault = _ESME_FAULTS[fault]
        elif fault is FaultKind.FIRMWARE_MISMATCH:
            fmt = esme.model.behaviour.firmware_format
            esme.reported_firmware = fmt.bumped(esme.file_firmware or "0.0.0")
        elif fault is FaultKind.CREDENTIAL_MISMATCH:
            other = esme.credential
            while other == esme.credential:
                other = self._fault_rng.randbytes(CREDENTIAL_BYTES)
            esme.file_credential = other
        elif fault is FaultKind.NOT_ELIGIBLE:
            esme.model_name = f"{esme.model.model}-PROTO"
        elif fault is FaultKind.MALFORMED_DEVICE_ID:
            esme.file_id = esme.device_id.hex[:-1]  # 15 hex digits: not an EUI-64
            esme.in_emulator = False
        elif fault is FaultKind.DUPLICATE_DEVICE:
            claim = self._last_healthy_esme
            if claim is None:
                raise RuntimeError("duplicate_device planned before any healthy installation")
            esme.file_id, esme.model = claim.file_id, claim.model
            esme.model_name = claim.model.model
            esme.file_firmware = esme.reported_firmware = claim.model.firmware
            esme.file_credential = claim.file_credential
            esme.in_emulator = False  # the head end knows that ESME once, from its first owner

    def _record(self, device: _PlannedDevice) -> DeviceRecord:
        sealed = None
        if device.file_credential is not None:
            sealed = self._sealer.seal(device.file_id, Secret(device.file_credential))
        return DeviceRecord(
            device_id=device.file_id,
            device_type=device.model.device_type.value,
            manufacturer=device.model.manufacturer,
            model=device.model_name,
            firmware_version=device.file_firmware,
            associated_with=device.associated_with,
            credential=sealed,
        )


def _entry(device: _PlannedDevice, payment: str) -> DeviceEntry:
    meter = device.model.device_type.is_meter
    return DeviceEntry(
        device_hex=device.device_id.hex,
        device_type=device.model.device_type.value,
        manufacturer=device.model.manufacturer,
        model=device.model_name,
        firmware=device.reported_firmware,
        credential=device.credential,
        fault=device.fault,
        associated=None
        if device.associated_with is None
        else device.associated_with.replace("-", ""),
        mpxn=device.mpxn if meter else None,
        payment=payment if meter else None,
        import_register=device.import_register,
    )


def installation_rng(seed: int, number: int) -> random.Random:
    """The generator installation ``number`` draws its composition from."""
    # A seeded generator on purpose: the emulated world is test material that the same seed
    # must reproduce; nothing real is protected by it.
    return random.Random(seed * 1_000_003 + number)  # noqa: S311


def is_dual_fuel(seed: int, number: int, fault: FaultKind | None) -> bool:
    """Whether installation ``number`` of a fleet made from ``seed`` has an MPRN (the same
    first draw as ``InstallationComposer.compose``, without composing it)."""
    return _dual_fuel(installation_rng(seed, number), fault)


def _dual_fuel(rng: random.Random, fault: FaultKind | None) -> bool:
    """The first draw of an installation."""
    return rng.random() < DUAL_FUEL_SHARE or fault is FaultKind.HAN_FAILURE


def _draw_meter_points(
    rng: random.Random, number: int, fault: FaultKind | None
) -> tuple[MeterPoints, bool]:
    """The first draws of an installation: its meter points and whether it is prepayment."""
    dual_fuel = _dual_fuel(rng, fault)
    prepayment = rng.random() < PREPAYMENT_SHARE
    first_twelve = f"{rng.randint(10, 23):02d}{number:010d}"
    mpan = Mpan.with_check_digit(first_twelve).core
    mprn = Mprn.with_check_digits(f"{MPRN_BASE + number:08d}").value if dual_fuel else None
    return MeterPoints(mpan, mprn), prepayment


def installation_reference(number: int) -> str:
    """The reference of the ``number``-th installation (1-based): ``S1-0000001``."""
    return f"S1-{number:07d}"


def check_cohort_eligible(cohort: str, eligible: EligibleProducts) -> None:
    """Every model of ``cohort`` must be eligible with its firmware; ``ValueError`` lists the
    ones that are not (the eligible products list and the model table disagree)."""
    missing = [
        f"{m.device_type} {m.manufacturer} {m.model} {m.firmware}"
        for models in cohort_models(cohort).values()
        for m in models
        if not eligible.is_eligible(m.device_type, m.manufacturer, m.model, m.firmware)
    ]
    if missing:
        raise ValueError(f"not on the eligible products list: {'; '.join(missing)}")
