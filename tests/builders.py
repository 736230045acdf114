"""Builders of migration data for tests: records, sealed credentials, files."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from s1adopt.domain.identities import Eui64, Mpan, Mprn
from s1adopt.domain.records import DeviceRecord, InstallationRecord, MigrationFileHeader
from s1adopt.domain.secrets import Secret
from s1adopt.formats.credentials import CredentialSealer
from s1adopt.formats.migration.writer import MigrationFileWriter

SMSO = "90-B3-D5-1F-30-10-00-01"
SUPPLIER = "90-B3-D5-1F-30-01-00-00"
PRODUCTS = {
    "CHF": ("Northwind Comms", "NW-CH1", "2.4.1"),
    "GPF": ("Northwind Comms", "NW-GPF1", "2.4.1"),
    "ESME": ("Aurora Metering", "AM-E310", "1.7.2"),
    "GSME": ("Aurora Metering", "AM-G210", "1.3.0"),
    "IHD": ("Corvid", "CV-IHD3", None),
}


class FleetBuilder:
    """Makes installations with unique identities and remembers the devices' credentials."""

    def __init__(self, sealer: CredentialSealer) -> None:
        self.sealer = sealer
        self.credentials: dict[Eui64, Secret] = {}
        self._next = 1

    def _eui(self) -> Eui64:
        self._next += 1
        return Eui64.from_int(0x0012_4B00_0000_0000 + self._next)

    def device(self, kind: str, associated: Eui64 | None) -> DeviceRecord:
        eui = self._eui()
        manufacturer, model, firmware = PRODUCTS[kind]
        sealed = None
        if kind != "IHD":
            secret = Secret(os.urandom(32))
            self.credentials[eui] = secret
            sealed = self.sealer.seal(eui.value, secret)
        return DeviceRecord(
            eui.value,
            kind,
            manufacturer,
            model,
            firmware,
            associated.value if associated else None,
            sealed,
        )

    def installation(
        self, n: int, dual_fuel: bool = False, kind: str = "Active"
    ) -> InstallationRecord:
        chf = self.device("CHF", None)
        chf_id = Eui64(chf.device_id)
        devices = [chf, self.device("ESME", chf_id), self.device("IHD", chf_id)]
        mprn = None
        if dual_fuel:
            gpf = self.device("GPF", chf_id)
            devices += [gpf, self.device("GSME", Eui64(gpf.device_id))]
            mprn = Mprn.with_check_digits(f"{7000000 + n:08d}").value
        mpan = Mpan.with_check_digit(f"{1000000000 + n:012d}").core
        return InstallationRecord(f"S1-{n:07d}", kind, "IOC", mpan, mprn, tuple(devices))


def with_device(record: InstallationRecord, index: int, **changes: object) -> InstallationRecord:
    """A copy of ``record`` whose device ``index`` has ``changes``."""
    devices = list(record.devices)
    devices[index] = replace(devices[index], **changes)  # type: ignore[arg-type]
    return replace(record, devices=tuple(devices))


def header(file_id: str, count: int, sealer: CredentialSealer) -> MigrationFileHeader:
    return MigrationFileHeader(
        file_id, "1.0", SMSO, SUPPLIER, "2026-11-28T09:00:00Z", count, sealer.ephemeral_public_key
    )


def write_file(
    path: Path,
    file_id: str,
    sealer: CredentialSealer,
    records: list[InstallationRecord],
    declared: int | None = None,
) -> Path:
    count = len(records) if declared is None else declared
    with MigrationFileWriter(path, header(file_id, count, sealer)) as writer:
        for record in records:
            writer.write(record)
    return path
