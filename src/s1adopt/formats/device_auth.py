"""Authentication of device operations, the same on every head-end protocol.

- A request proves possession of the device's current credential with
  ``tag = HMAC-SHA256(credential, op | device | nonce | SHA-256(canonical params))``, where the
  canonical params are the JSON of the decoded parameters with sorted keys and no spaces, so
  every protocol computes the same tag from what it decoded.
- A new credential travels sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the
  current credential, with the device as associated data.
- Error codes a head end answers with are the same on every protocol (``ErrorCode``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from s1adopt.domain.errors import CredentialError
from s1adopt.domain.secrets import Secret


class ErrorCode(StrEnum):
    """Why a head end refused or could not carry out a device operation."""

    AUTH_FAILED = "AUTH_FAILED"  # the device rejected the credential
    NO_RESPONSE = "NO_RESPONSE"  # the device did not answer over the WAN
    UNKNOWN_DEVICE = "UNKNOWN_DEVICE"  # the head end does not serve this device
    BUSY = "BUSY"  # the head end is at its session limit; try again later (transient)
    UNAVAILABLE = "UNAVAILABLE"  # the head end is down (transient)
    BAD_REQUEST = "BAD_REQUEST"  # the request is malformed
    NOT_SUPPORTED = "NOT_SUPPORTED"  # the device's model does not support the operation
    REJECTED = "REJECTED"  # the device refused the command (parameters, state, duplicate)
    HAN_FAILURE = "HAN_FAILURE"  # the hub could not reach the device over the HAN


TRANSIENT = frozenset({ErrorCode.BUSY, ErrorCode.UNAVAILABLE})


_NONCES_AT_ONCE = 256
_random_pool: list[str] = []
os.register_at_fork(after_in_child=_random_pool.clear)  # a child draws its own


def new_nonce() -> str:
    """A fresh request nonce (24 hex digits): 12 random bytes (drawn from the OS many at a
    time, as one system call per request would cost more than the rest of the nonce)."""
    if not _random_pool:
        block = os.urandom(12 * _NONCES_AT_ONCE).hex()
        _random_pool.extend(block[i : i + 24] for i in range(0, len(block), 24))
    return _random_pool.pop()


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_NO_PARAMS_DIGEST = hashlib.sha256(b"{}").digest()


def canonical_params(params: dict[str, Any]) -> bytes:
    """The canonical bytes of decoded parameters (sorted keys, no spaces, UTF-8)."""
    return _CANONICAL.encode(params).encode()


def request_tag(
    credential: Secret, op: str, device_hex: str, nonce: str, params: dict[str, Any]
) -> str:
    """The HMAC that proves possession of ``credential`` for one operation."""
    message = b"|".join(
        (
            op.encode(),
            device_hex.upper().encode(),
            nonce.encode(),
            hashlib.sha256(canonical_params(params)).digest() if params else _NO_PARAMS_DIGEST,
        )
    )
    return hmac.new(credential.reveal(), message, hashlib.sha256).hexdigest()


def tag_valid(
    credential: Secret, op: str, device_hex: str, nonce: str, params: dict[str, Any], tag: str
) -> bool:
    """Constant-time check of a request's tag; False for a tag that is not ASCII."""
    if not tag.isascii():
        return False
    expected = request_tag(credential, op, device_hex, nonce, params)
    return hmac.compare_digest(expected, tag)


def _transfer_key(current: Secret, device_hex: str) -> AESGCM:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"s1adopt-credential-replacement-v1|" + device_hex.upper().encode(),
    )
    return AESGCM(hkdf.derive(current.reveal()))


def seal_new_credential(current: Secret, new: Secret, device_hex: str) -> dict[str, str]:
    """The ``replace_credential`` params: ``{sealNonce, sealed}`` (hex)."""
    nonce = os.urandom(12)
    aad = device_hex.upper().encode()
    sealed = _transfer_key(current, device_hex).encrypt(nonce, new.reveal(), aad)
    return {"sealNonce": nonce.hex(), "sealed": sealed.hex()}


def open_new_credential(current: Secret, device_hex: str, params: dict[str, Any]) -> Secret:
    """The device's side of ``seal_new_credential``; ``CredentialError`` if it does not open."""
    try:
        return Secret(
            _transfer_key(current, device_hex).decrypt(
                bytes.fromhex(str(params["sealNonce"])),
                bytes.fromhex(str(params["sealed"])),
                device_hex.upper().encode(),
            )
        )
    except (InvalidTag, ValueError, KeyError) as exc:
        raise CredentialError("new credential cannot be opened") from exc
