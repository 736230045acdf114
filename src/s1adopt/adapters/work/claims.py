"""Work items held by the workers of a distributed engine while they work on them.

Rules: a worker holds the items of a chunk for ``ttl`` seconds and renews the hold while it
works; items it still holds are let go when it stops (work left is taken up again); a worker
that dies lets go when its hold runs out. Two holders never hold one item (see
``StoreWorkQueue.claim``). Each call is its own short transaction.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, or_, select

from s1adopt.adapters.db import tables as t
from s1adopt.adapters.work.store_queue import StoreWorkQueue


def process_name() -> str:
    """This process's name among a cluster's holders: host, pid and a random tag."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"


class WorkClaims:
    """Holds on work items, on the store."""

    def __init__(self, engine: Engine, ttl: float) -> None:
        if ttl < 3:
            raise ValueError(f"a work hold of {ttl}s is too short (at least 3 s)")
        self._engine, self.ttl = engine, ttl

    def claim(self, queue: str, subject_ids: Sequence[int], holder: str) -> list[int]:
        """Hold what nobody else holds of the subjects; the subjects ``holder`` holds."""
        now = datetime.now(UTC)
        with self._engine.begin() as c:
            return StoreWorkQueue(c).claim(
                queue, subject_ids, holder, now, now + timedelta(seconds=self.ttl)
            )

    def renew(self, queue: str, holder: str) -> datetime:
        """Renew ``holder``'s holds; until when they now last."""
        until = datetime.now(UTC) + timedelta(seconds=self.ttl)
        with self._engine.begin() as c:
            StoreWorkQueue(c).extend(queue, holder, until)
        return until

    def release(self, queue: str, subject_ids: Sequence[int], holder: str) -> None:
        """Let go of ``holder``'s holds on the subjects (those that still have work)."""
        with self._engine.begin() as c:
            StoreWorkQueue(c).unclaim(queue, subject_ids, holder)

    def remaining(self, queue: str) -> int:
        """How many subjects of the queue have work."""
        with self._engine.begin() as c:
            return StoreWorkQueue(c).count(queue)

    def unheld(self, queue: str) -> list[tuple[int, str]]:
        """Subjects with work that nobody holds, with their head end's SMSO (the group a
        chunk is made of; empty for subjects that are not installations), in id order."""
        wi, inst = t.work_item, t.installation
        now = datetime.now(UTC)
        with self._engine.begin() as c:
            rows = c.execute(
                select(wi.c.subject_id, inst.c.smso)
                .select_from(wi.outerjoin(inst, inst.c.id == wi.c.subject_id))
                .where(
                    wi.c.queue == queue,
                    or_(wi.c.claimed_by.is_(None), wi.c.claimed_until < now),
                )
                .order_by(wi.c.subject_id)
            )
            return [(int(r[0]), str(r[1] or "")) for r in rows]
