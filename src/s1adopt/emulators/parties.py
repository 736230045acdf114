"""The parties of a generated fleet's programme: suppliers, network operator, gas transporter,
registration data provider and the SMSOs.

Rules:
- supplier ``i`` (0-based) has the EUI-64 ``90-B3-D5-1F-30-01-00-00`` plus ``i``, so the first is
  the public test supplier (the migration files' responsible supplier of a fleet without
  suppliers), the short code ``SUP001``, ``SUP002``, ... and the roles IS and GS;
- every MPAN is registered with the public test network operator (ED), every MPRN with the
  emulated gas transporter (GT); one registration data provider sends the registration data;
- each SMSO is a party with the role SMSO and its profile's EUI-64.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from s1adopt.domain.identities import Eui64
from s1adopt.domain.parties import Party, Role
from s1adopt.emulators.profiles import RESPONSIBLE_SUPPLIER, SmsoProfile

MAX_SUPPLIERS = 100
PUBLIC_TEST_SUPPLIER = Eui64.parse(RESPONSIBLE_SUPPLIER)
NETWORK_OPERATOR = Party(
    Eui64.parse("90-B3-D5-1F-30-02-00-00"),
    "EDNO",
    "Emulated electricity distributor",
    frozenset({Role.ELECTRICITY_DISTRIBUTOR}),
)
GAS_TRANSPORTER = Party(
    Eui64.parse("90-B3-D5-1F-30-03-00-00"),
    "GTRA",
    "Emulated gas transporter",
    frozenset({Role.GAS_TRANSPORTER}),
)
REGISTRATION_DATA_PROVIDER = Party(
    Eui64.parse("90-B3-D5-1F-30-04-00-00"),
    "RDPR",
    "Emulated registration data provider",
    frozenset({Role.REGISTRATION_DATA_PROVIDER}),
)
_SUPPLIER_ROLES = frozenset({Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER})
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def supplier_party(index: int) -> Party:
    """Supplier ``index`` (0-based) of a generated fleet."""
    if not 0 <= index < MAX_SUPPLIERS:
        raise ValueError(f"supplier index {index} is outside 0 to {MAX_SUPPLIERS - 1}")
    number = int(PUBLIC_TEST_SUPPLIER.hex, 16) + index
    return Party(
        Eui64.from_int(number),
        f"SUP{index + 1:03d}",
        f"Emulated supplier {index + 1}",
        _SUPPLIER_ROLES,
    )


def supplier_parties(count: int) -> tuple[Party, ...]:
    """The first ``count`` suppliers."""
    return tuple(supplier_party(index) for index in range(count))


def smso_party(profile: SmsoProfile) -> Party:
    """The SMSO of a profile as a party."""
    tag = _NOT_ALNUM.sub("", profile.file_tag)[:12] or "X"
    return Party(
        Eui64.parse(profile.eui),
        f"SMSO{tag}",
        f"Emulated {profile.cohort} SMSO",
        frozenset({Role.SMSO}),
    )


def programme_parties(cast: Sequence[Party], profiles: Iterable[SmsoProfile]) -> tuple[Party, ...]:
    """Every party of the registration file: suppliers, ED, GT, SMSOs, the data provider."""
    smsos = {smso_party(p).eui: smso_party(p) for p in profiles}  # one per EUI-64
    return (
        *cast,
        NETWORK_OPERATOR,
        GAS_TRANSPORTER,
        *smsos.values(),
        REGISTRATION_DATA_PROVIDER,
    )
