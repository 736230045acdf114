"""Parties of the service: suppliers, network operators, other users, SMSOs, DCC.

Every party is identified by an EUI-64 and has a short code (used in exchange file names, e.g.
``CGI``) and the DUIS user roles it holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.identities import Eui64

_SHORT_CODE = re.compile(r"^[A-Za-z0-9]{2,16}$")


class Role(StrEnum):
    """DUIS user roles, and the project's own roles of parties that are not DUIS users."""

    IMPORT_SUPPLIER = "IS"
    EXPORT_SUPPLIER = "ES"
    GAS_SUPPLIER = "GS"
    ELECTRICITY_DISTRIBUTOR = "ED"
    GAS_TRANSPORTER = "GT"
    OTHER_USER = "OU"
    REGISTERED_SUPPLIER_AGENT = "RSA"
    SMSO = "SMSO"  # a previous operator's head end (sends migration data)
    REGISTRATION_DATA_PROVIDER = "RDP"  # sends registration data, receives status files

    @property
    def is_supplier(self) -> bool:
        """Import, export or gas supplier."""
        return self in (Role.IMPORT_SUPPLIER, Role.EXPORT_SUPPLIER, Role.GAS_SUPPLIER)


class PartyStatus(StrEnum):
    """Whether a party may use the service."""

    ACTIVE = "active"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class Party:
    """A party with its identity, short code and roles."""

    eui: Eui64
    short_code: str
    name: str
    roles: frozenset[Role]
    status: PartyStatus = PartyStatus.ACTIVE

    def __post_init__(self) -> None:
        if not _SHORT_CODE.match(self.short_code):
            raise InvalidIdentity(
                f"party short code {self.short_code!r} must be 2 to 16 letters or digits"
            )

    @property
    def is_supplier(self) -> bool:
        """Holds at least one supplier role."""
        return any(role.is_supplier for role in self.roles)


def parse_roles(text: str) -> frozenset[Role]:
    """Roles from a list such as ``"IS GS"`` or ``"IS,GS"``; unknown codes are an error."""
    roles = set()
    for code in re.split(r"[\s,]+", text.strip()):
        if not code:
            continue
        try:
            roles.add(Role(code.upper()))
        except ValueError as exc:
            known = ", ".join(r.value for r in Role)
            raise InvalidIdentity(f"unknown role {code!r}; roles are {known}") from exc
    return frozenset(roles)
