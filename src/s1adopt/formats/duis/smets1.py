"""SMETS1 responses, device alerts and S1SP alerts, as DUIS V5.4 carries them.

Rules:
- the S1SP signs its part as a document of its own: ``SMETS1SignedResponse`` (holding
  ``SMETS1Response``: an MMC ``Header`` and a ``Body`` with the ``ResponseMessage`` payload or
  a ``DeviceAlertMessage``) and ``S1SPAlert`` each carry an enveloped signature whose
  reference (``URI=""``) is their own document. The caller signs them (``formats.duis.
  xmldsig.sign``) before they are put into a DUIS ``Response``, which the DSP then signs as a
  whole; ``embedded`` gives back an S1SP-signed part as the document it was signed as, for
  its signature to be checked;
- the namespaces: DUIS elements (``sr:``) hold the MMC header and payload elements (``ra:``);
  an S1SP document declares both prefixes on its root, as the DSP's Response declares ``sr``,
  so that the part reads the same inside the Response and on its own;
- a Response carrying a device's answer names the request (RequestID), its code (I0: the
  device answered, even to refuse; E20/E21: no answer), the time, and in its
  ``SMETS1ResponseMessage`` the service reference and variant and, for a DCC schedule's run,
  its ``DSPScheduleID``; alerts carry a ResponseID ``<originator>:<recipient>:<counter>``;
- an S1SP alert reaches a user as ``DCCAlertMessage`` / ``DCCAlert`` / ``S1SPAlertDSP``;
  its code is the project's (``S1SPAlertCode`` is a free string in V5.4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from s1adopt.domain.duis import DUIS_NAMESPACE, MMC_NAMESPACE, SCHEMA_VERSION, ResponseCode
from s1adopt.domain.identities import Eui64
from s1adopt.formats.duis.responses import service_reference_of

_SR = "{" + DUIS_NAMESPACE + "}"
_RA = "{" + MMC_NAMESPACE + "}"
_S1SP_NSMAP = {"sr": DUIS_NAMESPACE, "ra": MMC_NAMESPACE}
_DSP_NSMAP = {"sr": DUIS_NAMESPACE}
S1SP_ALERT_CODE_LIMIT = 64
_TEXT_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Smets1Header:
    """The MMC header of an S1SP response or device alert."""

    originator: Eui64  # the device
    target: Eui64  # the user (or the DSP for a DCC schedule's run)
    counter: int  # the request's counter (a response) or the alert's own
    srv: str | None  # None for a device alert
    at: datetime  # when the device answered (or raised the alert)


def signed_response_document(
    header: Smets1Header, payload: Sequence[etree._Element]
) -> etree._Element:
    """An unsigned ``SMETS1SignedResponse`` whose body is the device's response payload
    (the children of the MMC ``ResponsePayload``)."""
    root, body = _smets1_document(header)
    message = etree.SubElement(body, _SR + "ResponseMessage")
    for element in payload:
        message.append(element)
    return root


def signed_alert_document(header: Smets1Header, alert: Sequence[etree._Element]) -> etree._Element:
    """An unsigned ``SMETS1SignedResponse`` whose body is a device alert (the children of
    the MMC ``DeviceAlertMessageType``)."""
    root, body = _smets1_document(header)
    message = etree.SubElement(body, _SR + "DeviceAlertMessage")
    for element in alert:
        message.append(element)
    return root


def s1sp_alert_document(
    code: str,
    at: datetime,
    *,
    request_id: str | None = None,
    device: Eui64 | None = None,
    information: str | None = None,
) -> etree._Element:
    """An unsigned ``S1SPAlert`` (the S1SP's own event), for the S1SP to sign."""
    if not code or len(code) > S1SP_ALERT_CODE_LIMIT:
        raise ValueError(f"an S1SP alert code is 1 to {S1SP_ALERT_CODE_LIMIT} characters")
    root = etree.Element(_SR + "S1SPAlert", {"schemaVersion": SCHEMA_VERSION}, nsmap=_S1SP_NSMAP)
    if request_id is not None:
        _add(root, _SR + "RequestID", request_id)
    if device is not None:
        _add(root, _SR + "DeviceID", device.value)
    _add(root, _SR + "S1SPAlertCode", code)
    if information:
        _add(root, _SR + "AdditionalInformation", safe_text(information))
    _add(root, _SR + "DateTime", timestamp(at))
    return root


def device_response(
    request_id: str | None,
    code: ResponseCode,
    srv: str,
    at: datetime,
    signed_part: bytes | None,
    *,
    schedule_id: int | None = None,
) -> etree._Element:
    """An unsigned DUIS ``Response`` carrying the S1SP-signed response (``signed_part``, the
    bytes ``xmldsig.sign`` gave), or only the SRV when the device gave no answer."""
    root, header = _response_root(at, code, request_id=request_id)
    del header
    message = etree.SubElement(_body(root), _SR + "SMETS1ResponseMessage")
    _add(message, _SR + "ServiceReference", service_reference_of(srv))
    _add(message, _SR + "ServiceReferenceVariant", srv)
    if schedule_id is not None:
        _add(message, _SR + "DSPScheduleID", str(schedule_id))
    if signed_part is None:
        raise ValueError("an SMETS1ResponseMessage needs the S1SP's signed response")
    message.append(_part(signed_part))
    return root


def plain_response(
    request_id: str | None, code: ResponseCode, srv: str, at: datetime
) -> etree._Element:
    """An unsigned DUIS ``Response`` with no device answer (E20, E21, E30 ...)."""
    root, _ = _response_root(at, code, request_id=request_id)
    message = etree.SubElement(_body(root), _SR + "ResponseMessage")
    _add(message, _SR + "ServiceReference", service_reference_of(srv))
    _add(message, _SR + "ServiceReferenceVariant", srv)
    return root


def device_alert_response(response_id: str, at: datetime, signed_part: bytes) -> etree._Element:
    """An unsigned DUIS ``Response`` carrying an S1SP-signed device alert."""
    root, _ = _response_root(at, ResponseCode.SUCCESS, response_id=response_id)
    message = etree.SubElement(_body(root), _SR + "SMETS1ResponseMessage")
    message.append(_part(signed_part))
    return root


def s1sp_alert_response(
    response_id: str,
    alert_code: str,
    at: datetime,
    signed_alert: bytes,
    schedule_id: int | None = None,
) -> etree._Element:
    """An unsigned DUIS ``Response`` carrying an S1SP-signed ``S1SPAlert`` as a DCC alert
    (``alert_code`` is the DCC alert code, e.g. N999)."""
    root, _ = _response_root(at, ResponseCode.SUCCESS, response_id=response_id)
    message = etree.SubElement(_body(root), _SR + "DCCAlertMessage")
    _add(message, _SR + "DCCAlertCode", alert_code)
    wrapper = etree.SubElement(etree.SubElement(message, _SR + "DCCAlert"), _SR + "S1SPAlertDSP")
    wrapper.append(_part(signed_alert))
    if schedule_id is not None:
        _add(wrapper, _SR + "DSPScheduleID", str(schedule_id))
    return root


def embedded(response: etree._Element) -> etree._Element | None:
    """The S1SP-signed part of a DUIS Response (``SMETS1SignedResponse`` or ``S1SPAlert``)
    as a document of its own, ready for ``xmldsig.verify``; None if it carries none."""
    for tag in (_SR + "SMETS1SignedResponse", _SR + "S1SPAlert"):
        found = next(response.iter(tag), None)
        if found is not None:
            text = etree.tostring(found)
            return etree.fromstring(text, _safe_parser())
    return None


def timestamp(at: datetime) -> str:
    """``at`` in UTC with milliseconds and ``Z``."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a time in a response must be timezone-aware")
    utc = at.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def safe_text(text: str, limit: int = _TEXT_LIMIT) -> str:
    """``text`` without characters XML cannot hold, cut to ``limit``."""
    cleaned = "".join(
        c if c in "\t\n\r" or 0x20 <= ord(c) <= 0xD7FF or 0xE000 <= ord(c) <= 0xFFFD else "?"
        for c in text
    ).strip()
    cleaned = cleaned or "-"
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


# --- helpers ------------------------------------------------------------------------------------


def _smets1_document(header: Smets1Header) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(
        _SR + "SMETS1SignedResponse", {"schemaVersion": SCHEMA_VERSION}, nsmap=_S1SP_NSMAP
    )
    response = etree.SubElement(root, _SR + "SMETS1Response")
    mmc = etree.SubElement(response, _SR + "Header")
    _add(mmc, _RA + "BusinessOriginatorID", header.originator.value)
    _add(mmc, _RA + "BusinessTargetID", header.target.value)
    _add(mmc, _RA + "OriginatorCounter", str(header.counter))
    if header.srv is not None:
        _add(mmc, _RA + "ServiceReference", service_reference_of(header.srv))
        _add(mmc, _RA + "ServiceReferenceVariant", header.srv)
    _add(mmc, _RA + "Timestamp", timestamp(header.at))
    return root, etree.SubElement(response, _SR + "Body")


def _response_root(
    at: datetime,
    code: ResponseCode,
    *,
    request_id: str | None = None,
    response_id: str | None = None,
) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(_SR + "Response", {"schemaVersion": SCHEMA_VERSION}, nsmap=_DSP_NSMAP)
    header = etree.SubElement(root, _SR + "Header")
    if request_id is not None:
        _add(header, _SR + "RequestID", request_id)
    if response_id is not None:
        _add(header, _SR + "ResponseID", response_id)
    _add(header, _SR + "ResponseCode", code.value)
    _add(header, _SR + "ResponseDateTime", timestamp(at))
    return root, header


def _body(root: etree._Element) -> etree._Element:
    return etree.SubElement(root, _SR + "Body")


def _part(signed: bytes) -> etree._Element:
    return etree.fromstring(signed, _safe_parser())


def _add(parent: etree._Element, tag: str, text: str) -> None:
    etree.SubElement(parent, tag).text = text


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
