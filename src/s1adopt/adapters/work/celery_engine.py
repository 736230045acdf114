"""The distributed work engine: hands a queue's work to Celery workers and waits for it.

Rules:
- the store's work queue stays the truth; a message only says "work on these subjects";
- the engine publishes the queue's unheld subjects in chunks of one head end each
  (``chunk_size``), head ends in turn, and waits until no subject has work;
- work nobody holds ``grace`` seconds after it was last published, while the broker's queue
  is empty, is published again: a message lost with a broker, or work a failed chunk left,
  is never waited on for ever; copies are harmless (chunks are idempotent);
- the handler given to ``drain`` is not used: the workers build their own from their
  settings (the same store and keys) and the head ends' control address sent with the work;
- while no worker consumes from the queue the engine says so every ``hint_every`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from celery import Celery

from s1adopt.adapters.work.celery_app import CHUNK_TASK
from s1adopt.adapters.work.claims import WorkClaims
from s1adopt.services.ports import ChunkHandler, Progress

log = logging.getLogger(__name__)


class CeleryEngine:
    """``services.ports.WorkEngine`` over Celery workers (see the module rules)."""

    def __init__(
        self,
        app: Celery,
        claims: WorkClaims,
        headend_url: str,
        chunk_size: int = 100,
        poll: float = 0.5,
        grace: float = 5.0,
        hint_every: float = 15.0,
    ) -> None:
        self._app, self._claims, self._headend = app, claims, headend_url
        self._queue = str(app.conf.task_default_queue)
        self._chunk, self._poll, self._grace, self._hint_every = chunk_size, poll, grace, hint_every
        self.published = 0

    async def drain(
        self, queue: str, handler: ChunkHandler, progress: Progress | None = None
    ) -> None:
        """Publish the queue's work and wait until no subject has any."""
        del handler  # the workers have their own (see the module rules)
        remaining = await asyncio.to_thread(self._claims.remaining, queue)
        if progress:
            progress.start(f"working ({queue}, Celery workers)", remaining)
        published_at: dict[int, float] = {}
        last_hint = time.monotonic()
        while remaining:
            backlog = await asyncio.to_thread(self._broker_backlog)
            now = time.monotonic()
            if not published_at or (backlog is not None and backlog[0] == 0):
                stale = [
                    (subject, group)
                    for subject, group in await asyncio.to_thread(self._claims.unheld, queue)
                    if now - published_at.get(subject, -1e9) > self._grace
                ]
                if stale:
                    sent = await asyncio.to_thread(self._publish, queue, stale)
                    published_at.update((subject, now) for subject in sent)
            if backlog is not None and backlog[1] == 0 and now - last_hint > self._hint_every:
                log.warning(
                    "no worker takes work from %s: start one with `s1adopt worker` "
                    "(same S1ADOPT_DATABASE_URL and S1ADOPT_BROKER_URL)",
                    self._queue,
                )
                last_hint = now
            await asyncio.sleep(self._poll)
            now_remaining = await asyncio.to_thread(self._claims.remaining, queue)
            if progress and now_remaining < remaining:
                progress.advance(remaining - now_remaining)
            remaining = now_remaining

    def _publish(self, queue: str, subjects: list[tuple[int, str]]) -> list[int]:
        """Publish the subjects in chunks; those published (a broker going away mid-way
        leaves the rest for the next turn)."""
        sent: list[int] = []
        for group, ids in _interleaved(subjects, self._chunk):
            try:
                self._app.send_task(
                    CHUNK_TASK,
                    args=[queue, ids, self._headend, group],
                    queue=self._queue,
                    retry=True,
                )
            except Exception as exc:
                log.warning("work could not be published (%s); trying again shortly", exc)
                break
            sent.extend(ids)
            self.published += 1
        return sent

    def _broker_backlog(self) -> tuple[int, int] | None:
        """(messages waiting, consumers) of the work queue; None while the broker is away."""
        try:
            with self._app.connection_for_read() as connection:
                queue = self._app.amqp.queues[self._queue].bind(connection.default_channel)
                declared: Any = queue.queue_declare()  # (name, messages, consumers)
                return int(declared[1]), int(declared[2])
        except Exception as exc:  # the broker restarting: wait, the workers reconnect
            log.warning("the broker cannot be asked about %s: %s", self._queue, exc)
            return None


def _interleaved(subjects: list[tuple[int, str]], size: int) -> Iterator[tuple[str, list[int]]]:
    """Chunks of ``size`` subjects of one group each, taking the groups in turn."""
    by_group: dict[str, list[int]] = defaultdict(list)
    for subject, group in subjects:
        by_group[group].append(subject)
    chunks = {
        group: [ids[i : i + size] for i in range(0, len(ids), size)]
        for group, ids in sorted(by_group.items())
    }
    turn = 0
    while any(turn < len(c) for c in chunks.values()):
        for group, group_chunks in chunks.items():
            if turn < len(group_chunks):
                yield group, group_chunks[turn]
        turn += 1
