"""DCC schedules (5.1): when a scheduled read runs, and the period each run reads.

Rules:
- a schedule runs at its execution time (UTC; midnight when none is given) on its start date
  and then every day, week, month (the same day of the month, or the month's last day when it
  has fewer), quarter, half year or year, until its end date (inclusive) if it has one;
- a log read's period is relative to the run's date: from (run date + start offset days) at
  the start time to (run date + end offset days) at the end time; the offsets are 0 or
  negative (at most 400 days back), and the period must not end before it starts;
- only SRVs DCC may schedule (``ServiceRequestVariant.dcc_scheduled``) that have SMETS1
  Equivalent Steps can be scheduled here; ``SCHEDULED_COMMANDS`` names the DSP element of each.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

MONTHS = {"Monthly": 1, "Quarterly": 3, "Half-Yearly": 6, "Yearly": 12}
DAYS = {"Daily": 1, "Weekly": 7}
FREQUENCIES = frozenset(MONTHS) | frozenset(DAYS)
MAX_OFFSET_DAYS = 400

# SRV -> the DSP element of CreateSchedule that carries it, and whether it reads a log period
SCHEDULED_COMMANDS: dict[str, tuple[str, bool]] = {
    "4.6.1": ("DSPRetrieveImportDailyReadLog", True),
    "4.8.1": ("DSPReadActiveImportProfileData", True),
    "4.15": ("DSPReadLoadLimitData", False),
    "4.16": ("DSPReadActivePowerImport", False),
    "4.17": ("DSPRetrieveDailyConsumptionLog", True),
}


class ScheduleInvalid(ValueError):
    """A schedule that cannot run as asked (names the problem)."""


@dataclass(frozen=True, slots=True)
class LogPeriod:
    """The period a scheduled log read covers, relative to the run's date."""

    start_offset_days: int
    start_time: time
    end_offset_days: int
    end_time: time

    def check(self) -> None:
        """``ScheduleInvalid`` if the offsets are out of range or the period ends too soon."""
        for offset in (self.start_offset_days, self.end_offset_days):
            if not -MAX_OFFSET_DAYS <= offset <= 0:
                raise ScheduleInvalid(f"a day offset is 0 to -{MAX_OFFSET_DAYS}, not {offset}")
        if (self.end_offset_days, self.end_time) <= (self.start_offset_days, self.start_time):
            raise ScheduleInvalid("the log period must end after it starts")

    def around(self, run: datetime) -> tuple[datetime, datetime]:
        """The period a run at ``run`` reads."""
        day = run.astimezone(UTC).date()
        start = datetime.combine(day + timedelta(days=self.start_offset_days), self.start_time, UTC)
        end = datetime.combine(day + timedelta(days=self.end_offset_days), self.end_time, UTC)
        return start, end

    def as_dict(self) -> dict[str, Any]:
        """The period as the store keeps it."""
        return {
            "startOffsetDays": self.start_offset_days,
            "startTime": self.start_time.isoformat(),
            "endOffsetDays": self.end_offset_days,
            "endTime": self.end_time.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogPeriod:
        """The period the store kept."""
        return cls(
            int(data["startOffsetDays"]),
            time.fromisoformat(str(data["startTime"])),
            int(data["endOffsetDays"]),
            time.fromisoformat(str(data["endTime"])),
        )


def nth_run(frequency: str, start: date, at: time, n: int) -> datetime:
    """The ``n``-th run (0 = the first) of a schedule."""
    if frequency in DAYS:
        day = start + timedelta(days=DAYS[frequency] * n)
    elif frequency in MONTHS:
        months = start.month - 1 + MONTHS[frequency] * n
        year, month = start.year + months // 12, months % 12 + 1
        day = date(year, month, min(start.day, calendar.monthrange(year, month)[1]))
    else:
        raise ScheduleInvalid(f"unknown frequency {frequency!r}")
    return datetime.combine(day, at.replace(tzinfo=None), UTC)


def next_run(
    frequency: str, start: date, at: time, end: date | None, after: datetime | None
) -> datetime | None:
    """The first run strictly after ``after`` (the first run at all when None), or None
    when the schedule has no run left."""
    n = 0
    if after is not None:
        # jump to a run that cannot be later than ``after``, then step
        elapsed = (after.astimezone(UTC).date() - start).days
        step_days = MONTHS[frequency] * 31 if frequency in MONTHS else DAYS.get(frequency, 1)
        n = max(0, elapsed // step_days - 1)
    while True:
        run = nth_run(frequency, start, at, n)
        if end is not None and run.date() > end:
            return None
        if after is None or run > after:
            return run
        n += 1
