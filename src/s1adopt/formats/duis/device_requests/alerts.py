"""6.22 Configure Alert Behaviour: which alerts a meter sends over the WAN, by GBCS alert code.

Rules: the SMETS1 equivalent holds one flag per alert code (enabled: the meter sends it). The
WAN alert groups are read: ``ElectricitySupplierAlerts`` and ``ElectricityNetworkOperatorAlerts``
(electricity), ``GasSupplierAlerts`` (gas); the HAN alert, alarm, logging and gas event
settings configure what SMETS1 meters do not have and are refused. Codes are written in the
schema's order, which is not numeric order.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from s1adopt.formats.duis.device_requests.fields import Node, Values, add, choice
from s1adopt.formats.duis.requests import InvalidField


def _codes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Each group's sequences of codes, in the schema's order.
SUPPLIER_COMMON = _codes(
    "810D 810E 8119 8145 8154 8155 8161 8162 8168 8183 81A0 81A1 81A2 81A3 81A4 81A5 81A6 81A7 "
    "81A8 81A9 81AA 81AB 81AC 81AD 81AE 81AF 81B0 81B1 81B2 81B3 81B8 81B9 81BA 81BB 81BC 81BD "
    "81BE 81C0 81C1 81C4 81C5 81C6"
)
SUPPLIER_POLY_PHASE = ("81B7",)
OPERATOR_COMMON = ("8014", "8015")
OPERATOR_SINGLE_PHASE = _codes("8002 8006 8020 8024 8028 802C 8085 8089 808D 8091 8095 8099 8010")
OPERATOR_POLY_PHASE = _codes(
    "8003 8004 8005 8007 8008 8009 8021 8022 8023 8025 8026 8027 8029 802A 802B 802D 802E 802F "
    "8086 8087 8088 808A 808B 808C 808E 808F 8090 8092 8093 8094 8096 8097 8098 809A 809B 809C "
    "8011 8016 8013"
)
GAS_SUPPLIER = _codes(
    "810D 810E 8119 8145 8154 8155 8168 8183 8184 81A1 81A4 81A5 81A6 81A7 81A8 81A9 81AA 81AB "
    "81AC 81AD 81AE 81AF 81B0 81B1 81B2 81B3 81B4 81B5 81B6 81B9 81BA 81BC 81BD 81BE 81BF 81C0 "
    "81C2 81C3 81C4 81C5"
)
# group element -> its sequences (element name, codes), in order
_GROUPS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "ElectricitySupplierAlerts": (
        ("SupplierESMECommon", SUPPLIER_COMMON),
        ("SupplierESMEPolyPhase", SUPPLIER_POLY_PHASE),
    ),
    "ElectricityNetworkOperatorAlerts": (
        ("NetworkOperatorESMECommon", OPERATOR_COMMON),
        ("NetworkOperatorESMESinglePhase", OPERATOR_SINGLE_PHASE),
        ("NetworkOperatorESMEPolyPhase", OPERATOR_POLY_PHASE),
    ),
}
_REFUSED = (
    "ElectricitySupplierHANAlertSettings",
    "ElectricitySupplierAlarmSettings",
    "ElectricitySupplierLoggingSettings",
    "ElectricityNetworkOperatorLoggingSettings",
    "GasSupplierAlertEventSettings",
)
CHILDREN = (*_GROUPS, "GasSupplierAlerts", *_REFUSED)
_ENABLE = {"Enable": True, "Disable": False}


def read_alert_behaviour(node: Node) -> dict[str, Any]:
    """Every code the body names, ``Enable`` as True."""
    group = node.one_of(*CHILDREN)
    if group in _REFUSED:
        raise InvalidField(
            node.field(group),
            "configures HAN alerts, alarms or logging, which SMETS1 meters do not have: the "
            "SMETS1 equivalent configures the alerts a meter sends over the WAN",
        )
    behaviours: dict[str, bool] = {}
    if group == "GasSupplierAlerts":
        _read_codes(node.node(group, tuple("x" + code for code in GAS_SUPPLIER)), behaviours)
        fuel = "gas"
    else:
        parts = node.node(group, tuple(name for name, _ in _GROUPS[group]))
        for name, codes in _GROUPS[group]:
            if parts.has(name):
                _read_codes(parts.node(name, tuple("x" + code for code in codes)), behaviours)
        fuel = "electricity"
    if not behaviours:
        raise InvalidField(node.field(group), "names no alert")
    return {"alertBehaviours": behaviours, "fuel": fuel}


def _read_codes(node: Node, behaviours: dict[str, bool]) -> None:
    for child in node.element:
        tag = child.tag
        if isinstance(tag, str):
            name = etree.QName(tag).localname
            if name[1:] in behaviours:
                raise InvalidField(node.field(name), "appears more than once")
            behaviours[name[1:]] = choice(child, node.field(name), _ENABLE)


def build_alert_behaviour(values: Values, body: etree._Element, fuel: str) -> None:
    """The one group holding every code: the supplier's or the network operator's (single or
    poly phase) for electricity, the supplier's for gas."""
    given = values.take("alertBehaviours")
    if not isinstance(given, dict) or not given:
        raise ValueError("alertBehaviours: a mapping of alert codes to True/False is expected")
    for code, enabled in given.items():
        if not isinstance(enabled, bool):
            raise ValueError(f"alertBehaviours.{code}: True or False is expected")
    codes = set(given)
    if fuel == "gas":
        layout: tuple[tuple[str, tuple[str, ...]], ...] = (("", GAS_SUPPLIER),)
        group = "GasSupplierAlerts"
    else:
        group, layout = _electricity_layout(codes)
    element = add(body, group)
    for name, sequence in layout:
        present = [code for code in sequence if code in codes]
        if present or not name:
            part = add(element, name) if name else element
            for code in present:
                add(part, "x" + code, "Enable" if given[code] else "Disable")
    known = {code for _, sequence in layout for code in sequence}
    unknown = sorted(str(code) for code in codes - known)
    if unknown:
        raise ValueError(
            f"alertBehaviours: {', '.join(unknown)} cannot be configured by one {fuel} 6.22 request"
        )


def _electricity_layout(
    codes: set[str],
) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    if codes <= set(SUPPLIER_COMMON + SUPPLIER_POLY_PHASE):
        return "ElectricitySupplierAlerts", _GROUPS["ElectricitySupplierAlerts"]
    common, single, poly = _GROUPS["ElectricityNetworkOperatorAlerts"]
    if codes & set(single[1]) and codes & set(poly[1]):
        raise ValueError(
            "alertBehaviours: single and poly phase alerts cannot be configured together"
        )
    phase = poly if codes & set(poly[1]) else single
    return "ElectricityNetworkOperatorAlerts", (common, phase)
