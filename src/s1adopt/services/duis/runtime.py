"""The device service's background work, together: the head ends' queues, the scheduler and
the deliveries, until stopped.

Rules: the scheduler ticks every ``schedule_interval`` seconds; the head ends are told where
to push their alerts when the runtime starts (and told to stop when it stops); a failure of
one part is logged and that part carries on at its next turn, it never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from s1adopt.domain.identities import Eui64
from s1adopt.services.duis.delivery import Deliverer
from s1adopt.services.duis.device_ports import HeadEndAlerts
from s1adopt.services.duis.device_service import DeviceService
from s1adopt.services.duis.schedules import Scheduler

log = logging.getLogger(__name__)


@dataclass
class DeviceRuntime:
    """The parts of the device service that work in the background."""

    service: DeviceService
    deliverer: Deliverer
    scheduler: Scheduler
    smsos: Sequence[Eui64]
    alerts: HeadEndAlerts | None = None
    alert_url: str | None = None
    schedule_interval: float = 1.0

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set."""
        if self.alerts is not None and self.alert_url is not None:
            try:
                await self.alerts.register_alert_endpoint(self.alert_url)
            except Exception:
                log.exception("the head ends could not be told where to push alerts")
        tasks = [
            asyncio.create_task(self.service.run(self.smsos, stop)),
            asyncio.create_task(self.deliverer.run(stop)),
            asyncio.create_task(self._schedule(stop)),
        ]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, timeout=10)

    async def _schedule(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.scheduler.tick)
            except Exception:
                log.exception("a scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.schedule_interval)
