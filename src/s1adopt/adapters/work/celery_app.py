"""The Celery application on RabbitMQ, and the chunk task its workers run.

Rules:
- one durable queue (``WORK_QUEUE``, or the configured one); messages are persistent and
  publishing waits for the broker's confirmation; a worker takes one message per thread at a
  time and acknowledges it only when the chunk is done (acks late), so a message whose worker
  dies or loses its connection goes to another worker;
- a chunk task is idempotent: it works only on the items it can hold (``WorkClaims``), and a
  subject's steps move on only with its committed state, so running a chunk twice, or two
  copies at once, changes nothing;
- a worker's chunks run on one event loop (a thread of the worker process) shared by its
  task threads, with one head-end directory per control address for the life of the process;
- one head end never takes more than ``per_group`` of a worker's threads: a chunk of a head
  end at its limit goes back to the queue, so a slow head end never starves the others.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack

from celery import Celery, Task
from celery.signals import worker_shutdown

from s1adopt.adapters.work.claims import WorkClaims, process_name
from s1adopt.services.ports import ChunkHandler

log = logging.getLogger(__name__)

WORK_QUEUE = "s1adopt.work"
CHUNK_TASK = "s1adopt.work.chunk"

HandlerOpener = Callable[[str], AbstractAsyncContextManager[ChunkHandler]]


def make_celery(broker_url: str, queue: str = WORK_QUEUE) -> Celery:
    """The application: durable queue, persistent messages, late acknowledgement, no results."""
    app = Celery("s1adopt", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        # after a reconnection Celery would restore the prefetch count from a task thread's
        # acknowledgement, on the connection the consumer thread reads: with the thread pool
        # the two deadlock (seen after a broker restart); the prefetch count stays as it is
        worker_enable_prefetch_count_reduction=False,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_transport_options={"confirm_publish": True},
        task_publish_retry_policy={"max_retries": 30, "interval_start": 0.5, "interval_step": 1},
    )
    return app


class ChunkRunner:
    """Runs chunk tasks of one worker process on its event loop (see the module rules)."""

    def __init__(self, claims: WorkClaims, open_handler: HandlerOpener, per_group: int) -> None:
        self._claims, self._open_handler = claims, open_handler
        self._per_group = per_group
        self._name = process_name()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="s1adopt-chunks", daemon=True
        )
        self._thread.start()
        self._handlers: dict[str, ChunkHandler] = {}
        self._opening = asyncio.Lock()  # the task threads' first chunks arrive at once
        self._stack = AsyncExitStack()
        self._running: Counter[str] = Counter()
        self._admission = threading.Lock()
        _RUNNERS.append(self)

    def admit(self, group: str) -> bool:
        """Whether a chunk of ``group`` may start now; if so, it counts until ``done``."""
        with self._admission:
            if self._running[group] >= self._per_group:
                return False
            self._running[group] += 1
            return True

    def done(self, group: str) -> None:
        """A chunk of ``group`` has finished."""
        with self._admission:
            self._running[group] -= 1

    def run(self, queue: str, ids: list[int], headend: str) -> int:
        """Work on the chunk (blocking this task thread); how many subjects it finished."""
        return asyncio.run_coroutine_threadsafe(
            self._work(queue, ids, headend), self._loop
        ).result()

    def close(self) -> None:
        """Close the head-end directories and stop the loop."""
        asyncio.run_coroutine_threadsafe(self._stack.aclose(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _handler(self, headend: str) -> ChunkHandler:
        """The handler on ``headend``'s directory, opened once for the process's life."""
        async with self._opening:
            handler = self._handlers.get(headend)
            if handler is None:
                handler = await self._stack.enter_async_context(self._open_handler(headend))
                self._handlers[headend] = handler
            return handler

    async def _work(self, queue: str, ids: list[int], headend: str) -> int:
        handler = await self._handler(headend)
        holder = f"{self._name}/{secrets.token_hex(4)}"
        held = await asyncio.to_thread(self._claims.claim, queue, ids, holder)
        log.info("chunk of %d (%s): %d held by %s", len(ids), queue, len(held), holder)
        if not held:
            return 0
        work = asyncio.ensure_future(handler(held))
        keeper = asyncio.ensure_future(self._keep(queue, holder))
        try:
            done, _ = await asyncio.wait({work, keeper}, return_when=asyncio.FIRST_COMPLETED)
            if work not in done:  # the hold could not be kept: stop before anyone else starts
                work.cancel()
                await asyncio.gather(work, return_exceptions=True)
                keeper.result()
            return work.result()
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            await asyncio.to_thread(self._claims.release, queue, held, holder)

    async def _keep(self, queue: str, holder: str) -> None:
        """Renew the hold every third of its life; give up (raise) when it has run out."""
        every = self._claims.ttl / 3
        deadline = time.monotonic() + self._claims.ttl
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(self._claims.renew, queue, holder)
                deadline = time.monotonic() + self._claims.ttl
            except Exception:
                log.exception("the hold on a chunk could not be renewed")
                if time.monotonic() > deadline - every:
                    raise RuntimeError("the hold on a chunk ran out; the chunk stops") from None


_RUNNERS: list[ChunkRunner] = []  # made in this process, closed when its worker stops


@worker_shutdown.connect
def _close_runners(**_: object) -> None:
    """A worker stopping gives its head-end sessions back at once (not when leases run out)."""
    while _RUNNERS:
        try:
            _RUNNERS.pop().close()
        except Exception:
            log.exception("a chunk runner did not close cleanly")


def register_chunk_task(app: Celery, runner: Callable[[], ChunkRunner]) -> None:
    """Register the chunk task; ``runner()`` gives this process's ``ChunkRunner``."""

    @app.task(
        name=CHUNK_TASK,
        bind=True,
        acks_late=True,
        reject_on_worker_lost=True,
        max_retries=None,
        ignore_result=True,
    )
    def work_chunk(
        self: Task[..., int], queue: str, ids: list[int], headend: str, group: str
    ) -> int:
        """Work on one chunk of ``queue`` (the subjects ``ids``, one head end's)."""
        chunks = runner()
        if not chunks.admit(group):
            time.sleep(0.2)  # this head end has its share of the threads: back of the queue
            raise self.retry(countdown=0)
        try:
            return chunks.run(queue, ids, headend)
        finally:
            chunks.done(group)
