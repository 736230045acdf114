"""Operator and supplier actions on one installation: retry, block, unblock, reschedule.

Rules:
- the actor is the operator (``operator``) or a supplier's EUI-64; a supplier may act only on
  installations whose meter points it is responsible for on the registration data in force
  that day (else ``PermissionDenied``); every action is recorded in the installation's
  history with its actor;
- ``retry`` makes a failed installation ready for another attempt now (the programme
  schedules it; ``migrate`` of its file releases it); an excluded, commissioned or
  in-progress installation cannot be retried;
- a blocked installation is neither scheduled nor released until unblocked;
- a schedule can be cancelled or moved only before its cut-off (``cutoff_days`` before its
  day), and moved only into a day whose allocation for the party and cohort has room.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from s1adopt.domain.errors import IllegalTransition, InvalidRequest, NotFound, PermissionDenied
from s1adopt.domain.identities import Eui64
from s1adopt.domain.installation import OPERATOR, StateChange
from s1adopt.services.ports import Clock, MigrationUnit, UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What an action did, for the command line."""

    reference: str
    state: str
    message: str


@dataclass
class InstallationAdmin:
    """The actions of the module rules."""

    uow_factory: UnitOfWorkFactory
    clock: Clock
    cutoff_days: int = 1

    def retry(self, identifier: str, actor: str = OPERATOR) -> ActionResult:
        """Make a failed installation ready for another attempt."""
        with self.uow_factory() as uow:
            unit = self._find(uow, identifier, actor)
            try:
                unit.installation.retry(self.clock.now(), actor)
            except IllegalTransition as exc:
                raise InvalidRequest(str(exc)) from exc
            uow.migration.save_units([unit], self.clock.now())
            uow.commit()
        return ActionResult(
            unit.installation.reference, str(unit.installation.state), "ready for another attempt"
        )

    def set_blocked(
        self, identifier: str, blocked: bool, actor: str = OPERATOR, note: str = ""
    ) -> ActionResult:
        """Block or unblock an installation for migration."""
        with self.uow_factory() as uow:
            unit = self._find(uow, identifier, actor)
            try:
                unit.installation.set_blocked(blocked, actor, note, self.clock.now())
            except IllegalTransition as exc:
                raise InvalidRequest(str(exc)) from exc
            uow.migration.save_units([unit], self.clock.now())
            uow.commit()
        what = "blocked for migration" if blocked else "unblocked"
        return ActionResult(unit.installation.reference, str(unit.installation.state), what)

    def reschedule(self, identifier: str, day: date | None, actor: str = OPERATOR) -> ActionResult:
        """Move an installation's schedule to ``day``, or cancel it (``day`` None)."""
        today = self.clock.now().date()
        with self.uow_factory() as uow:
            unit = self._find(uow, identifier, actor)
            current = uow.programme.scheduled_day(unit.installation_id)
            if current is None:
                raise InvalidRequest(f"{unit.installation.reference} is not scheduled")
            self._check_cutoff(current, today, "its")
            if day is None:
                uow.programme.unschedule(unit.installation_id)
                uow.programme.count_scheduled(unit.installation_id, current, -1)
                message = f"schedule for {current} cancelled"
            else:
                self._check_cutoff(day, today, "the new")
                if not uow.programme.count_scheduled(unit.installation_id, day, +1):
                    raise InvalidRequest(
                        f"{day} has no allocation left for this party and cohort; choose a day "
                        "with room (see `s1adopt report allocation`)"
                    )
                uow.programme.count_scheduled(unit.installation_id, current, -1)
                uow.programme.set_schedule(unit.installation_id, day)
                message = f"moved from {current} to {day}"
            unit.installation.history.append(
                _note(unit, f"schedule {message} by {actor}", self.clock)
            )
            uow.migration.save_units([unit], self.clock.now())
            uow.commit()
        return ActionResult(unit.installation.reference, str(unit.installation.state), message)

    def _check_cutoff(self, day: date, today: date, whose: str) -> None:
        last = day - timedelta(days=self.cutoff_days)
        if today >= last:
            raise InvalidRequest(
                f"{whose} migration day {day} is past its cut-off ({self.cutoff_days} day(s) "
                f"before, so changes end on {last - timedelta(days=1)})"
            )

    def _find(self, uow: UnitOfWork, identifier: str, actor: str) -> MigrationUnit:
        found = uow.migration.find_installation_id(identifier)
        if found is None:
            raise NotFound(
                f"{identifier!r} is not an installation reference, device, MPAN or MPRN we hold"
            )
        unit = uow.migration.load_installations([found])[0]
        if actor != OPERATOR:
            self._check_responsible(uow, unit, actor)
        return unit

    def _check_responsible(self, uow: UnitOfWork, unit: MigrationUnit, actor: str) -> None:
        try:
            party = Eui64.parse(actor)
        except ValueError as exc:
            raise InvalidRequest(
                f"the actor must be {OPERATOR!r} or a supplier's EUI-64, not {actor!r}"
            ) from exc
        registered = uow.programme.in_force(unit.mpxns, self.clock.now().date())
        if not unit.mpxns or any(
            p not in registered or registered[p].supplier != party for p in unit.mpxns
        ):
            raise PermissionDenied(
                f"{party} is not the supplier responsible for installation "
                f"{unit.installation.reference} on the registration data"
            )


def _note(unit: MigrationUnit, text: str, clock: Clock) -> StateChange:
    return StateChange(unit.installation.state, clock.now(), detail=text)
