"""The durable work queue on the store: one ``work_item`` row per (queue, subject).

Items are written on the unit of work's connection, so they commit or roll back with the
state change that asks for them (the outbox rule of DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update

from s1adopt.adapters.db import tables as t
from s1adopt.services.ports import Partition

IN_CHUNK = 500


class StoreWorkQueue:
    """``services.ports.WorkQueue`` on one open connection (inside a transaction)."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def put(self, queue: str, items: Sequence[tuple[int, str]], at: datetime) -> None:
        """Set each (subject, step): update existing items, insert the others."""
        if not items:
            return
        wi = t.work_item
        ids = [subject for subject, _ in items]
        existing: set[int] = set()
        for start in range(0, len(ids), IN_CHUNK):
            existing.update(
                self._c.execute(
                    select(wi.c.subject_id).where(
                        wi.c.queue == queue, wi.c.subject_id.in_(ids[start : start + IN_CHUNK])
                    )
                ).scalars()
            )
        moved = [{"b_id": s, "b_step": step} for s, step in items if s in existing]
        added = [
            {"queue": queue, "subject_id": s, "step": step, "created_at": at}
            for s, step in items
            if s not in existing
        ]
        if moved:
            self._c.execute(
                update(wi)
                .where(wi.c.queue == queue, wi.c.subject_id == bindparam("b_id"))
                .values(step=bindparam("b_step")),
                moved,
            )
        if added:
            self._c.execute(insert(wi), added)

    def move(self, queue: str, items: Sequence[tuple[int, str]], at: datetime) -> None:
        """``put`` that first updates in one statement; only when fewer items than given were
        there (or the driver cannot say) does it look which ones to add."""
        if not items:
            return
        wi = t.work_item
        result = self._c.execute(
            update(wi)
            .where(wi.c.queue == queue, wi.c.subject_id == bindparam("b_id"))
            .values(step=bindparam("b_step")),
            [{"b_id": s, "b_step": step} for s, step in items],
        )
        if not self._c.dialect.supports_sane_multi_rowcount or result.rowcount != len(items):
            self.put(queue, items, at)

    def finish(self, queue: str, subject_ids: Sequence[int]) -> None:
        """Remove the subjects' items."""
        wi = t.work_item
        ids = list(subject_ids)
        for start in range(0, len(ids), IN_CHUNK):
            self._c.execute(
                delete(wi).where(
                    wi.c.queue == queue, wi.c.subject_id.in_(ids[start : start + IN_CHUNK])
                )
            )

    def due(
        self, queue: str, limit: int, after_id: int, partition: Partition | None = None
    ) -> list[int]:
        """Up to ``limit`` subjects with work above ``after_id``, in id order."""
        wi = t.work_item
        rows = self._c.execute(
            select(wi.c.subject_id)
            .where(*_filter(queue, partition), wi.c.subject_id > after_id)
            .order_by(wi.c.subject_id)
            .limit(limit)
        )
        return [r[0] for r in rows]

    def count(self, queue: str, partition: Partition | None = None) -> int:
        """How many subjects of the queue (and partition) have work."""
        return int(
            self._c.execute(
                select(func.count()).select_from(t.work_item).where(*_filter(queue, partition))
            ).scalar_one()
        )

    def claim(
        self, queue: str, subject_ids: Sequence[int], holder: str, now: datetime, until: datetime
    ) -> list[int]:
        """Hold the subjects' items for ``holder`` until ``until``, where no other holder has
        them (or its hold has run out); the subjects ``holder`` now holds, in id order.

        Rule: on PostgreSQL a concurrent claim of the same rows waits for this one's commit
        and then finds them held, so two holders never hold one item."""
        wi = t.work_item
        ids = sorted(subject_ids)
        held: list[int] = []
        for start in range(0, len(ids), IN_CHUNK):
            part = ids[start : start + IN_CHUNK]
            self._c.execute(
                update(wi)
                .where(
                    wi.c.queue == queue,
                    wi.c.subject_id.in_(part),
                    or_(
                        wi.c.claimed_by.is_(None),
                        wi.c.claimed_by == holder,
                        wi.c.claimed_until < now,
                    ),
                )
                .values(claimed_by=holder, claimed_until=until)
            )
            held.extend(
                self._c.execute(
                    select(wi.c.subject_id)
                    .where(
                        wi.c.queue == queue, wi.c.subject_id.in_(part), wi.c.claimed_by == holder
                    )
                    .order_by(wi.c.subject_id)
                ).scalars()
            )
        return held

    def extend(self, queue: str, holder: str, until: datetime) -> int:
        """Move ``holder``'s holds on the queue's items to ``until``; how many it holds."""
        wi = t.work_item
        result = self._c.execute(
            update(wi)
            .where(wi.c.queue == queue, wi.c.claimed_by == holder)
            .values(claimed_until=until)
        )
        return result.rowcount

    def unclaim(self, queue: str, subject_ids: Sequence[int], holder: str) -> None:
        """Let go of ``holder``'s holds on the subjects' items (those still with work)."""
        wi = t.work_item
        ids = list(subject_ids)
        for start in range(0, len(ids), IN_CHUNK):
            self._c.execute(
                update(wi)
                .where(
                    wi.c.queue == queue,
                    wi.c.subject_id.in_(ids[start : start + IN_CHUNK]),
                    wi.c.claimed_by == holder,
                )
                .values(claimed_by=None, claimed_until=None)
            )


def _filter(queue: str, partition: Partition | None) -> list[Any]:
    """Items of the queue; with a partition (index, count), only subjects whose id modulo
    ``count`` is ``index``, so workers share the work without overlap."""
    wi = t.work_item
    conditions: list[Any] = [wi.c.queue == queue]
    if partition is not None:
        index, count = partition
        conditions.append(wi.c.subject_id % count == index)
    return conditions
