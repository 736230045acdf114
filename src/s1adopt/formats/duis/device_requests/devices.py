"""Credentials, the home area network and firmware: 6.15.1, 6.23, 8.7.x, 8.8.x, 8.9, 8.11 and
11.3.

Rules: a SMETS1 device holds the S1SP's credentials, never a user's certificates, so the
certificates, floor sequence numbers and CPV flag of 6.15.1 and 6.23 are checked and not
carried (``build`` fills them with ``PLACEHOLDER_CERTIFICATE``, 0 and false); the CHF
whitelist entry of 8.11 (join period, install code, meter points) belongs to the SMETS2 join
and is likewise checked and not carried. 8.9's ReadSecurityDetails is refused: the SMETS1 HAN
log has no security details. Devices are 16 upper-case hex digits.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from lxml import etree

from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.identities import Eui64
from s1adopt.formats.duis.device_requests.configuration import build_cos_mpxn, read_cos_mpxn
from s1adopt.formats.duis.device_requests.fields import (
    Node,
    Values,
    add,
    base64_text,
    boolean,
    eui,
    hex_bytes,
)
from s1adopt.formats.duis.requests import InvalidField

PLACEHOLDER_CERTIFICATE = base64.b64encode(
    b"s1adopt: no certificate; SMETS1 devices hold the S1SP's credentials"
).decode()
MAX_CERTIFICATE = 16 * 1024  # base64 characters
MAX_SEQUENCE = 2**63 - 1
ROLES = {
    role: role for role in ("ACB", "NetworkOperator", "Recovery", "Root", "Supplier", "TransCoS")
} | {"LoadController": "LoadController"}
_CERTIFICATES = (
    "DigitalSigningCertificate",
    "KeyAgreementCertificate",
    "KeyAgreementTopUpCertificate",
)
_HASH = re.compile(r"[0-9a-f]{64}")


def _certificates(node: Node, names: tuple[str, ...]) -> None:
    for name in names:
        element = node.optional(name)
        if element is not None:
            base64_text(element, node.field(name), MAX_CERTIFICATE)


def _path(node: Node) -> None:
    path = node.node("CertificationPathCertificates", ("Certificate",))
    for index, element in enumerate(path.many("Certificate", 1, 3), 1):
        base64_text(element, path.field("Certificate", index), MAX_CERTIFICATE)
    boolean(node.one("ApplyTimeBasedCPVChecks"), node.field("ApplyTimeBasedCPVChecks"))


def _sequence(node: Node, name: str, required: bool) -> None:
    if required or node.has(name):
        node.integer(name, 0, MAX_SEQUENCE)


KRP_CHILDREN = (
    "RemotePartyRole",
    "RemotePartyFloorSeqNumber",
    "RemotePartyPrepaymentTopUpFloorSeqNumber",
    "ReplacementCertificates",
    "CertificationPathCertificates",
    "ApplyTimeBasedCPVChecks",
)


def read_krp(node: Node) -> dict[str, Any]:
    """6.15.1: the remote party role whose credentials are replaced."""
    role = node.choice("RemotePartyRole", ROLES)
    _sequence(node, "RemotePartyFloorSeqNumber", False)
    _sequence(node, "RemotePartyPrepaymentTopUpFloorSeqNumber", False)
    replacement = node.node("ReplacementCertificates", ("SupplierOrNetworkOperatorCertificates",))
    _certificates(
        replacement.node("SupplierOrNetworkOperatorCertificates", _CERTIFICATES), _CERTIFICATES
    )
    _path(node)
    return {"role": role}


def build_krp(values: Values, body: etree._Element, fuel: str) -> None:
    """6.15.1 with placeholder certificates and no CPV checks."""
    add(body, "RemotePartyRole", values.one_of("role", ROLES))
    certificates = add(
        add(body, "ReplacementCertificates"), "SupplierOrNetworkOperatorCertificates"
    )
    add(certificates, "DigitalSigningCertificate", PLACEHOLDER_CERTIFICATE)
    add(add(body, "CertificationPathCertificates"), "Certificate", PLACEHOLDER_CERTIFICATE)
    add(body, "ApplyTimeBasedCPVChecks", "false")


COS_CHILDREN = (
    "SupplierFloorSeqNumber",
    "SupplierPrepaymentTopUpFloorSeqNumber",
    "SupplierReplacementCertificates",
    "CertificationPathCertificates",
    "ApplyTimeBasedCPVChecks",
    "ImportMPxN",
)


def read_cos(node: Node) -> dict[str, Any]:
    """6.23: the import meter point the incoming supplier names."""
    _sequence(node, "SupplierFloorSeqNumber", True)
    _sequence(node, "SupplierPrepaymentTopUpFloorSeqNumber", False)
    replacement = node.node("SupplierReplacementCertificates", _CERTIFICATES)
    replacement.one("DigitalSigningCertificate")
    _certificates(replacement, _CERTIFICATES)
    _path(node)
    return {"importMpxn": read_cos_mpxn(node)}


def build_cos(values: Values, body: etree._Element, fuel: str) -> None:
    """6.23 with floor sequence number 0, placeholder certificates and no CPV checks."""
    point = build_cos_mpxn(values)
    add(body, "SupplierFloorSeqNumber", 0)
    add(
        add(body, "SupplierReplacementCertificates"),
        "DigitalSigningCertificate",
        PLACEHOLDER_CERTIFICATE,
    )
    add(add(body, "CertificationPathCertificates"), "Certificate", PLACEHOLDER_CERTIFICATE)
    add(body, "ApplyTimeBasedCPVChecks", "false")
    add(body, "ImportMPxN", point)


def _device(values: Values, key: str, text: object) -> str:
    try:
        if not isinstance(text, str):
            raise InvalidIdentity("not a text")
        return Eui64.parse(text).value
    except InvalidIdentity as exc:
        raise ValueError(f"{key}: {text!r:.60} is not an EUI-64 (16 hex digits)") from exc


def read_join(node: Node) -> dict[str, Any]:
    """8.7.x and 8.8.x: the other device."""
    return {"device": eui(node.one("OtherDeviceID"), node.field("OtherDeviceID"))}


def build_join(values: Values, body: etree._Element, fuel: str) -> None:
    """8.7.x and 8.8.x."""
    add(body, "OtherDeviceID", _device(values, "device", values.take("device")))


def read_device_log(node: Node) -> dict[str, Any]:
    """8.9: nothing; ReadSecurityDetails is refused."""
    if node.has("ReadSecurityDetails"):
        raise InvalidField(
            node.field("ReadSecurityDetails"), "the SMETS1 HAN log has no security details to read"
        )
    return {}


HAN_CHILDREN = ("DeviceID", "RequestType", "AddDeviceToCHFWhitelist")
_WHITELIST = ("JoinTimePeriod", "InstallCode", "ImportMPxN", "SecondaryImportMPAN", "ExportMPAN")


def read_han_log(node: Node) -> dict[str, Any]:
    """8.11: the one device, under ``add`` or ``remove``."""
    device = eui(node.one("DeviceID"), node.field("DeviceID"))
    kind = node.choice("RequestType", {"Add": "add", "Remove": "remove"})
    if node.has("AddDeviceToCHFWhitelist"):
        whitelist = node.node("AddDeviceToCHFWhitelist", _WHITELIST)
        whitelist.integer("JoinTimePeriod", 1, 3600)
        hex_bytes(whitelist.one("InstallCode"), whitelist.field("InstallCode"), 6, 16)
        for name in _WHITELIST[2:]:
            if whitelist.has(name):
                whitelist.text(name, 13)
    return {
        "add": [device] if kind == "add" else [],
        "remove": [device] if kind == "remove" else [],
    }


def build_han_log(values: Values, body: etree._Element, fuel: str) -> None:
    """8.11: one device added or removed (DUIS carries one per request)."""
    added, removed = values.take("add"), values.take("remove")
    if not isinstance(added, list | tuple) or not isinstance(removed, list | tuple):
        raise ValueError("add, remove: lists of devices are expected")
    if len(added) + len(removed) != 1:
        raise ValueError("add, remove: one 8.11 request adds or removes exactly one device")
    key, device = ("add", added[0]) if added else ("remove", removed[0])
    add(body, "DeviceID", _device(values, key, device))
    add(body, "RequestType", "Add" if added else "Remove")


def read_firmware(node: Node) -> dict[str, Any]:
    """11.3: the hash of the image to activate (32 bytes, lower-case hex)."""
    return {"firmwareHash": hex_bytes(node.one("FirmwareHash"), node.field("FirmwareHash"), 32, 32)}


def build_firmware(values: Values, body: etree._Element, fuel: str) -> None:
    """11.3."""
    given = values.take("firmwareHash")
    text = given.lower() if isinstance(given, str) else ""
    if _HASH.fullmatch(text) is None:
        raise ValueError("firmwareHash: 64 hex digits (a SHA-256) are expected")
    add(body, "FirmwareHash", text.upper())
