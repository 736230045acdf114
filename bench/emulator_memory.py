"""Emulator memory per device: load a world of N devices (default 1,000,000) and measure it.

Writes the emulated world's files for N devices straight away (a fleet's device lists and
manifest, in the generator's proportions: three cohorts, 40% dual fuel, 15% prepayment,
3% dormant; no migration files, which the emulator never reads), then loads it in fresh
processes:
- ``rss``: resident memory before and after ``load_world``, and the load time;
- ``traced``: bytes allocated by ``load_world`` as ``tracemalloc`` counts them (slower);
- ``touched``: RSS after one authenticated ``read_identity`` to every device but the IHDs
  (counters and the touched-device set: what a migration's device testing leaves behind).

Usage: ``python bench/emulator_memory.py [devices] [--workdir bench/out]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import random
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe
from s1adopt.domain.device_models import cohort_models
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.identities import Eui64, Mpan, Mprn
from s1adopt.emulators.fleet_files import (
    MANIFEST_NAME,
    DeviceEntry,
    Manifest,
    SmsoEntry,
    device_line,
    devices_file_name,
    emulator_dir,
    manifest_json,
)
from s1adopt.emulators.profiles import SMSO_PROFILES, split_installations

DEVICES_PER_INSTALLATION = 3 + 2 * 0.40 + 0.15  # CHF, ESME, IHD; GPF+GSME; PPMID


def write_world(out: Path, devices: int, seed: int = 1) -> None:
    """The manifest and device lists of a world of exactly ``devices`` devices."""
    rng = random.Random(seed)
    installations = int(devices / DEVICES_PER_INSTALLATION) + 1
    runs = split_installations(installations, SMSO_PROFILES)
    emulator_dir(out).mkdir(parents=True, exist_ok=True)
    written, number = 0, 0
    for profile, count in zip(SMSO_PROFILES, runs, strict=True):
        models = cohort_models(profile.cohort)
        with open(emulator_dir(out) / devices_file_name(profile.name), "w") as lines:
            for _ in range(count):
                number += 1
                for entry in _installation(rng, models, profile.device_prefix, number):
                    if written == devices:
                        break
                    lines.write(device_line(entry))
                    written += 1
    entries = tuple(
        SmsoEntry(p.name, p.eui, p.cohort, p.protocol, p.session_limit, devices_file_name(p.name))
        for p in SMSO_PROFILES
    )
    (emulator_dir(out) / MANIFEST_NAME).write_text(manifest_json(Manifest(seed, entries)))
    (out / "devices.txt").write_text(str(written))


def _installation(
    rng: random.Random, models: dict[DeviceType, Any], prefix: int, number: int
) -> list[DeviceEntry]:
    dual, prepayment, dormant = rng.random() < 0.4, rng.random() < 0.15, rng.random() < 0.03
    kinds = [DeviceType.CHF, DeviceType.ESME]
    kinds += [DeviceType.GPF, DeviceType.GSME] if dual else []
    kinds += [DeviceType.IHD] + ([DeviceType.PPMID] if prepayment else [])
    mpan = Mpan.with_check_digit(f"{rng.randint(10, 23):02d}{number:010d}").core
    mprn = Mprn.with_check_digits(f"{10_000_000 + number:08d}").value
    ids = {
        k: Eui64.from_int((prefix << 32) | (number << 3) | slot).hex for slot, k in enumerate(kinds)
    }
    entries = []
    for kind in kinds:
        model = rng.choice(models[kind])
        meter = kind.is_meter
        firmware = model.dormant_firmware if dormant else model.firmware
        parent = DeviceType.GPF if kind is DeviceType.GSME else DeviceType.CHF
        entries.append(
            DeviceEntry(
                device_hex=ids[kind],
                device_type=kind.value,
                manufacturer=model.manufacturer,
                model=model.model,
                firmware=firmware,
                credential=None if kind.is_type2 else rng.randbytes(32),
                fault="dormant" if dormant and firmware is not None else None,
                associated=None if kind is DeviceType.CHF else ids[parent],
                mpxn=(mpan if kind is DeviceType.ESME else mprn) if meter else None,
                payment=("prepayment" if prepayment else "credit") if meter else None,
                import_register=rng.randrange(30_000_000) if meter else None,
            )
        )
    return entries


def _rss() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096


def measure(fleet: Path, mode: str) -> dict[str, Any]:
    """One measurement in this process (run it in a fresh one)."""
    from s1adopt.emulators.world.loader import load_world

    gc.collect()
    if mode == "traced":
        tracemalloc.start()
    before = _rss()
    started = time.perf_counter()
    world = load_world(fleet)
    seconds = time.perf_counter() - started
    gc.collect()
    result: dict[str, Any] = {"devices": sum(len(h.devices) for h in world.headends)}
    if mode == "traced":
        result["traced_bytes"] = tracemalloc.get_traced_memory()[0]
    else:
        result.update(rss_before=before, rss_after=_rss(), load_seconds=seconds)
    if mode == "touched":
        started = time.perf_counter()
        asyncio.run(_touch_all(world))
        result.update(touch_seconds=time.perf_counter() - started, rss_touched=_rss())
    world.close()
    return result


async def _touch_all(world: Any) -> None:
    from s1adopt.domain.secrets import Secret
    from s1adopt.emulators.world.core_api import CoreRefusal
    from s1adopt.formats.device_auth import request_tag

    for headend in world.headends:
        headend.settings = type(headend.settings)(0.0, 0.0, model_delays=False)
        for key, device in headend.devices.items():
            if device.credential is None:
                continue  # an IHD: migration never addresses it
            tag = request_tag(Secret(device.credential), "read_identity", key, "n", {})
            with contextlib.suppress(CoreRefusal):  # dormant devices do not answer
                await headend.execute(key, "read_identity", {}, "n", tag)


def main(workdir: Path, devices: int) -> None:
    fleet = workdir / f"world-{devices}"
    done = fleet / "devices.txt"
    if not done.exists() or int(done.read_text()) != devices:
        started = time.perf_counter()
        write_world(fleet, devices)
        print(f"wrote {devices:,} devices in {time.perf_counter() - started:.1f} s")
    print(describe())
    results: dict[str, dict[str, Any]] = {}
    for mode in ("rss", "traced", "touched"):
        out = subprocess.run(
            [sys.executable, __file__, str(devices), "--measure", mode, "--workdir", str(workdir)],
            check=True,
            capture_output=True,
            text=True,
        )
        results[mode] = json.loads(out.stdout.splitlines()[-1])
    n = results["rss"]["devices"]
    rss = results["rss"]
    touched = results["touched"]
    print(f"devices loaded:             {n:,}")
    print(f"load time:                  {rss['load_seconds']:.1f} s")
    print(f"RSS growth per device:      {(rss['rss_after'] - rss['rss_before']) / n:.0f} bytes")
    print(f"tracemalloc per device:     {results['traced']['traced_bytes'] / n:.0f} bytes")
    print(f"process RSS after load:     {rss['rss_after'] / 2**20:.0f} MiB")
    grown = (touched["rss_touched"] - touched["rss_before"]) / n
    rate = n / touched["touch_seconds"]
    print(f"after read_identity to every WAN device: {grown:.0f} bytes per device RSS")
    print(f"  ({touched['touch_seconds']:.1f} s, {rate:,.0f} operations/s in the core)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("devices", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("bench/out"))
    parser.add_argument("--measure", choices=("rss", "traced", "touched"))
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.workdir / f"world-{args.devices}", args.measure)))
    else:
        main(args.workdir, args.devices)
