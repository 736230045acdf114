"""The project's SMETS1 pre-commands: what the transform service (CV4) returns for a critical
request, and what the user signs and sends back (CV5).

Rules:
- a pre-command is ``MAGIC`` followed by the compact, key-sorted UTF-8 JSON of the command:
  the CV4 request's RequestID, the device, the SRV, the request's values and the time it was
  issued. It travels base64 in ``PreCommand/GBCSPayload`` (``GBCSVersion`` is
  ``PRE_COMMAND_VERSION``), at most ``MAX_PRE_COMMAND_BYTES``;
- the user signs the pre-command's bytes with ECDSA P-256 over SHA-256 and appends the raw
  r||s (64 bytes): ``SignedPreCommand/GBCSPayload`` is pre-command + signature. (A SMETS2
  pre-command is a GBCS message signed by the supplier's Digital Signing key; a SMETS1 device
  has no GBCS, so the S1SP defines its own payload and takes the signature of any of the
  user's registered certificates.)
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from lxml import etree

from s1adopt.domain.duis import DUIS_NAMESPACE

MAGIC = b"S1PC\x01"
PRE_COMMAND_VERSION = "SMETS1-S1PC-1"
SIGNATURE_BYTES = 64
MAX_PRE_COMMAND_BYTES = 64 * 1024
_SR = "{" + DUIS_NAMESPACE + "}"
_ECDSA = ec.ECDSA(hashes.SHA256())


class PreCommandInvalid(ValueError):
    """A payload that is not a (signed) pre-command of this format."""


def encode(request_id: str, device: str, srv: str, values: Mapping[str, Any], issued: str) -> bytes:
    """A pre-command's bytes (see the module rules)."""
    command = {
        "device": device,
        "issued": issued,
        "requestId": request_id,
        "srv": srv,
        "values": dict(values),
    }
    data = MAGIC + json.dumps(command, sort_keys=True, separators=(",", ":")).encode()
    if len(data) > MAX_PRE_COMMAND_BYTES:
        raise PreCommandInvalid(f"a pre-command is at most {MAX_PRE_COMMAND_BYTES} bytes")
    return data


def decode(pre_command: bytes) -> dict[str, Any]:
    """The command a pre-command carries (``PreCommandInvalid`` if it is not one)."""
    if not pre_command.startswith(MAGIC) or len(pre_command) > MAX_PRE_COMMAND_BYTES:
        raise PreCommandInvalid("the payload is not an S1SP pre-command")
    try:
        command = json.loads(pre_command[len(MAGIC) :])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PreCommandInvalid("the pre-command's content is not readable") from exc
    if not isinstance(command, dict) or not isinstance(command.get("requestId"), str):
        raise PreCommandInvalid("the pre-command names no request")
    return command


def split_signed(payload: bytes) -> tuple[bytes, bytes]:
    """(pre-command, signature) of a signed pre-command's payload."""
    if len(payload) <= len(MAGIC) + SIGNATURE_BYTES:
        raise PreCommandInvalid("the signed pre-command is too short to hold a signature")
    return payload[:-SIGNATURE_BYTES], payload[-SIGNATURE_BYTES:]


def sign(pre_command: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """The signed pre-command's payload: ``pre_command`` + raw r||s of the user's key."""
    r, s = decode_dss_signature(key.sign(pre_command, _ECDSA))
    return pre_command + r.to_bytes(32, "big") + s.to_bytes(32, "big")


def signature_valid(
    pre_command: bytes, signature: bytes, public_key: ec.EllipticCurvePublicKey
) -> bool:
    """Whether ``signature`` (raw r||s) signs ``pre_command`` with this key."""
    if len(signature) != SIGNATURE_BYTES:
        return False
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), pre_command, _ECDSA)
    except InvalidSignature:
        return False
    return True


def pre_command_element(pre_command: bytes) -> etree._Element:
    """The DUIS ``PreCommand`` response body carrying it."""
    element = etree.Element(_SR + "PreCommand", nsmap={"sr": DUIS_NAMESPACE})
    etree.SubElement(element, _SR + "GBCSVersion").text = PRE_COMMAND_VERSION
    etree.SubElement(element, _SR + "GBCSPayload").text = base64.b64encode(pre_command).decode()
    return element


def payload_of(element: etree._Element) -> bytes:
    """The bytes of a ``PreCommand`` or ``SignedPreCommand`` element's ``GBCSPayload``."""
    found = element.find(_SR + "GBCSPayload")
    if found is None or not (found.text or "").strip():
        raise PreCommandInvalid("no GBCSPayload")
    text = "".join((found.text or "").split())
    if len(text) > MAX_PRE_COMMAND_BYTES * 4 // 3 + 4:
        raise PreCommandInvalid("the GBCSPayload is too large")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PreCommandInvalid("the GBCSPayload is not base64") from exc


def signed_pre_command_element(payload: bytes, execution: str | None = None) -> etree._Element:
    """A ``SignedPreCommand`` request body (for users' tools)."""
    element = etree.Element(_SR + "SignedPreCommand", nsmap={"sr": DUIS_NAMESPACE})
    if execution is not None:
        etree.SubElement(element, _SR + "ExecutionDateTime").text = execution
    etree.SubElement(element, _SR + "GBCSPayload").text = base64.b64encode(payload).decode()
    return element
