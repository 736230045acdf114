"""Wire format of the emulated SMSO head-end protocol ``s1-json/1`` (JSON over HTTP).

Operations (POST, JSON bodies, one device per request):
- ``/v1/devices/<EUI hex>/identity``: body ``{nonce, tag}``; answers the device's type,
  manufacturer, model and firmware version.
- ``/v1/devices/<EUI hex>/credential``: body ``{nonce, tag, sealed, sealNonce}``; replaces the
  device's credential. ``sealed`` is the new credential encrypted with AES-GCM under a key
  derived from the current credential, so it never crosses the wire in clear.
- ``/v1/batch``: body ``{operations: [{device, op, nonce, tag, ...}]}`` with at most
  ``MAX_BATCH_OPERATIONS`` device operations, each with the fields of its single form; answers
  ``{results: [{status, body}]}`` in the same order, ``status`` and ``body`` being what the
  single request would have answered. Devices are still addressed one by one; the batch only
  saves round trips (SMSO head-end APIs offer bulk submission for the same reason).
Authentication: ``tag`` is HMAC-SHA256 keyed with the device's current credential over
``op|device|nonce|payload digest``; the device refuses a wrong tag (``AUTH_FAILED``).
Errors: ``{error: CODE, message}`` with the codes in ``ErrorCode``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from s1adopt.domain.errors import CredentialError
from s1adopt.domain.secrets import Secret

PROTOCOL = "s1-json/1"
MAX_BODY_BYTES = 64 * 1024
BATCH_PATH = "/v1/batch"
MAX_BATCH_OPERATIONS = 256
MAX_BATCH_BODY_BYTES = MAX_BATCH_OPERATIONS * 1024


class Operation(StrEnum):
    """Device operations of protocol version 1."""

    READ_IDENTITY = "identity"
    REPLACE_CREDENTIAL = "credential"


class ErrorCode(StrEnum):
    """Error codes a head end answers with."""

    AUTH_FAILED = "AUTH_FAILED"  # the device rejected the credential
    NO_RESPONSE = "NO_RESPONSE"  # the device did not answer over the WAN
    UNKNOWN_DEVICE = "UNKNOWN_DEVICE"  # the head end does not serve this device
    BUSY = "BUSY"  # the head end is at its session limit; try again later
    BAD_REQUEST = "BAD_REQUEST"  # the request is malformed


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.AUTH_FAILED: 401,
    ErrorCode.NO_RESPONSE: 504,
    ErrorCode.UNKNOWN_DEVICE: 404,
    ErrorCode.BUSY: 503,
    ErrorCode.BAD_REQUEST: 400,
}


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """What a device reports about itself."""

    device_type: str
    manufacturer: str
    model: str
    firmware_version: str | None


def path_for(device_hex: str, op: Operation) -> str:
    """The URL path of ``op`` on a device."""
    return f"/v1/devices/{device_hex}/{op}"


def new_nonce() -> str:
    """A fresh request nonce (hex)."""
    return os.urandom(12).hex()


def auth_tag(credential: Secret, op: Operation, device_hex: str, nonce: str, payload: bytes) -> str:
    """The HMAC that proves possession of ``credential`` for one request."""
    message = b"|".join(
        (op.encode(), device_hex.encode(), nonce.encode(), hashlib.sha256(payload).digest())
    )
    return hmac.new(credential.reveal(), message, hashlib.sha256).hexdigest()


def tag_matches(
    credential: Secret, op: Operation, device_hex: str, nonce: str, payload: bytes, tag: str
) -> bool:
    """Constant-time check of a request's tag (False for a tag that is not ASCII)."""
    if not tag.isascii():
        return False
    return hmac.compare_digest(auth_tag(credential, op, device_hex, nonce, payload), tag)


def _transfer_key(current: Secret, device_hex: str) -> AESGCM:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"s1adopt-credential-replacement-v1|" + device_hex.encode(),
    )
    return AESGCM(hkdf.derive(current.reveal()))


def seal_new_credential(current: Secret, new: Secret, device_hex: str) -> tuple[str, str]:
    """Encrypt ``new`` for a device that holds ``current``: (seal nonce hex, sealed hex)."""
    nonce = os.urandom(12)
    sealed = _transfer_key(current, device_hex).encrypt(nonce, new.reveal(), device_hex.encode())
    return nonce.hex(), sealed.hex()


def open_new_credential(current: Secret, device_hex: str, seal_nonce: str, sealed: str) -> Secret:
    """The device's side of ``seal_new_credential``."""
    try:
        return Secret(
            _transfer_key(current, device_hex).decrypt(
                bytes.fromhex(seal_nonce), bytes.fromhex(sealed), device_hex.encode()
            )
        )
    except (InvalidTag, ValueError) as exc:
        raise CredentialError("new credential cannot be opened") from exc
