"""Registration data: who is responsible for each meter point, from which day.

Registration data providers (the electricity and gas registration services) send, per MPAN
and MPRN, the responsible supplier and the network operator with an effective date. A change
of supplier is a new record with a later effective date; the record in force on a day is the
one with the latest effective date not after that day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from s1adopt.domain.identities import Eui64
from s1adopt.domain.meter_points import MeterPointKind


@dataclass(frozen=True, slots=True)
class RegistrationRecord:
    """One registration of a meter point, in force from ``effective_from``."""

    mpxn: str
    kind: MeterPointKind
    supplier: Eui64
    network_operator: Eui64
    effective_from: date


def in_force(records: Iterable[RegistrationRecord], day: date) -> RegistrationRecord | None:
    """The record in force on ``day``: the latest effective date not after it (None if none)."""
    best: RegistrationRecord | None = None
    for record in records:
        if record.effective_from <= day and (
            best is None or record.effective_from >= best.effective_from
        ):
            best = record
    return best
