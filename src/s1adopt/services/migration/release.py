"""Releasing installations into migration work: an attempt begins.

Rules: an installation is released when it is ready (``MigrationRepository.releasable``:
authorised, not blocked, valid, of the given batches or scheduled on or before the day, a
failed one only when its retry is due); releasing counts the attempt and queues its first
step (``upgrade``) in the same transaction, before any device is contacted. A retry must be
scheduled again to be released again (its schedule is used up by the release).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from s1adopt.domain.installation import MigrationState
from s1adopt.services.migration.steps import QUEUE, Step
from s1adopt.services.ports import Clock, UnitOfWorkFactory

RELEASE_CHUNK = 1000


def release_ready(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    *,
    batch_ids: Sequence[int] | None = None,
    day: date | None = None,
    actor: str = "retry rules",
) -> int:
    """Begin an attempt for every ready installation; how many were released."""
    after_id, released = 0, 0
    while True:
        with uow_factory() as uow:
            ids = uow.migration.releasable(
                batch_ids=batch_ids, day=day, limit=RELEASE_CHUNK, after_id=after_id
            )
            if not ids:
                return released
            units = uow.migration.load_installations(ids)
            now = clock.now()
            for unit in units:
                if unit.installation.state is MigrationState.FAILED:
                    unit.installation.retry(now, actor)
                unit.installation.begin_attempt(now)
                unit.next_step = Step.UPGRADE
            uow.migration.save_units(units, now)
            uow.migration.clear_schedule(ids)
            uow.work.put(QUEUE, [(u.installation_id, Step.UPGRADE) for u in units], now)
            uow.commit()
        after_id, released = ids[-1], released + len(ids)
