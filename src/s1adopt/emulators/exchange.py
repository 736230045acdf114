"""The programme side of a generated fleet: registration data and the exchange.

Layout under the fleet directory (every exchange file dated the programme's first day,
``start``):
- ``registration/REG_<ref>_<provider EUI>_DCC_<yyyymmdd>.xml``: the parties and one
  registration record per meter point, effective ``REGISTRATION_LEAD_DAYS`` before ``start``;
- ``exchange/<party EUI>/inbox/``: what the party sends to DCC; ``exchange/<party EUI>/outbox/``:
  where DCC answers. The registration data provider's inbox holds the registration file; each
  SMSO's its migration files (``MD_<ref>_<SMSO EUI>_DCC_<yyyymmdd>.xml``, one per supplier);
  each supplier's a demand file (``DC-...``), an authorisation archive (``MA_..._000000.zip``)
  and its password (``MAPASSWORD_..._000000.txt``).
Rules:
- a supplier's demand spreads its installations of each cohort over ``DEMAND_DAYS`` migration
  days from ``start + ALLOCATION_LEAD_DAYS`` (allocation is decided two days ahead), as evenly
  as whole numbers allow, the first days taking the remainder; days without demand are left out;
- a supplier's authorisation names each installation it authorises by reference, registered
  MPAN and MPRN; passwords are drawn from the seed.
"""

from __future__ import annotations

import heapq
import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from s1adopt.domain.identities import Eui64
from s1adopt.domain.meter_points import MeterPointKind
from s1adopt.domain.parties import Party
from s1adopt.domain.programme import (
    DCC_RECIPIENT,
    AuthorisationRequest,
    DemandFile,
    DemandLine,
)
from s1adopt.domain.registration import RegistrationRecord
from s1adopt.emulators.assignment import AUTHORISED
from s1adopt.emulators.composition import MeterPoints, installation_reference, is_dual_fuel
from s1adopt.emulators.faults import fault_of
from s1adopt.emulators.parties import (
    GAS_TRANSPORTER,
    NETWORK_OPERATOR,
    REGISTRATION_DATA_PROVIDER,
    programme_parties,
)
from s1adopt.emulators.profiles import SmsoProfile
from s1adopt.emulators.staging import Staging
from s1adopt.formats.exchange.authorisation import (
    AuthorisationWriter,
    authorisation_file_name,
    password_file_name,
    write_password,
)
from s1adopt.formats.exchange.demand import demand_file_name, write_demand
from s1adopt.formats.exchange.names import FileKind, build_name
from s1adopt.formats.exchange.registration import (
    RegistrationFileWriter,
    RegistrationHeader,
    registration_file_name,
)

PROGRAMME_START = date(2026, 12, 1)  # the programme's first day
ALLOCATION_LEAD_DAYS = 2  # capacity for a migration day is allocated this many days ahead
DEMAND_DAYS = 3
REGISTRATION_LEAD_DAYS = 365
EXCHANGE_DIR = "exchange"
REGISTRATION_DIR = "registration"
INBOX, OUTBOX = "inbox", "outbox"
AUTHORISATION_TIME = time(0, 0)
_UNAUTHORISED = re.compile(b"[^%c]" % AUTHORISED)  # a byte of the plan other than AUTHORISED
_REFERENCE_DIGITS = 31  # an exchange reference is at most 32 letters or digits


def inbox(fleet_dir: Path, party: Eui64) -> Path:
    """Where a party puts what it sends to DCC."""
    return fleet_dir / EXCHANGE_DIR / party.value / INBOX


def outbox(fleet_dir: Path, party: Eui64) -> Path:
    """Where DCC puts its answers to a party."""
    return fleet_dir / EXCHANGE_DIR / party.value / OUTBOX


def fleet_reference(seed: int) -> str:
    """The reference of a fleet's registration, demand and authorisation files."""
    return f"F{seed % 10**_REFERENCE_DIGITS}"


def migration_reference(profile: SmsoProfile, supplier: Party) -> str:
    """The reference of an SMSO's migration file for one supplier."""
    tag = "".join(c for c in profile.file_tag if c.isascii() and c.isalnum())
    return (tag + supplier.short_code)[:32]


def midnight(day: date) -> datetime:
    """The start of ``day`` in UTC."""
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def registration_header(
    seed: int, provider: Eui64, start: date, record_count: int
) -> RegistrationHeader:
    """The header of a fleet's registration file."""
    return RegistrationHeader(
        f"REG-{fleet_reference(seed)}", provider, midnight(start), record_count
    )


def count_meter_points(seed: int, plan: bytearray) -> int:
    """The registration records of a fleet: an MPAN per installation, an MPRN per dual-fuel
    one (drawn as the composition draws them)."""
    dual = sum(is_dual_fuel(seed, index + 1, fault_of(code)) for index, code in enumerate(plan))
    return len(plan) + dual


def registration_records(
    points: MeterPoints, supplier: Eui64, effective_from: date
) -> Iterator[RegistrationRecord]:
    """An installation's registration records: its MPAN with the network operator, its MPRN
    (if any) with the gas transporter."""
    yield RegistrationRecord(
        points.mpan, MeterPointKind.MPAN, supplier, NETWORK_OPERATOR.eui, effective_from
    )
    if points.mprn is not None:
        yield RegistrationRecord(
            points.mprn, MeterPointKind.MPRN, supplier, GAS_TRANSPORTER.eui, effective_from
        )


def demand_for(supplier: Party, cohorts: Mapping[str, int], seed: int, start: date) -> DemandFile:
    """A supplier's demand: its installations per cohort spread over the first migration days."""
    first = start + timedelta(days=ALLOCATION_LEAD_DAYS)
    shares = {cohort: spread(count, DEMAND_DAYS) for cohort, count in cohorts.items()}
    lines = tuple(
        DemandLine(first + timedelta(days=offset), cohort, counts[offset])
        for offset in range(DEMAND_DAYS)
        for cohort, counts in shares.items()
        if counts[offset]
    )
    return DemandFile(fleet_reference(seed), supplier.eui, DCC_RECIPIENT, start, lines)


def spread(count: int, days: int) -> list[int]:
    """``count`` split over ``days`` as evenly as whole numbers allow, the first days first."""
    base, extra = divmod(count, days)
    return [base + (1 if day < extra else 0) for day in range(days)]


def migration_exchange_name(reference: str, smso: Eui64, start: date) -> str:
    """``MD_<ref>_<SMSO EUI>_DCC_<yyyymmdd>.xml``."""
    return build_name(FileKind.MIGRATION_DATA, reference, smso, DCC_RECIPIENT, start)


def authorisation_password(seed: int, supplier_index: int) -> str:
    """The password of a supplier's authorisation archive (drawn from the seed)."""
    # A seeded generator on purpose: the archive is test material that the same seed must
    # reproduce; nothing real is protected by it.
    rng = random.Random(f"s1adopt-fleet-password-{seed}-{supplier_index}")  # noqa: S311
    return rng.randbytes(12).hex()


def unauthorised_references(authorisation: bytearray | None) -> Iterator[str]:
    """The references of the installations not authorised by their supplier, sorted as text
    (references of eight digits sort among the seven-digit ones), streamed from the plan."""
    if authorisation is None:
        return iter(())
    total = len(authorisation)

    def references(low: int, high: int) -> Iterator[str]:
        for match in _UNAUTHORISED.finditer(authorisation, low - 1, min(high, total + 1) - 1):
            yield installation_reference(match.start() + 1)

    runs, low = [references(1, 10**7)], 10**7
    while low <= total:
        runs.append(references(low, low * 10))
        low *= 10
    return heapq.merge(*runs)


def registration_name(seed: int, start: date) -> str:
    """The fleet's registration file name."""
    return registration_file_name(fleet_reference(seed), REGISTRATION_DATA_PROVIDER.eui, start)


def registration_writer(
    path: Path,
    seed: int,
    start: date,
    plan: bytearray,
    cast: Sequence[Party],
    profiles: Sequence[SmsoProfile],
) -> RegistrationFileWriter:
    """The registration file's writer, its header counting every record to come."""
    provider = REGISTRATION_DATA_PROVIDER.eui
    header = registration_header(seed, provider, start, count_meter_points(seed, plan))
    return RegistrationFileWriter(path, header, programme_parties(cast, profiles))


def authorisation_of(supplier: Party, seed: int, start: date) -> AuthorisationRequest:
    """A supplier's authorisation without its entries (for its names and header)."""
    created_at = datetime.combine(start, AUTHORISATION_TIME, tzinfo=UTC)
    return AuthorisationRequest(fleet_reference(seed), supplier.eui, DCC_RECIPIENT, created_at, ())


def open_authorisations(
    stack: ExitStack,
    staging: Staging,
    fleet_dir: Path,
    cast: Sequence[Party],
    seed: int,
    start: date,
) -> list[AuthorisationWriter]:
    """One authorisation archive per supplier, open (on ``stack``) for entries to stream in."""
    writers = []
    for index, supplier in enumerate(cast):
        request = authorisation_of(supplier, seed, start)
        path = staging.reserve(inbox(fleet_dir, supplier.eui) / authorisation_file_name(request))
        writer = AuthorisationWriter(
            path,
            request.reference,
            request.party,
            request.created_at,
            authorisation_password(seed, index),
        )
        writers.append(stack.enter_context(writer))
    return writers


def stage_supplier_files(
    staging: Staging,
    fleet_dir: Path,
    cast: Sequence[Party],
    cohorts: Sequence[Mapping[str, int]],
    seed: int,
    start: date,
) -> None:
    """Each supplier's demand file (from its installations per cohort) and password file."""
    for index, supplier in enumerate(cast):
        box = inbox(fleet_dir, supplier.eui)
        demand = demand_for(supplier, cohorts[index], seed, start)
        write_demand(staging.reserve(box / demand_file_name(demand)), demand)
        request = authorisation_of(supplier, seed, start)
        password = authorisation_password(seed, index)
        write_password(staging.reserve(box / password_file_name(request)), password)


def make_boxes(fleet_dir: Path, parties: Iterable[Party]) -> None:
    """An inbox and an outbox for each party."""
    for party in parties:
        inbox(fleet_dir, party.eui).mkdir(parents=True, exist_ok=True)
        outbox(fleet_dir, party.eui).mkdir(parents=True, exist_ok=True)
