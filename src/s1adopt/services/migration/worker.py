"""The migration worker: loads a chunk of installations and takes each through its steps.

Rules: the steps run in order (upgrade, test, commission, enrol), each handler committing its
transitions with the next work item (a deferred save commits with the chunk's next one, and
whatever is still deferred when the chunk's work ends commits then); a unit flows through the
following steps in memory without being read again. A handler must move every unit it is
given (a new step, or no more work); a unit it leaves where it was is a bug, reported as an
error rather than looped on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from s1adopt.services.migration.commission import CommissionStep
from s1adopt.services.migration.enrol import EnrolStep
from s1adopt.services.migration.steps import QUEUE, StepContext
from s1adopt.services.migration.testing import TestStep
from s1adopt.services.migration.upgrade import UpgradeStep
from s1adopt.services.ports import MigrationUnit


class StepHandler(Protocol):
    """One step of the migration."""

    step: str

    async def handle(self, units: Sequence[MigrationUnit]) -> None: ...


class MigrationWorker:
    """``services.ports.ChunkHandler`` for the migration queue."""

    def __init__(self, ctx: StepContext) -> None:
        self._ctx = ctx

    async def __call__(self, installation_ids: Sequence[int]) -> int:
        """Work on the installations until none has work left; how many finished."""
        ctx = self._ctx.for_chunk()  # chunks in flight at once defer their saves apart
        handlers: list[StepHandler] = [
            UpgradeStep(ctx),
            TestStep(ctx),
            CommissionStep(ctx),
            EnrolStep(ctx),
        ]
        with ctx.uow_factory() as uow:
            units = uow.migration.load_units(installation_ids, QUEUE)
        pending = [u for u in units if u.next_step is not None]
        while pending:
            for handler in handlers:
                group = [u for u in pending if u.next_step == handler.step]
                if group:
                    before = {u.installation_id: _position(u) for u in group}
                    await handler.handle(group)
                    stuck = [u for u in group if _position(u) == before[u.installation_id]]
                    if stuck:
                        raise RuntimeError(
                            f"step {handler.step} left installation "
                            f"{stuck[0].installation.reference} where it was"
                        )
            pending = [u for u in pending if u.next_step is not None]
        ctx.save([])  # what is still deferred
        return len(units)


def _position(unit: MigrationUnit) -> tuple[str, str | None]:
    return (str(unit.installation.state), unit.next_step)
