"""The device service in a process of its own (``gateway serve --workers N`` with N > 1:
the HTTP workers accept and acknowledge, this process works the queues and delivers)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from s1adopt.bootstrap import Application
from s1adopt.config import Settings


def background_for(
    application: Application,
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """The device service's background work, on the configured head ends, until stopped;
    head ends push their alerts to this gateway's ``/internal/headend-alerts``."""
    settings = application.settings
    host = settings.gateway_host
    if host in ("0.0.0.0", "::"):  # noqa: S104 - listening everywhere: reach it on loopback
        host = "127.0.0.1"
    alert_url = f"http://{host}:{settings.gateway_port}/internal/headend-alerts"

    async def background(stop: asyncio.Event) -> None:
        async with (
            application.headend_directory(settings.headend_url) as headends,
            application.response_endpoint() as endpoint,
        ):
            await application.device_runtime(headends, endpoint, alert_url).run(stop)

    return background


def stop_on_signals() -> asyncio.Event:
    """An event the running loop sets on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


def run_device_service() -> None:
    """Run the device service's background work until SIGTERM or SIGINT."""
    work = background_for(Application(Settings()))

    async def main() -> None:
        await work(stop_on_signals())

    asyncio.run(main())
