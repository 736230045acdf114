"""Step ``enrol``: the meter points of a commissioned installation become Enrolled.

Rule: the DCC Service Flag of every meter point the migration adopted (``domain.meter_points
.enrolled_by_migration``: the MPAN alone under GT01) becomes Enrolled, each change recorded
for the registration status file; then the installation's migration work is done.
Commissioning enrols in its own commit (``enrol``); the step is for work stored at ``enrol``.
"""

from __future__ import annotations

from collections.abc import Sequence

from s1adopt.domain.installation import MigrationState
from s1adopt.domain.meter_points import MeterPointKind, enrolled_by_migration
from s1adopt.services.migration.steps import Step, StepContext
from s1adopt.services.ports import MigrationUnit

_ALL_KINDS = frozenset(MeterPointKind)


def enrol(unit: MigrationUnit) -> None:
    """Mark a commissioned unit's adopted meter points for enrolment; its work is done."""
    if unit.installation.state is MigrationState.COMMISSIONED:
        unit.enrol = enrolled_by_migration(_ALL_KINDS, unit.installation.electricity_only)
    unit.next_step, unit.changed = None, True


class EnrolStep:
    """Handler of the ``enrol`` step."""

    step = Step.ENROL

    def __init__(self, ctx: StepContext) -> None:
        self._ctx = ctx

    async def handle(self, units: Sequence[MigrationUnit]) -> None:
        """Enrol the units' meter points and finish their work."""
        for unit in units:
            enrol(unit)
        self._ctx.save(units)
