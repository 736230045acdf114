"""The emulated devices of a fleet, held in memory by the head-end emulator.

Rules:
- Each device is one small slots object keyed by its 16 upper-case hex digits; identical
  identities (type, manufacturer, model, firmware) are shared, so a million devices fit in
  one process.
- A device's credential is its own memory: every replacement is appended to its SMSO's
  journal (and flushed) before it takes effect, and the journal is replayed over the device
  list at start, so a replaced credential survives an emulator restart as on a real device.
  A torn last journal line (a crash while writing it) is cut off at start: the replacement it
  recorded was never confirmed to the caller. Any other unreadable line stops the start.
- Counters are kept per device (requests, identity reads, credential replacements,
  authentication failures) and per head end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from s1adopt.emulators.fleet_files import (
    NO_ANSWER,
    SmsoEntry,
    emulator_dir,
    journal_line,
    journal_path,
    read_manifest,
)
from s1adopt.formats.headend_wire import DeviceIdentity

COUNTER_NAMES = ("requests", "identity_reads", "credential_replacements", "auth_failures")
_HEX_DIGITS = frozenset("0123456789ABCDEF")
_KNOWN_FAULTS = (None, NO_ANSWER)
_TAIL_BYTES = 4096  # far longer than any journal line


@dataclass(slots=True, eq=False)
class EmulatedDevice:
    """One device as the emulated world holds it (its counters included)."""

    identity: DeviceIdentity
    credential: bytes | None
    fault: str | None
    import_wh: int | None
    requests: int = 0
    identity_reads: int = 0
    credential_replacements: int = 0
    auth_failures: int = 0

    def counters(self) -> dict[str, int]:
        """The device's counters by name."""
        return {name: getattr(self, name) for name in COUNTER_NAMES}


@dataclass(slots=True)
class Counters:
    """Totals of one head end."""

    requests: int = 0
    identity_reads: int = 0
    credential_replacements: int = 0
    auth_failures: int = 0
    unknown_device_requests: int = 0


@dataclass(eq=False)
class HeadEndState:
    """The devices one SMSO's head end serves, with its journal and counters."""

    smso: SmsoEntry
    devices: dict[str, EmulatedDevice]
    journal: Path
    totals: Counters = field(default_factory=Counters)
    _journal_out: IO[str] | None = field(default=None, init=False, repr=False)

    def open_journal(self) -> None:
        """Start appending to the journal."""
        self._journal_out = open(self.journal, "a", encoding="utf-8")  # noqa: SIM115 - see close

    def replace_credential(self, device_hex: str, device: EmulatedDevice, new: bytes) -> None:
        """Give ``device`` the credential ``new``, journalled before it takes effect."""
        if self._journal_out is None:
            raise RuntimeError(f"{self.smso.name}: journal not open")
        self._journal_out.write(journal_line(device_hex, new))
        self._journal_out.flush()
        device.credential = new
        device.credential_replacements += 1
        self.totals.credential_replacements += 1

    def close(self) -> None:
        """Close the journal."""
        if self._journal_out is not None:
            self._journal_out.close()
            self._journal_out = None


@dataclass(eq=False)
class EmulatorState:
    """The whole emulated world of one fleet directory."""

    fleet_dir: Path
    seed: int
    headends: tuple[HeadEndState, ...]

    def device(self, device_hex: str) -> EmulatedDevice | None:
        """The device with these 16 hex digits, whichever head end serves it."""
        key = device_hex.upper()
        for headend in self.headends:
            found = headend.devices.get(key)
            if found is not None:
                return found
        return None

    def totals(self) -> dict[str, int]:
        """Counters summed over the head ends, with the number of devices."""
        sums: dict[str, int] = {"devices": sum(len(h.devices) for h in self.headends)}
        for name in (*COUNTER_NAMES, "unknown_device_requests"):
            sums[name] = sum(getattr(h.totals, name) for h in self.headends)
        return sums

    def touched_devices(self) -> dict[str, dict[str, int]]:
        """The counters of every device that received at least one request."""
        return {
            device_hex: device.counters()
            for headend in self.headends
            for device_hex, device in headend.devices.items()
            if device.requests
        }

    def close(self) -> None:
        """Close every journal."""
        for headend in self.headends:
            headend.close()


def load_emulator_state(fleet_dir: Path) -> EmulatorState:
    """Load the manifest, the device lists and the journals of a fleet; open the journals.

    ``ValueError`` names the file and line of anything unusable.
    """
    manifest = read_manifest(fleet_dir)
    identities: dict[tuple[str, str, str, str | None], DeviceIdentity] = {}
    headends: list[HeadEndState] = []
    seen: set[str] = set()
    try:
        for smso in manifest.smsos:
            devices = _load_devices(emulator_dir(fleet_dir) / smso.devices, identities)
            clash = seen.intersection(devices)
            if clash:
                raise ValueError(f"device {min(clash)} is served by two SMSOs")
            seen.update(devices)
            headend = HeadEndState(smso, devices, journal_path(fleet_dir, smso.name))
            _replay_journal(headend)
            headend.open_journal()
            headends.append(headend)
    except BaseException:
        for headend in headends:
            headend.close()
        raise
    return EmulatorState(fleet_dir, manifest.seed, tuple(headends))


def _load_devices(
    path: Path, identities: dict[tuple[str, str, str, str | None], DeviceIdentity]
) -> dict[str, EmulatedDevice]:
    devices: dict[str, EmulatedDevice] = {}
    try:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    device_hex, device = _device_from(json.loads(line), identities)
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(f"{path}: line {number}: {exc}") from exc
                if device_hex in devices:
                    raise ValueError(f"{path}: line {number}: device {device_hex} listed twice")
                devices[device_hex] = device
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror})") from exc
    return devices


def _device_from(
    doc: dict[str, Any], identities: dict[tuple[str, str, str, str | None], DeviceIdentity]
) -> tuple[str, EmulatedDevice]:
    device_hex = _device_hex(doc["id"])
    firmware = doc["firmware"]
    key = (
        str(doc["type"]),
        str(doc["manufacturer"]),
        str(doc["model"]),
        None if firmware is None else str(firmware),
    )
    identity = identities.get(key)
    if identity is None:
        identity = identities[key] = DeviceIdentity(*key)
    credential = doc["credential"]
    fault = doc.get("fault")
    if fault not in _KNOWN_FAULTS:
        raise ValueError(f"unknown fault {fault!r}")
    import_wh = doc.get("registers", {}).get("import_wh")
    return device_hex, EmulatedDevice(
        identity=identity,
        credential=None if credential is None else bytes.fromhex(credential),
        fault=fault,
        import_wh=None if import_wh is None else int(import_wh),
    )


def _device_hex(value: object) -> str:
    text = str(value).upper()
    if len(text) != 16 or not _HEX_DIGITS.issuperset(text):
        raise ValueError(f"device id {value!r} is not 16 hex digits")
    return text


def _replay_journal(headend: HeadEndState) -> None:
    if not headend.journal.exists():
        return
    _cut_torn_tail(headend.journal)
    with open(headend.journal, encoding="utf-8") as journal:
        for number, line in enumerate(journal, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                device_hex = _device_hex(doc["id"])
                credential = bytes.fromhex(doc["credential"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{headend.journal}: line {number}: {exc}") from exc
            device = headend.devices.get(device_hex)
            if device is not None:
                device.credential = credential


def _cut_torn_tail(path: Path) -> None:
    """Drop a last line without its newline: a crash cut it short, and it was never confirmed."""
    with open(path, "r+b") as journal:
        size = journal.seek(0, 2)
        if size == 0:
            return
        journal.seek(max(0, size - _TAIL_BYTES))
        tail = journal.read()
        if tail.endswith(b"\n"):
            return
        newline = tail.rfind(b"\n")
        if newline < 0 and size > _TAIL_BYTES:
            raise ValueError(f"{path}: last line longer than {_TAIL_BYTES} bytes")
        journal.truncate(size - len(tail) + newline + 1)
