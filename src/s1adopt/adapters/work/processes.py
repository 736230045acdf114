"""The process-pool work engine: several worker processes on one machine share a queue.

Rules: ``count`` child processes (``s1adopt work-drain``) each drain the subjects whose id
modulo ``count`` is their index, with the parent's settings; the parent shows progress from
the store and, when they are done, drains whatever is left in its own process (work a failed
child left behind), so the crash-safety rules hold unchanged. Children die with the parent
(PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys

from s1adopt.adapters.work.inprocess import InProcessEngine
from s1adopt.config import Settings
from s1adopt.services.ports import ChunkHandler, Progress

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


class ProcessPoolEngine:
    """``services.ports.WorkEngine`` over ``count`` worker processes, then this one."""

    def __init__(
        self, settings: Settings, count: int, headend_url: str, local: InProcessEngine
    ) -> None:
        self._settings, self._count, self._headend = settings, count, headend_url
        self._local = local
        self.failures: list[str] = []

    async def drain(
        self, queue: str, handler: ChunkHandler, progress: Progress | None = None
    ) -> None:
        """Run the children to completion, then finish what is left here."""
        env = settings_environment(self._settings)
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "s1adopt",
                    "work-drain",
                    "--queue",
                    queue,
                    "--partition",
                    str(index),
                    "--of",
                    str(self._count),
                    "--headend",
                    self._headend,
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=_die_with_parent,
            )
            for index in range(self._count)
        ]
        remaining = self._local.pending(queue)
        if progress:
            progress.start(f"working ({self._count} processes)", remaining)
        while any(p.poll() is None for p in processes):
            await asyncio.sleep(0.5)
            now = self._local.pending(queue)
            if progress and now < remaining:
                progress.advance(remaining - now)
            remaining = min(remaining, now)
        for index, process in enumerate(processes):
            _, errors = process.communicate()
            if process.returncode != 0:
                tail = (errors or "").strip().splitlines()[-3:]
                self.failures.append(
                    f"worker {index} exited {process.returncode}: {' | '.join(tail)}"
                )
        await self._local.drain(queue, handler, None)
        if progress and remaining:
            progress.advance(remaining)
