"""The in-process work engine: drains a queue from the store with async chunk handlers.

Rules: subjects are taken in id order in chunks; up to ``chunks_in_flight`` chunks are worked
on at once (each a disjoint set of subjects, so one chunk's database work overlaps another's
device traffic); a pass ends when no subject above the last one taken has work, and passes
repeat while a pass found work. A handler that raises ends the drain (the committed work
stays committed; what was not committed runs again next time).
"""

from __future__ import annotations

import asyncio

from s1adopt.services.ports import ChunkHandler, Partition, Progress, UnitOfWorkFactory


class InProcessEngine:
    """``services.ports.WorkEngine`` in this process, on the store's work queue."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        chunk_size: int = 500,
        chunks_in_flight: int = 3,
        partition: Partition | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._chunk, self._in_flight = chunk_size, chunks_in_flight
        self._partition = partition

    def pending(self, queue: str) -> int:
        """How many subjects of the queue (in this engine's partition) have work."""
        with self._uow_factory() as uow:
            return uow.work.count(queue, self._partition)

    async def drain(
        self, queue: str, handler: ChunkHandler, progress: Progress | None = None
    ) -> None:
        """Work until no subject of the queue (in this engine's partition) has work."""
        if progress:
            progress.start(f"working ({queue})", self.pending(queue))
        while await self._one_pass(queue, handler, progress):
            pass

    async def _one_pass(self, queue: str, handler: ChunkHandler, progress: Progress | None) -> bool:
        in_flight: set[asyncio.Task[int]] = set()
        try:
            return await self._pass(queue, handler, progress, in_flight)
        finally:
            # A failure ends the drain like a dying process: the other chunks stop where they
            # are (their uncommitted work rolls back) rather than run on unobserved.
            for task in in_flight:
                task.cancel()
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def _pass(
        self,
        queue: str,
        handler: ChunkHandler,
        progress: Progress | None,
        in_flight: set[asyncio.Task[int]],
    ) -> bool:
        after_id, worked = 0, False
        while True:
            with self._uow_factory() as uow:
                ids = uow.work.due(queue, self._chunk, after_id, self._partition)
            if ids:
                worked = True
                after_id = ids[-1]
                in_flight.add(asyncio.create_task(_call(handler, ids)))
            if not in_flight:
                return worked
            if ids and len(in_flight) < self._in_flight:
                continue
            done, _ = await asyncio.wait(
                in_flight,
                return_when=asyncio.FIRST_COMPLETED if ids else asyncio.ALL_COMPLETED,
            )
            in_flight.difference_update(done)
            for task in done:
                finished = task.result()  # a failure propagates; commits stay committed
                if progress:
                    progress.advance(finished)


async def _call(handler: ChunkHandler, ids: list[int]) -> int:
    return await handler(ids)
