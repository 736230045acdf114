"""Read-side questions about the programme (no state changes)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from s1adopt.domain.identities import Eui64
from s1adopt.services.ports import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class AwaitingAuthorisation:
    """An installation waiting for its supplier's authorisation."""

    reference: str
    cohort: str
    mpan: str | None
    mprn: str | None


def awaiting_authorisation(
    uow_factory: UnitOfWorkFactory, day: date
) -> dict[Eui64, list[AwaitingAuthorisation]]:
    """Per responsible supplier (registration data in force on ``day``, by the MPAN, else the
    MPRN), the installations it has not authorised yet; those whose meter points are not on
    the registration data are left out."""
    with uow_factory() as uow:
        waiting = uow.programme.unauthorised_installations()
        points = [p for _, _, mpan, mprn in waiting for p in (mpan, mprn) if p]
        registered = uow.programme.in_force(points, day)
    found: dict[Eui64, list[AwaitingAuthorisation]] = defaultdict(list)
    for reference, cohort, mpan, mprn in waiting:
        first = mpan or mprn
        if first is None or first not in registered:
            continue
        if any(p not in registered for p in (mpan, mprn) if p):
            continue
        found[registered[first].supplier].append(
            AwaitingAuthorisation(reference, cohort, mpan, mprn)
        )
    return dict(found)
