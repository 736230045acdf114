"""Migration by several worker processes on one machine, each owning a partition of the work.

Rules: the parent takes the files in, then starts ``workers`` processes of
``s1adopt migrate-worker``, each working the installations whose id modulo ``workers`` is its
index, with the parent's settings; the parent shows progress from the store. Workers die with
the parent (PR_SET_PDEATHSIG), and whatever a failed worker left is finished by the parent's
own pipeline afterwards, so the crash-safety rules of the pipeline hold unchanged.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from s1adopt.config import Settings
from s1adopt.services.ports import Progress

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def settings_environment(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process the same settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"S1ADOPT_{name.upper()}"] = str(value)
    return env


def run_workers(
    settings: Settings,
    batch_ids: list[int],
    headend: str,
    pending: Callable[[], int],
    progress: Progress | None,
) -> list[str]:
    """Run the worker processes to completion; the error texts of those that failed."""
    count = settings.workers
    env = settings_environment(settings)
    batches = [arg for b in batch_ids for arg in ("--batch", str(b))]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "s1adopt",
                "migrate-worker",
                *batches,
                "--partition",
                str(index),
                "--of",
                str(count),
                "--headend",
                headend,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_die_with_parent,
        )
        for index in range(count)
    ]
    remaining = pending()
    if progress:
        progress.start(f"migrating ({count} workers)", remaining)
    while any(p.poll() is None for p in processes):
        time.sleep(0.5)
        now = pending()
        if progress and now < remaining:
            progress.advance(remaining - now)
        remaining = min(remaining, now)
    failures = []
    for index, process in enumerate(processes):
        _, errors = process.communicate()
        if process.returncode != 0:
            tail = (errors or "").strip().splitlines()[-3:]
            failures.append(f"worker {index} exited {process.returncode}: {' | '.join(tail)}")
    return failures
