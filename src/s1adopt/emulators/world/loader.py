"""Loading a generated fleet's emulated world: every SMSO's head end and devices.

Rules:
- The manifest names the SMSOs; each gets an ``EmulatedHeadEnd`` holding the devices of its
  device list, with its journal replayed over them and then opened for appending.
- Devices share what they can: one ``DeviceModel`` per model, one string per firmware
  version, and a device's ``associated`` ID is the very string that keys its CHF or GPF.
- A device listed twice, by one SMSO or by two, and any unusable line stop the load with a
  ``ValueError`` naming the file and line; journals opened so far are closed again.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s1adopt.domain.device_models import model_for
from s1adopt.domain.devices import DeviceType
from s1adopt.emulators.fleet_files import SmsoEntry, emulator_dir, journal_path, read_manifest
from s1adopt.emulators.world.alerts import AlertSink
from s1adopt.emulators.world.clock import Clock, system_clock
from s1adopt.emulators.world.core import EmulatedHeadEnd, HeadEndSettings
from s1adopt.emulators.world.device import COUNTER_NAMES, WorldDevice
from s1adopt.emulators.world.faults import parse_fault
from s1adopt.emulators.world.journal import Journal, device_hex, replay
from s1adopt.emulators.world.ops_firmware import activate

PAYMENT_MODES = ("credit", "prepayment")


@dataclass(eq=False)
class World:
    """The emulated world of one fleet directory: its head ends and their alerts."""

    fleet_dir: Path
    seed: int
    headends: list[EmulatedHeadEnd]
    alerts: AlertSink
    clock: Clock

    def headend(self, name: str) -> EmulatedHeadEnd | None:
        """The head end of the SMSO called ``name``."""
        return next((h for h in self.headends if h.name == name), None)

    def find(self, device: str) -> tuple[EmulatedHeadEnd, str, WorldDevice] | None:
        """The head end serving a device, the device's key and the device."""
        try:
            key = device_hex(device)
        except ValueError:
            return None
        for headend in self.headends:
            found = headend.devices.get(key)
            if found is not None:
                return headend, key, found
        return None

    def stats(self, devices: bool = True) -> dict[str, Any]:
        """Totals, per-operation totals, per head end figures, alerts, and (if ``devices``)
        the counters of every device that received a request."""
        totals: dict[str, int] = {"devices": sum(len(h.devices) for h in self.headends)}
        for name in (*COUNTER_NAMES, "unknown_device_requests", "alerts_suppressed"):
            totals[name] = sum(getattr(h.totals, name) for h in self.headends)
        operations: Counter[str] = Counter()
        for headend in self.headends:
            operations.update(headend.operations)
        doc: dict[str, Any] = {
            "totals": totals,
            "operations": dict(sorted(operations.items())),
            "headends": {h.name: h.stats() for h in self.headends},
            "alerts": {**self.alerts.counts, "pending": self.alerts.pending()},
        }
        if devices:
            doc["devices"] = {k: v for h in self.headends for k, v in h.touched_devices().items()}
        return doc

    def close(self) -> None:
        """Close every journal and stop alert delivery."""
        self.alerts.close()
        for headend in self.headends:
            headend.journal.close()

    async def aclose(self) -> None:
        """``close``, waiting for alert delivery to stop."""
        await self.alerts.aclose()
        self.close()


def load_world(
    fleet_dir: Path, clock: Clock | None = None, *, settings: HeadEndSettings | None = None
) -> World:
    """Load a fleet's emulated world (see the module rules); ``clock`` defaults to real time."""
    manifest = read_manifest(fleet_dir)
    alerts = AlertSink()
    world = World(fleet_dir, manifest.seed, [], alerts, clock or system_clock)
    try:
        for smso in manifest.smsos:
            devices = _load_devices(emulator_dir(fleet_dir) / smso.devices)
            for other in world.headends:
                clash = next((k for k in devices if k in other.devices), None)
                if clash is not None:
                    raise ValueError(f"device {clash} is served by {other.name} and {smso.name}")
            headend = _headend(world, smso, devices, settings)
            _replay(headend)
            headend.journal.open()
            world.headends.append(headend)
    except BaseException:
        world.close()
        raise
    return world


def _headend(
    world: World,
    smso: SmsoEntry,
    devices: dict[str, WorldDevice],
    settings: HeadEndSettings | None,
) -> EmulatedHeadEnd:
    return EmulatedHeadEnd(
        name=smso.name,
        smso=smso.eui,
        cohort=smso.cohort,
        protocol=smso.protocol,
        session_limit=(settings and settings.session_limit) or smso.session_limit,
        devices=devices,
        journal=Journal(journal_path(world.fleet_dir, smso.name)),
        alerts=world.alerts,
        clock=world.clock,
        world_seed=world.seed,
        settings=settings,
    )


def _replay(headend: EmulatedHeadEnd) -> None:
    def credential(key: str, value: bytes) -> None:
        device = headend.devices.get(key)
        if device is not None:
            device.credential = value

    def firmware(key: str, version: str) -> None:
        device = headend.devices.get(key)
        if device is not None:
            activate(device, version)

    replay(headend.journal.path, credential, firmware)


def _load_devices(path: Path) -> dict[str, WorldDevice]:
    devices: dict[str, WorldDevice] = {}
    recent: dict[str, str] = {}  # the IDs of the installation being read, as stored
    try:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    key, device = _device_from(json.loads(line), recent)
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    raise ValueError(f"{path}: line {number}: {exc}") from exc
                if key in devices:
                    raise ValueError(f"{path}: line {number}: device {key} listed twice")
                devices[key] = device
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read ({exc.strerror})") from exc
    return devices


def _device_from(doc: dict[str, Any], recent: dict[str, str]) -> tuple[str, WorldDevice]:
    key = device_hex(doc["id"])
    model = model_for(str(doc["type"]), str(doc["manufacturer"]), str(doc["model"]))
    kind = model.device_type
    if kind is DeviceType.CHF:
        recent.clear()
    recent[key] = key
    firmware = doc["firmware"]
    credential = doc["credential"]
    fault, fault_left = (None, 0) if doc["fault"] is None else parse_fault(doc["fault"], None, kind)
    associated = doc.get("associated")
    if associated is not None:
        associated = device_hex(associated)
        associated = recent.get(associated, associated)
    device = WorldDevice(
        model,
        None if firmware is None else sys.intern(str(firmware)),
        None if credential is None else bytes.fromhex(credential),
        fault=fault,
        fault_left=fault_left,
        associated=associated,
    )
    if kind.is_meter:
        payment = doc["payment"]
        if payment not in PAYMENT_MODES:
            raise ValueError(f"payment {payment!r} is not one of {', '.join(PAYMENT_MODES)}")
        base = doc["registers"]["import"]
        if isinstance(base, bool) or not isinstance(base, int) or base < 0:
            raise ValueError(f"import register {base!r} is not a whole number of at least 0")
        device.mpxn, device.prepayment, device.base = (
            str(doc["mpxn"]),
            payment == "prepayment",
            base,
        )
    return key, device
