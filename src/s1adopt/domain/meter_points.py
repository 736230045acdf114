"""Meter points (MPAN, MPRN) and their DCC Service Flag.

The project keeps the flag values Enrolled, Suspended and Withdrawn of the original SEC text
(MP077 later replaced Suspended and Withdrawn with Non-Active and InstalledNotCommissioned);
migration sets only Enrolled. A change of flag is reported to the registration data providers
in the registration status file.

GT01: where only the gas side of a dual-fuel installation failed, on HAN errors, the
electricity side is migrated alone; the gas devices stay Pending with the SMSO and the MPRN is
not enrolled (``enrolled_by_migration``).
"""

from __future__ import annotations

from enum import StrEnum

from s1adopt.domain.devices import DeviceType


class MeterPointKind(StrEnum):
    """Electricity (MPAN core) or gas (MPRN)."""

    MPAN = "MPAN"
    MPRN = "MPRN"


class ServiceFlag(StrEnum):
    """The DCC Service Flag of a meter point."""

    ENROLLED = "Enrolled"  # the meter point's smart metering system is operated through DCC
    SUSPENDED = "Suspended"  # DCC service suspended for the meter point
    WITHDRAWN = "Withdrawn"  # withdrawn from the DCC service


GAS_SIDE = frozenset({DeviceType.GSME, DeviceType.GPF})  # the devices GT01 may leave out


def in_scope_of_migration(device_type: DeviceType, electricity_only: bool) -> bool:
    """Whether a migration commissions a device of this type (GT01 leaves the gas side out)."""
    return not (electricity_only and device_type in GAS_SIDE)


def enrolled_by_migration(
    kinds: frozenset[MeterPointKind], electricity_only: bool
) -> frozenset[MeterPointKind]:
    """The meter points a completed migration enrols: all of them, or only the MPAN (GT01)."""
    if electricity_only:
        return kinds & {MeterPointKind.MPAN}
    return kinds


def gt01_applies(has_electricity_meter: bool, failures: list[tuple[DeviceType, bool]]) -> bool:
    """GT01: the installation has an ESME and every failure is a HAN failure of a gas-side
    device. ``failures`` are (device type, is a HAN failure) pairs, at least one."""
    return (
        has_electricity_meter
        and bool(failures)
        and all(is_han and kind in GAS_SIDE for kind, is_han in failures)
    )
