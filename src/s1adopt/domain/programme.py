"""The migration programme's vocabulary: demand, allocation, authorisation, notices, reports.

File formats for these live in ``formats/exchange``; the rules that use them in ``capacity``,
``retry`` and the services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from s1adopt.domain.identities import Eui64

DCC_RECIPIENT = "DCC"  # the recipient code of files sent to the service


@dataclass(frozen=True, slots=True)
class DemandLine:
    """Installations a supplier wants migrated on one migration day, in one cohort."""

    day: date
    cohort: str
    installations: int


@dataclass(frozen=True, slots=True)
class DemandFile:
    """A supplier's migration demand (``DC-<ref>_<party>_<recipient>_<yyyymmdd>``)."""

    reference: str
    party: Eui64
    recipient: str
    created: date
    lines: tuple[DemandLine, ...]


@dataclass(frozen=True, slots=True)
class AllocationLine:
    """A party's capacity for one migration day and cohort (the ``DR_...`` response)."""

    day: date
    cohort: str
    demand: int
    allocated: int


@dataclass(frozen=True, slots=True)
class AllocationResponse:
    """The allocation sent back to a party for one migration day."""

    reference: str  # of the demand file it answers
    party: Eui64
    recipient: str
    day: date
    lines: tuple[AllocationLine, ...]


@dataclass(frozen=True, slots=True)
class AuthorisationEntry:
    """One installation a supplier authorises, by its meter points (and optionally the SMSO's
    installation reference)."""

    mpan: str | None
    mprn: str | None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class AuthorisationRequest:
    """A Migration Authorisation file (``MA_<ref>_<party>_<recipient>_<yyyymmdd>_<hhmmss>``),
    once opened with its password."""

    reference: str
    party: Eui64
    recipient: str
    created_at: datetime
    entries: tuple[AuthorisationEntry, ...]


class AuthorisationRefusal(StrEnum):
    """Why an authorisation entry was refused (named in the response file)."""

    NOT_RESPONSIBLE = "not_responsible"  # another supplier is responsible on the registration data
    UNKNOWN_METER_POINT = "unknown_meter_point"  # no registration data for the meter point
    INVALID_METER_POINT = "invalid_meter_point"  # not a valid MPAN core or MPRN
    NO_METER_POINT = "no_meter_point"  # the entry names neither an MPAN nor an MPRN
    NOT_A_SUPPLIER = "not_a_supplier"  # the sender holds no supplier role


@dataclass(frozen=True, slots=True)
class AuthorisationOutcome:
    """The response to one entry: accepted, or refused with a reason and a detail."""

    entry: AuthorisationEntry
    refusal: AuthorisationRefusal | None
    detail: str = ""

    @property
    def accepted(self) -> bool:
        """True when the entry was accepted."""
        return self.refusal is None


class NoticeKind(StrEnum):
    """Notices sent to a supplier before a dormant installation is upgraded and migrated."""

    FIRMWARE_UPGRADE_SCHEDULE = "DMFU"  # Dormant Meter FW Upgrade Schedule Notification
    MIGRATION_SCHEDULE = "DMMS"  # Dormant Meter Migration Schedule Notification


@dataclass(frozen=True, slots=True)
class NoticeLine:
    """One dormant installation in a notice."""

    reference: str
    mpan: str | None
    mprn: str | None
    day: date  # the day of the upgrade or migration


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice to one supplier, sent on ``sent_on`` about installations due on later days."""

    kind: NoticeKind
    party: Eui64
    sent_on: date
    lines: tuple[NoticeLine, ...]


@dataclass(frozen=True, slots=True)
class FileFault:
    """One fault found in a file taken in from the exchange."""

    where: str  # "line 12", "entry 3", "name", "archive"
    problem: str


@dataclass
class PartyDayCounts:
    """The Migration Reporting Regime's counts for one party and one migration day.

    Rules:
    - ``attempted = commissioned + failed + excluded``: each attempt of the day ends one way;
    - ``backlog`` = the party's authorised installations neither commissioned nor excluded, at
      the end of the day; it equals the previous day's ``backlog + authorised - commissioned -
      excluded - excluded_in_validation`` (the last: authorised installations excluded without
      an attempt, when corrected data lacks master keys);
    - ``outstanding`` = authorised installations not yet attempted or due for a retry; one
      waiting for corrected data counts as failed, not outstanding;
    - ``released = allocated - scheduled``: unused allocation, not carried over.
    An installation belongs to the party that authorised it (else the responsible supplier on
    the registration data, else its migration file's responsible supplier).
    """

    day: date
    party: Eui64
    allocated: int = 0
    scheduled: int = 0
    released: int = 0  # allocated but not scheduled
    authorised: int = 0  # installations newly authorised on the day
    attempted: int = 0
    commissioned: int = 0
    failed: int = 0
    retried: int = 0  # attempts of the day that were retries
    excluded: int = 0
    excluded_in_validation: int = 0
    outstanding: int = 0
    backlog: int = 0
    failed_by_reason: dict[str, int] = field(default_factory=dict)


COUNT_FIELDS = (  # the counts of ``PartyDayCounts``, in the order reports show them
    "allocated",
    "scheduled",
    "released",
    "authorised",
    "attempted",
    "commissioned",
    "failed",
    "retried",
    "excluded",
    "excluded_in_validation",
    "outstanding",
    "backlog",
)
