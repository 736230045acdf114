"""A supplier's own tooling, emulated: it sends further authorisations and demand through the
exchange (the demo's second act, and tests).

Rules: one authorisation archive (with its password file) and one demand file per call, dated
``day`` at ``at``; the demand asks for the authorised installations per cohort on the day the
programme can next allocate (``day`` + ``lead_days``).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from s1adopt.domain.identities import Eui64
from s1adopt.domain.programme import (
    DCC_RECIPIENT,
    AuthorisationEntry,
    AuthorisationRequest,
    DemandFile,
    DemandLine,
)
from s1adopt.formats.exchange.authorisation import (
    authorisation_file_name,
    password_file_name,
    write_authorisation,
    write_password,
)
from s1adopt.formats.exchange.demand import demand_file_name, write_demand


@dataclass(frozen=True, slots=True)
class Authorising:
    """An installation a supplier authorises: its cohort and meter points."""

    reference: str
    cohort: str
    mpan: str | None
    mprn: str | None


def send_authorisation(
    exchange_dir: Path,
    supplier: Eui64,
    installations: Sequence[Authorising],
    day: date,
    reference: str,
    lead_days: int = 2,
    at: time = time(12, 0),
) -> list[Path]:
    """Write the supplier's authorisation, its password and its demand into its inbox."""
    box = exchange_dir / supplier.value / "inbox"
    box.mkdir(parents=True, exist_ok=True)
    request = AuthorisationRequest(
        reference,
        supplier,
        DCC_RECIPIENT,
        datetime.combine(day, at, UTC),
        tuple(AuthorisationEntry(i.mpan, i.mprn, i.reference) for i in installations),
    )
    # A seeded password on purpose: this is emulated test material, not a real secret.
    password = f"late-{random.Random(f'{supplier}-{reference}').getrandbits(64):016x}"  # noqa: S311
    archive = box / authorisation_file_name(request)
    secret = box / password_file_name(request)
    write_authorisation(archive, request, password)
    write_password(secret, password)
    counts = Counter(i.cohort for i in installations)
    demand = DemandFile(
        reference,
        supplier,
        DCC_RECIPIENT,
        day,
        tuple(
            DemandLine(day + timedelta(days=lead_days), cohort, n)
            for cohort, n in sorted(counts.items())
        ),
    )
    demand_path = box / demand_file_name(demand)
    write_demand(demand_path, demand)
    return [archive, secret, demand_path]
