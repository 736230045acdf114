"""Exchange file names: ``<KIND><sep><ref>_<party EUI-64>_<recipient>_<yyyymmdd>[_<hhmmss>]``.

Rules:
- demand files use ``-`` after the kind (``DC-AAA123_70-B3-D5-1F-30-00-A0-08_DCC_20190121``),
  every other kind ``_``; any extension is ignored when parsing;
- ``ref`` is 1 to 32 letters or digits; ``party`` is the sender's or addressee's EUI-64;
  ``recipient`` is a short code (letters and digits); the time is present exactly for the
  kinds in ``TIMED`` (authorisation archives and their passwords);
- the published sample ``MA_cgI_70-B3-D5-1F-30-00-A0-08_20190407_182503`` has no recipient:
  the recipient is optional when parsing;
- acknowledgements and rejections are named after the file they answer:
  ``ACK_<name>.xml`` and ``NACK_<name>.xml``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum

from s1adopt.domain.errors import ExchangeFileRejected, InvalidIdentity
from s1adopt.domain.identities import Eui64


class FileKind(StrEnum):
    """The kinds of exchange files, by their name prefix."""

    REGISTRATION = "REG"  # registration data (from a registration data provider)
    DEMAND = "DC"  # migration demand (supplier)
    DEMAND_RESPONSE = "DR"  # capacity allocation (to the supplier)
    AUTHORISATION = "MA"  # migration authorisation archive (supplier)
    AUTHORISATION_PASSWORD = "MAPASSWORD"  # noqa: S105 - a file kind: the password file
    AUTHORISATION_RESPONSE = "MR"  # per-entry outcome of an authorisation (to the supplier)
    MIGRATION_DATA = "MD"  # migration data (SMSO)
    FW_UPGRADE_NOTICE = "DMFU"  # Dormant Meter FW Upgrade Schedule Notification
    MIGRATION_NOTICE = "DMMS"  # Dormant Meter Migration Schedule Notification
    REPORT = "MRR"  # Migration Reporting Regime report (to the supplier)
    REGISTRATION_STATUS = "RSF"  # DCC Service Flag changes (to registration data providers)


TIMED = frozenset({FileKind.AUTHORISATION, FileKind.AUTHORISATION_PASSWORD})
ACK_PREFIX, NACK_PREFIX = "ACK_", "NACK_"

_NAME = re.compile(
    r"^(?P<kind>MAPASSWORD|REG|DC|DR|MA|MR|MD|DMFU|DMMS|MRR|RSF)(?P<sep>[-_])"
    r"(?P<ref>[A-Za-z0-9]{1,32})_(?P<party>[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){7})"
    r"(?:_(?P<recipient>[A-Za-z][A-Za-z0-9]{0,15}))?_(?P<day>\d{8})(?:_(?P<time>\d{6}))?"
    r"(?P<ext>\.[A-Za-z0-9.]{1,12})?$"
)


@dataclass(frozen=True, slots=True)
class ExchangeName:
    """A parsed exchange file name."""

    kind: FileKind
    reference: str
    party: Eui64
    recipient: str | None
    day: date
    time: time | None = None

    @property
    def stamp(self) -> datetime:
        """The date and time the name carries (midnight when it has no time)."""
        return datetime.combine(self.day, self.time or time(0, 0))


def parse_name(name: str) -> ExchangeName:
    """Parse an exchange file name; ``ExchangeFileRejected`` says what is wrong with it."""
    match = _NAME.match(name)
    if match is None:
        raise _bad(name, "does not follow <KIND>_<ref>_<party EUI-64>_<recipient>_<yyyymmdd>")
    kind = FileKind(match["kind"])
    if (match["sep"] == "-") != (kind is FileKind.DEMAND):
        raise _bad(name, "only demand files use '-' after the kind (DC-<ref>_...)")
    if (match["time"] is not None) != (kind in TIMED):
        wanted = "needs a _<hhmmss> time" if kind in TIMED else "takes no time"
        raise _bad(name, f"a {kind.value} file name {wanted}")
    try:
        party = Eui64.parse(match["party"])
        day = datetime.strptime(match["day"], "%Y%m%d").date()
        at = datetime.strptime(match["time"], "%H%M%S").time() if match["time"] else None
    except (InvalidIdentity, ValueError) as exc:
        raise _bad(name, str(exc)) from exc
    return ExchangeName(kind, match["ref"], party, match["recipient"], day, at)


def build_name(
    kind: FileKind,
    reference: str,
    party: Eui64,
    recipient: str | None,
    day: date,
    at: time | None = None,
    extension: str = ".xml",
) -> str:
    """The file name for these fields (the inverse of ``parse_name``)."""
    sep = "-" if kind is FileKind.DEMAND else "_"
    parts = [f"{kind.value}{sep}{reference}", party.value]
    if recipient:
        parts.append(recipient)
    parts.append(day.strftime("%Y%m%d"))
    if kind in TIMED:
        if at is None:
            raise ValueError(f"a {kind.value} file name needs a time")
        parts.append(at.strftime("%H%M%S"))
    name = "_".join(parts) + extension
    parse_name(name)  # refuse to build what cannot be parsed back
    return name


def _bad(name: str, problem: str) -> ExchangeFileRejected:
    return ExchangeFileRejected(f"{name}: file name {problem}", [("name", problem)])
