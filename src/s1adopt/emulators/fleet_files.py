"""Files of a generated fleet's emulated world: the manifest, device lists and journals.

Layout under the fleet directory:
- ``emulator/fleet.json``: ``{"version": 2, "seed", "smsos": [{"name", "eui", "cohort",
  "protocol", "sessionLimit", "devices"}]}``;
- ``emulator/<name>.devices.jsonl``: one device per line, ``{"id" (16 hex digits), "type",
  "manufacturer", "model", "firmware", "credential" (hex or null), "fault" (null or a
  ``world.faults`` kind, ``garbled_once`` included), "associated" (the CHF or GPF it hangs
  off, or null), "mpxn", "payment" ("credit" or "prepayment"), "registers": {"import"}}``,
  the last three for meters only (the import register at ``world.physics.EPOCH``, in Wh or
  litres): the devices' own memory;
- ``emulator/<name>.journal.jsonl``: ``{"id", "credential"}`` per credential replacement and
  ``{"id", "firmware"}`` per firmware activation, replayed over the device list when an
  emulator starts (see ``world.journal``).
Rules: a manifest of another version, or naming a file outside its directory, is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_VERSION = 2
EMULATOR_DIR = "emulator"
MANIFEST_NAME = "fleet.json"
MAX_MANIFEST_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SmsoEntry:
    """One SMSO of the manifest."""

    name: str
    eui: str
    cohort: str
    protocol: str
    session_limit: int  # requests the head end carries at once; beyond it, BUSY
    devices: str  # file name of its device list, inside the emulator directory


@dataclass(frozen=True, slots=True)
class Manifest:
    """The emulated world of one fleet."""

    seed: int
    smsos: tuple[SmsoEntry, ...]


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """One emulated device as its line of the device list holds it."""

    device_hex: str
    device_type: str
    manufacturer: str
    model: str
    firmware: str | None
    credential: bytes | None
    fault: str | None
    associated: str | None = None
    mpxn: str | None = None
    payment: str | None = None
    import_register: int | None = None


def emulator_dir(fleet_dir: Path) -> Path:
    """Where a fleet's emulator state lives."""
    return fleet_dir / EMULATOR_DIR


def devices_file_name(smso_name: str) -> str:
    """The device list's file name of an SMSO."""
    return f"{smso_name}.devices.jsonl"


def journal_path(fleet_dir: Path, smso_name: str) -> Path:
    """The credential journal of an SMSO's emulated devices."""
    return emulator_dir(fleet_dir) / f"{smso_name}.journal.jsonl"


def manifest_json(manifest: Manifest) -> str:
    """The manifest as JSON text."""
    doc = {
        "version": MANIFEST_VERSION,
        "seed": manifest.seed,
        "smsos": [
            {
                "name": s.name,
                "eui": s.eui,
                "cohort": s.cohort,
                "protocol": s.protocol,
                "sessionLimit": s.session_limit,
                "devices": s.devices,
            }
            for s in manifest.smsos
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def read_manifest(fleet_dir: Path) -> Manifest:
    """The manifest of a fleet; ``ValueError`` naming the problem when it is unusable."""
    path = emulator_dir(fleet_dir) / MANIFEST_NAME
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ValueError(f"{path}: larger than {MAX_MANIFEST_BYTES} bytes")
        doc = json.loads(path.read_bytes())
        if doc.get("version") != MANIFEST_VERSION:
            raise ValueError(
                f"{path}: version {doc.get('version')!r}, expected {MANIFEST_VERSION}; "
                "generate the fleet again"
            )
        smsos = tuple(
            SmsoEntry(
                str(s["name"]),
                str(s["eui"]),
                str(s["cohort"]),
                str(s["protocol"]),
                _session_limit(s["sessionLimit"], path),
                _plain_name(str(s["devices"]), path),
            )
            for s in doc["smsos"]
        )
        return Manifest(int(doc["seed"]), smsos)
    except OSError as exc:
        raise ValueError(
            f"{path}: cannot be read ({exc.strerror}); generate a fleet into {fleet_dir} first"
        ) from exc
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a fleet manifest ({exc})") from exc


def _session_limit(value: object, manifest: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100_000:
        raise ValueError(f"{manifest}: sessionLimit {value!r} must be 1 to 100000")
    return value


def _plain_name(name: str, manifest: Path) -> str:
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"{manifest}: device list {name!r} must be a file name in its directory")
    return name


def device_line(entry: DeviceEntry) -> str:
    """One line of a device list (with its newline)."""
    doc: dict[str, Any] = {
        "id": entry.device_hex,
        "type": entry.device_type,
        "manufacturer": entry.manufacturer,
        "model": entry.model,
        "firmware": entry.firmware,
        "credential": None if entry.credential is None else entry.credential.hex(),
        "fault": entry.fault,
        "associated": entry.associated,
    }
    if entry.mpxn is not None:
        doc["mpxn"] = entry.mpxn
        doc["payment"] = entry.payment
        doc["registers"] = {"import": entry.import_register}
    return json.dumps(doc, separators=(",", ":")) + "\n"
