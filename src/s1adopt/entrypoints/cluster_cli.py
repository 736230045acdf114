"""The processes of a cluster: ``s1adopt worker`` (Celery) and ``s1adopt scheduler`` (the
device service's background work, one process at a time)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Protocol

import typer
from rich.console import Console

from s1adopt.entrypoints.api.device_process import background_for, stop_on_signals
from s1adopt.entrypoints.errors import guard
from s1adopt.entrypoints.options import DbOption, application_for

err = Console(stderr=True)
SCHEDULER_LOCK = "device-runtime"


def register(app: typer.Typer) -> None:
    """Add the cluster's process commands to ``app``."""
    app.command("worker")(worker)
    app.command("scheduler")(scheduler)


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(help="Chunks worked on at once (default S1ADOPT_WORKER_CONCURRENCY or 4)"),
    ] = None,
    loglevel: Annotated[str, typer.Option(help="Celery's log level")] = "WARNING",
    db: DbOption = None,
) -> None:
    """Run a Celery worker of the migration (needs S1ADOPT_BROKER_URL and a database all
    workers share, e.g. S1ADOPT_DATABASE_URL=postgresql://...); until stopped."""
    application = application_for(db)
    if concurrency is not None:
        if not 1 <= concurrency <= 256:
            err.print(f"[red]error:[/red] --concurrency {concurrency} is not 1 to 256")
            raise typer.Exit(2)
        application.settings = application.settings.model_copy(
            update={"worker_concurrency": concurrency}
        )
    if not application.settings.broker_url:
        err.print(
            "[red]error:[/red] S1ADOPT_BROKER_URL is not set: set it to RabbitMQ's amqp:// URL "
            "(scripts/rabbitmq-up.sh starts one and prints it)"
        )
        raise typer.Exit(2)
    guard(lambda: application.run_worker(loglevel.upper()))


def scheduler(
    headend: Annotated[
        str | None,
        typer.Option(help="Control address of the head ends (default S1ADOPT_HEADEND_URL)"),
    ] = None,
    db: DbOption = None,
) -> None:
    """Run the device service's background work (device commands, future-dated requests,
    schedules, response delivery) while this process holds the cluster's scheduler lock;
    others stand by and take over when it dies. Until SIGTERM or SIGINT."""
    application = application_for(db)
    if headend:
        application.settings = application.settings.model_copy(update={"headend_url": headend})
    lock = guard(lambda: application.singleton_lock(SCHEDULER_LOCK))
    work = background_for(application)

    async def main() -> None:
        stop = stop_on_signals()
        announced = False
        while not stop.is_set():
            if await asyncio.to_thread(lock.acquire):
                err.print(f"scheduler {lock.holder}: holding the lock; working")
                await _work_while_held(work, lock, stop)
                announced = False
            elif not announced:
                err.print(f"scheduler {lock.holder}: another scheduler works; standing by")
                announced = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=lock.ttl / 3)
        await asyncio.to_thread(lock.release)

    guard(lambda: asyncio.run(main()))


class _Lock(Protocol):
    holder: str
    ttl: float

    def renew(self) -> bool: ...


async def _work_while_held(
    work: Callable[[asyncio.Event], Coroutine[Any, Any, None]], lock: _Lock, stop: asyncio.Event
) -> None:
    """Work until ``stop``, or until the lock is lost or cannot be renewed before a third of
    its lease is left (then the work stops before anyone else can take over)."""
    halt = asyncio.Event()
    task = asyncio.create_task(work(halt))
    deadline = time.monotonic() + lock.ttl
    try:
        while not stop.is_set() and not task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=lock.ttl / 6)
            try:
                if not await asyncio.to_thread(lock.renew):
                    err.print(f"scheduler {lock.holder}: lost the lock; stopping work")
                    break
                deadline = time.monotonic() + lock.ttl
            except Exception as exc:
                err.print(f"scheduler {lock.holder}: the lock could not be renewed: {exc}")
                if time.monotonic() > deadline - lock.ttl / 3:
                    err.print(f"scheduler {lock.holder}: the lease runs out; stopping work")
                    break
    finally:
        halt.set()
        await task
