"""The Migration Authorisation Mechanism: suppliers authorise the migration of installations.

Rules:
- an entry names an installation by its meter points (MPAN and/or MPRN); it is accepted only
  when the sender holds a supplier role and is, on the registration data in force that day,
  the supplier responsible for every meter point it names; otherwise it is refused with a
  reason (``AuthorisationRefusal``) in the response file;
- an installation is authorised when each of its meter points is authorised by the supplier
  responsible for it, whichever arrives first, the authorisation or the migration data; it is
  then reported under the authorising supplier;
- no device of an installation is contacted before it is authorised (``Installation
  .begin_attempt`` refuses otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.identities import Eui64, Mpan, Mprn
from s1adopt.domain.installation import MigrationState
from s1adopt.domain.programme import (
    AuthorisationEntry,
    AuthorisationOutcome,
    AuthorisationRefusal,
    AuthorisationRequest,
)
from s1adopt.domain.registration import RegistrationRecord
from s1adopt.services.ports import UnitOfWork


def authorise_request(
    uow: UnitOfWork, request: AuthorisationRequest, file_id: int, day: date, now: datetime
) -> list[AuthorisationOutcome]:
    """Decide every entry of an authorisation file and apply the accepted ones."""
    sender = uow.programme.party(request.party)
    if sender is None or not sender.is_supplier:
        why = "unknown party" if sender is None else "the party holds no supplier role"
        return [
            AuthorisationOutcome(e, AuthorisationRefusal.NOT_A_SUPPLIER, f"{request.party}: {why}")
            for e in request.entries
        ]
    named = [_meter_points(e) for e in request.entries]
    registered = uow.programme.in_force(
        [p for points in named if isinstance(points, list) for p in points], day
    )
    outcomes: list[AuthorisationOutcome] = []
    accepted: list[tuple[str, Eui64]] = []
    for entry, points in zip(request.entries, named, strict=True):
        if isinstance(points, AuthorisationOutcome):
            outcomes.append(points)
            continue
        refusal = _check(entry, points, registered, request.party)
        outcomes.append(refusal or AuthorisationOutcome(entry, None))
        if refusal is None:
            accepted.extend((p, request.party) for p in points)
    if accepted:
        uow.programme.add_authorisations(accepted, file_id, day)
        apply_authorisations(uow, [p for p, _ in accepted], day, now)
    return outcomes


def _meter_points(entry: AuthorisationEntry) -> list[str] | AuthorisationOutcome:
    """The entry's canonical meter points, or the refusal of a malformed entry."""
    points: list[str] = []
    try:
        if entry.mpan:
            points.append(Mpan.parse(entry.mpan).core)
        if entry.mprn:
            points.append(Mprn.parse(entry.mprn).value)
    except InvalidIdentity as exc:
        return AuthorisationOutcome(entry, AuthorisationRefusal.INVALID_METER_POINT, str(exc))
    if not points:
        return AuthorisationOutcome(
            entry, AuthorisationRefusal.NO_METER_POINT, "the entry names no MPAN or MPRN"
        )
    return points


def _check(
    entry: AuthorisationEntry,
    points: list[str],
    registered: dict[str, RegistrationRecord],
    party: Eui64,
) -> AuthorisationOutcome | None:
    for point in points:
        record = registered.get(point)
        if record is None:
            return AuthorisationOutcome(
                entry,
                AuthorisationRefusal.UNKNOWN_METER_POINT,
                f"{point}: no registration data in force",
            )
        if record.supplier != party:
            return AuthorisationOutcome(
                entry,
                AuthorisationRefusal.NOT_RESPONSIBLE,
                f"{point}: the responsible supplier is {record.supplier}",
            )
    return None


def apply_authorisations(uow: UnitOfWork, mpxns: Sequence[str], day: date, now: datetime) -> int:
    """Authorise the stored installations whose meter points are now all authorised by their
    responsible suppliers; how many."""
    ids = uow.programme.installations_with_meter_points(mpxns)
    if not ids:
        return 0
    units = uow.migration.load_installations(ids)
    points = [p for u in units for p in u.mpxns]
    registered = uow.programme.in_force(points, day)
    given = uow.programme.authorisations(points)
    done = []
    for unit in units:
        inst = unit.installation
        if inst.state in (MigrationState.COMMISSIONED, MigrationState.EXCLUDED):
            continue
        if unit.mpxns and all(
            p in registered and given.get(p) == registered[p].supplier for p in unit.mpxns
        ):
            by = given[unit.mpxns[0]]
            inst.authorise(by.value, now)
            uow.programme.set_authorised([unit.installation_id], by, day)
            done.append(unit)
    uow.migration.save_units(done, now)
    return len(done)
