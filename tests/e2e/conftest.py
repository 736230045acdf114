"""End-to-end helpers: run the real CLI in subprocesses, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``s1adopt ARGS`` in ``cwd`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "s1adopt", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Emulator:
    """``s1adopt emulator serve`` running in a subprocess."""

    def __init__(self, fleet: Path, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "s1adopt", "emulator", "serve", str(fleet), "--port", "0"],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("control: "), (
            self.process.stderr.read() if self.process.stderr else ""
        )
        self.url = line.split(" ", 1)[1].strip()

    def stats(self, cwd: Path) -> dict[str, Any]:
        done = cli("emulator", "stats", "--headend", self.url, "--json", cwd=cwd)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def emulator_for() -> Iterator[Any]:
    started: list[Emulator] = []

    def start(fleet: Path, cwd: Path) -> Emulator:
        emulator = Emulator(fleet, cwd)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()
