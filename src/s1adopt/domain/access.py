"""Access control of DUIS requests to devices: is this user the right party, is the device's
SMI status right?

Rules (the project's reading of the DUIS/SEC rules, where the public material is silent):
- an import supplier (IS) acts on the devices of an electricity meter point it supplies: the
  ESME and HCALCS by their MPAN, and the installation's CHF, IHD and PPMID by the MPAN;
- a gas supplier (GS) likewise on the GSME and GPF by their MPRN, and the CHF, IHD and PPMID
  by the MPRN;
- an electricity distributor (ED) and a gas transporter (GT) are the network operator of that
  MPAN or MPRN on the registration data;
- an export supplier (ES) would be the supplier of an export MPAN, which SMETS1 migration data
  does not carry: never the right party here;
- other users (OU) and registered supplier agents (RSA) are not tied to a meter point by the
  registration data: their eligibility for the SRV decides alone;
- responsibility is judged on the registration data in force on the request's date;
- device requests need the device Commissioned; a pre-notified (Pending) device takes none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from s1adopt.domain.devices import SmiStatus
from s1adopt.domain.identities import Eui64
from s1adopt.domain.meter_points import MeterPointKind
from s1adopt.domain.parties import Role
from s1adopt.domain.registration import RegistrationRecord

_ELECTRICITY = frozenset({"ESME", "HCALCS"})
_GAS = frozenset({"GSME", "GPF"})
_EITHER = frozenset({"CHF", "IHD", "PPMID", "CAD"})

_SUPPLIER_OF: dict[Role, MeterPointKind] = {
    Role.IMPORT_SUPPLIER: MeterPointKind.MPAN,
    Role.GAS_SUPPLIER: MeterPointKind.MPRN,
}
_OPERATOR_OF: dict[Role, MeterPointKind] = {
    Role.ELECTRICITY_DISTRIBUTOR: MeterPointKind.MPAN,
    Role.GAS_TRANSPORTER: MeterPointKind.MPRN,
}
UNTIED_ROLES = frozenset({Role.OTHER_USER, Role.REGISTERED_SUPPLIER_AGENT})


def meter_point_kinds(device_type: str) -> frozenset[MeterPointKind]:
    """The meter points a device of this type answers to."""
    if device_type in _ELECTRICITY:
        return frozenset({MeterPointKind.MPAN})
    if device_type in _GAS:
        return frozenset({MeterPointKind.MPRN})
    if device_type in _EITHER:
        return frozenset(MeterPointKind)
    return frozenset()


def is_right_party(
    user: Eui64,
    roles: Iterable[Role],
    device_type: str,
    registrations: Mapping[MeterPointKind, RegistrationRecord],
) -> bool:
    """Whether ``user``, acting in one of ``roles`` (those eligible for the SRV), is the
    party the module rules name for a device of ``device_type`` whose installation's meter
    points have ``registrations`` in force today."""
    kinds = meter_point_kinds(device_type)
    for role in roles:
        if role in UNTIED_ROLES:
            return True
        kind = _SUPPLIER_OF.get(role)
        if kind in kinds and (record := registrations.get(kind)) and record.supplier == user:
            return True
        kind = _OPERATOR_OF.get(role)
        if (
            kind in kinds
            and (record := registrations.get(kind))
            and record.network_operator == user
        ):
            return True
    return False


def status_allows_device_request(status: str) -> bool:
    """Device requests are carried out only for Commissioned devices."""
    return status == SmiStatus.COMMISSIONED.value
