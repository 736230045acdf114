"""Read-side queries: outcomes, reports and inventory look-ups (no state changes)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutcomeSummary:
    """Outcome counts of some batches: ``commissioned`` and each reason code, overall and per
    cohort (where unfinished installations count as ``in progress``)."""

    total: int
    outcomes: dict[str, int]
    unfinished: int
    by_cohort: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InstallationOutcome:
    """One line of a batch report."""

    reference: str
    mpan: str | None
    mprn: str | None
    state: str
    outcome: str
    attempts: int
    detail: str


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """A dated status of a device or an installation."""

    status: str
    at: datetime
    note: str


@dataclass(frozen=True, slots=True)
class DeviceView:
    """A device as the SMI shows it."""

    device_id: str
    device_type: str
    manufacturer: str
    model: str
    firmware_version: str | None
    smi_status: str
    status_since: datetime
    associated_with: str | None
    mpxn: str | None
    credential_holder: str
    history: list[HistoryEntry]


@dataclass(frozen=True, slots=True)
class InstallationView:
    """An installation with its devices, meter points and migration history."""

    reference: str
    batch_id: int
    cohort: str
    smso: str
    installation_type: str
    state: str
    outcome: str | None
    attempts: int
    meter_points: list[tuple[str, str, str | None]]  # (mpxn, kind, DCC service flag)
    devices: list[DeviceView]
    history: list[HistoryEntry]
    party: str | None = None  # the authorising (else responsible) supplier
    authorised_by: str | None = None
    scheduled_for: date | None = None
    retry_on: date | None = None
    blocked: bool = False


class MigrationQueries(Protocol):
    """What the read side can answer."""

    def outcome_summary(self, batch_ids: Sequence[int]) -> OutcomeSummary: ...

    def installation_outcomes(self, batch_id: int | None) -> Iterator[InstallationOutcome]:
        """Every installation of a batch (None: of every batch), in reference order."""
        ...

    def refused_records(self, batch_id: int) -> list[tuple[str, str, str]]:
        """(reference, reason, detail) of the batch's records not applied to their
        installation (it was commissioned, excluded or in an attempt)."""
        ...

    def find_installation(self, identifier: str) -> InstallationView | None:
        """By device EUI-64 (any spelling), MPAN, MPRN or installation reference."""
        ...
