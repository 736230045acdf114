"""Devices of an installation and their Smart Metering Inventory (SMI) statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from s1adopt.domain.errors import IllegalTransition
from s1adopt.domain.identities import Eui64


class DeviceType(StrEnum):
    """The device types an installation may hold."""

    CHF = "CHF"  # communications hub function: the device's WAN link
    ESME = "ESME"  # electricity smart metering equipment
    GPF = "GPF"  # gas proxy function: answers for the battery-powered gas meter
    GSME = "GSME"  # gas smart metering equipment
    PPMID = "PPMID"  # prepayment meter interface device
    HCALCS = "HCALCS"  # HAN-connected auxiliary load control switch
    IHD = "IHD"  # in-home display, a Type 2 device: no firmware in the SMI, no credentials

    @property
    def is_type2(self) -> bool:
        """Type 2 devices are not addressed over the WAN and hold no security credentials."""
        return self is DeviceType.IHD

    @property
    def is_meter(self) -> bool:
        """Meters carry an MPxN and are associated with a CHF (ESME) or GPF (GSME)."""
        return self in (DeviceType.ESME, DeviceType.GSME)


class SmiStatus(StrEnum):
    """SMI status of a device."""

    PENDING = "Pending"  # known to the SMI (e.g. from migration data), not yet operable
    WHITELISTED = "Whitelisted"  # allowed to join the HAN of a communications hub
    INSTALLED_NOT_COMMISSIONED = "InstalledNotCommissioned"  # installed, not yet commissioned
    COMMISSIONED = "Commissioned"  # operated through DCC
    DECOMMISSIONED = "Decommissioned"  # removed from service for good
    WITHDRAWN = "Withdrawn"  # withdrawn from the DCC service
    SUSPENDED = "Suspended"  # firmware no longer eligible; operations restricted
    RECOVERY = "Recovery"  # being recovered after a compromise
    RECOVERED = "Recovered"  # recovered, awaiting return to service
    NOT_APPLICABLE = "NotApplicable"  # status does not apply to this device


# Legal SMI transitions. A device adopted by migration goes Pending -> Commissioned without
# passing through on-site installation.
SMI_TRANSITIONS: dict[SmiStatus, frozenset[SmiStatus]] = {
    SmiStatus.PENDING: frozenset(
        {SmiStatus.WHITELISTED, SmiStatus.COMMISSIONED, SmiStatus.WITHDRAWN}
    ),
    SmiStatus.WHITELISTED: frozenset(
        {
            SmiStatus.INSTALLED_NOT_COMMISSIONED,
            SmiStatus.COMMISSIONED,
            SmiStatus.DECOMMISSIONED,
            SmiStatus.WITHDRAWN,
        }
    ),
    SmiStatus.INSTALLED_NOT_COMMISSIONED: frozenset(
        {
            SmiStatus.COMMISSIONED,
            SmiStatus.DECOMMISSIONED,
            SmiStatus.WITHDRAWN,
            SmiStatus.SUSPENDED,
        }
    ),
    SmiStatus.COMMISSIONED: frozenset(
        {
            SmiStatus.DECOMMISSIONED,
            SmiStatus.WITHDRAWN,
            SmiStatus.SUSPENDED,
            SmiStatus.RECOVERY,
        }
    ),
    SmiStatus.SUSPENDED: frozenset(
        {SmiStatus.COMMISSIONED, SmiStatus.DECOMMISSIONED, SmiStatus.WITHDRAWN}
    ),
    SmiStatus.RECOVERY: frozenset({SmiStatus.RECOVERED, SmiStatus.DECOMMISSIONED}),
    SmiStatus.RECOVERED: frozenset({SmiStatus.COMMISSIONED, SmiStatus.DECOMMISSIONED}),
    SmiStatus.WITHDRAWN: frozenset({SmiStatus.PENDING}),
    SmiStatus.DECOMMISSIONED: frozenset(),
    SmiStatus.NOT_APPLICABLE: frozenset(),
}


class CredentialHolder(StrEnum):
    """Whose security credential a device currently trusts."""

    NONE = "none"  # Type 2 device: holds no credential
    SMSO = "smso"  # still the previous operator's credential
    REPLACING = "replacing"  # DCC's new credential generated and stored, being installed
    DCC = "dcc"  # DCC's credential installed: the SMSO has lost control


class CredentialPurpose(StrEnum):
    """What a stored credential is for; binds a sealed credential to its use."""

    SMSO = "smso"  # the previous operator's credential, from the migration data
    DCC_PENDING = "dcc-pending"  # DCC's new credential, stored before it is installed
    DCC = "dcc"  # DCC's credential, installed on the device


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One entry of a device's SMI status history."""

    status: SmiStatus
    effective_from: datetime
    reason: str


@dataclass(slots=True)
class Device:
    """A device as the SMI holds it."""

    device_id: Eui64
    device_type: DeviceType
    manufacturer: str
    model: str
    firmware_version: str | None  # None for Type 2 devices
    installation_ref: str
    associated_with: Eui64 | None  # CHF for ESME/IHD/PPMID, GPF for GSME, CHF for GPF
    mpxn: str | None  # for meters only
    status: SmiStatus
    status_since: datetime
    credential_holder: CredentialHolder
    history: list[StatusChange] = field(default_factory=list)
    firmware_target: str | None = None  # dormant: the eligible firmware to upgrade to first

    def change_status(self, new: SmiStatus, at: datetime, reason: str) -> StatusChange:
        """Move to ``new`` if the SMI allows it, recording the change in the history."""
        if new not in SMI_TRANSITIONS[self.status]:
            raise IllegalTransition(
                f"device {self.device_id}: SMI status {self.status} cannot become {new}"
            )
        change = StatusChange(new, at, reason)
        self.status = new
        self.status_since = at
        self.history.append(change)
        return change


@dataclass(frozen=True, slots=True)
class ReportedDevice:
    """What a device reports about itself when read through its head end."""

    device_type: str
    manufacturer: str
    model: str
    firmware_version: str | None

    def mismatch_with(self, device: Device) -> tuple[str, str] | None:
        """("device"|"firmware", detail) when the report differs from the inventory record."""
        for field_name, mine, theirs in (
            ("type", str(device.device_type), self.device_type),
            ("manufacturer", device.manufacturer, self.manufacturer),
            ("model", device.model, self.model),
        ):
            if mine != theirs:
                return (
                    "device",
                    f"{device.device_id}: {field_name} is {theirs!r}, expected {mine!r}",
                )
        if device.firmware_version != self.firmware_version:
            return "firmware", (
                f"{device.device_id}: firmware is {self.firmware_version!r}, "
                f"expected {device.firmware_version!r}"
            )
        return None
