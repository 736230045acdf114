"""Fleets for the benchmarks, generated once per size and seed and kept in the work directory."""

from __future__ import annotations

from pathlib import Path

from s1adopt.adapters.keys.vault import Keyring
from s1adopt.emulators.fleet import generate_fleet


def keyring(workdir: Path) -> Keyring:
    """The benchmark service's keys."""
    return Keyring(workdir / "keys")


def ensure_fleet(
    workdir: Path, installations: int, seed: int = 1, fault_rate: float = 0.05
) -> Path:
    """The migration file of a fleet of that size (generated if absent)."""
    out = workdir / f"fleet-{installations}-{seed}"
    files = sorted((out / "migration").glob("*.xml")) if out.exists() else []
    if not files:
        generate_fleet(out, installations, fault_rate, seed, keyring(workdir).transport_public_key)
        files = sorted((out / "migration").glob("*.xml"))
    return files[0]


def fleet_dir(workdir: Path, installations: int, seed: int = 1, fault_rate: float = 0.05) -> Path:
    """The directory of that fleet (generated if absent)."""
    ensure_fleet(workdir, installations, seed, fault_rate)
    return workdir / f"fleet-{installations}-{seed}"
