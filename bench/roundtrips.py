"""Head-end round trips per second, per cohort and protocol, through the S1SP adapters.

Generates a fleet, serves it from an emulator process on loopback (so the emulator and the
adapters each have their own interpreter, as in production), then for each head end performs
``--reads`` identity reads at ``--concurrency`` through the adapter its listing selects
(``HeadEndDirectory``), and finally all head ends at once. The adapters keep within each head
end's session limit, so that limit and the devices' answer delays bound the rate: the run is
made once with the device models' answer delays off (what the protocol and adapter cost) and
once with them on (what the emulated devices allow).

    python bench/roundtrips.py [--reads 20000] [--concurrency 256] [--installations 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


@dataclass(frozen=True, slots=True)
class Target:
    """A device an identity read may address: id and credential."""

    device_hex: str
    credential: bytes


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured run."""

    label: str
    reads: int
    seconds: float
    failures: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.reads / self.seconds


def serve(fleet_dir: Path, model_delays: bool) -> None:
    """The emulator process: serve ``fleet_dir`` and print the control URL."""
    from s1adopt.emulators.runner import running_emulator
    from s1adopt.emulators.world.core import HeadEndSettings

    async def run() -> None:
        settings = HeadEndSettings(model_delays=model_delays)
        async with running_emulator(fleet_dir, settings=settings) as emulator:
            print(f"control: {emulator.control_url}", flush=True)
            await asyncio.Event().wait()

    asyncio.run(run())


def targets(fleet_dir: Path) -> dict[str, list[Target]]:
    """Healthy devices with a credential, by head-end name, from the fleet's device lists."""
    manifest = json.loads((fleet_dir / "emulator" / "fleet.json").read_text())
    found: dict[str, list[Target]] = {}
    for smso in manifest["smsos"]:
        lines = (fleet_dir / "emulator" / smso["devices"]).read_text().splitlines()
        devices = [json.loads(line) for line in lines if line.strip()]
        found[smso["name"]] = [
            Target(d["id"], bytes.fromhex(d["credential"]))
            for d in devices
            if d["credential"] is not None and d["fault"] is None
        ]
    return found


async def measure(label: str, work: list[tuple[object, Target]], concurrency: int) -> Figure:
    """Identity reads of ``work`` (adapter, target) at ``concurrency``."""
    from s1adopt.domain.errors import HeadEndError
    from s1adopt.domain.identities import Eui64
    from s1adopt.domain.secrets import Secret

    latencies: list[float] = []
    failures = 0
    queue = iter(work)

    async def worker() -> None:
        nonlocal failures
        for adapter, target in queue:
            started = time.perf_counter()
            try:
                await adapter.read_identity(  # type: ignore[attr-defined]
                    Eui64.parse(target.device_hex), Secret(target.credential)
                )
            except HeadEndError:
                failures += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[int(len(latencies) * 0.99)] * 1000
    return Figure(label, len(work), seconds, failures, p50, p99)


async def run_all(
    control_url: str, found: dict[str, list[Target]], reads: int, concurrency: int
) -> list[Figure]:
    """Each head end alone, then all at once."""
    import aiohttp

    from s1adopt.adapters.headend.directory import HeadEndDirectory
    from s1adopt.domain.identities import Eui64

    async with (
        aiohttp.ClientSession() as session,
        session.get(control_url + "/headends") as response,
    ):
        listing = (await response.json())["headends"]
    figures: list[Figure] = []
    async with HeadEndDirectory(control_url, concurrency=concurrency) as directory:
        per_headend: list[list[tuple[object, Target]]] = []
        for entry in listing:
            adapter = directory.for_smso(Eui64.parse(entry["smso"]))
            devices = found[entry["name"]]
            work = [(adapter, devices[i % len(devices)]) for i in range(reads)]
            per_headend.append(work)
            await measure("warm-up", work[: min(500, reads)], concurrency)
            label = f"{entry['cohort']} {entry['protocol']} (session limit {entry['sessionLimit']})"
            figures.append(await measure(label, work, concurrency))
        mixed = [item for group in zip(*per_headend, strict=True) for item in group]
        figures.append(await measure("all three at once", mixed, concurrency))
    return figures


def start_emulator(fleet_dir: Path, model_delays: bool) -> tuple[subprocess.Popen[str], str]:
    """An emulator process serving ``fleet_dir``; its control URL."""
    flag = "--model-delays" if model_delays else "--no-model-delays"
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(fleet_dir), flag],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("control: "):
        process.kill()
        raise SystemExit("the emulator did not start")
    return process, line.split(" ", 1)[1].strip()


def main(workdir: Path, installations: int, reads: int, concurrency: int) -> None:
    """Generate, serve, measure and print the figures side by side."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from bench.machine import describe
    from s1adopt.emulators.fleet import generate_fleet

    print(f"machine: {describe()}")
    fleet_dir = workdir / f"roundtrips-{installations}"
    shutil.rmtree(fleet_dir, ignore_errors=True)
    key = X25519PrivateKey.generate().public_key().public_bytes_raw()
    generate_fleet(fleet_dir, installations, 0.0, 1, key)
    found = targets(fleet_dir)
    print(f"{reads:,} identity reads per head end at concurrency {concurrency}\n")
    for model_delays in (False, True):
        process, control = start_emulator(fleet_dir, model_delays)
        try:
            figures = asyncio.run(run_all(control, found, reads, concurrency))
        finally:
            process.terminate()
            process.wait(timeout=30)
        print(f"device answer delays {'on' if model_delays else 'off'}:")
        print(f"  {'head end':<42} {'reads/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}")
        for f in figures:
            print(
                f"  {f.label:<42} {f.rate:>9,.0f} {f.p50_ms:>8.1f} {f.p99_ms:>8.1f} {f.failures:>7}"
            )
        print()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model-delays", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--workdir", type=Path, default=Path("bench/out"))
    parser.add_argument("--installations", type=int, default=3000)
    parser.add_argument("--reads", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=256)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.model_delays)
    else:
        main(args.workdir, args.installations, args.reads, args.concurrency)
