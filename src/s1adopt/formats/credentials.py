"""Credential envelopes: how device credentials travel from an SMSO to this service.

Scheme ``X25519-HKDF-SHA256-AES256GCM`` (one key agreement per file, one AEAD per credential):
- the SMSO makes an ephemeral X25519 key pair per file and agrees a secret with the service's
  published migration public key;
- HKDF-SHA256 over that secret, with info ``s1adopt-migration-credentials-v1|<FileID>``, gives a
  256-bit AES-GCM key;
- each credential is sealed with a fresh 96-bit nonce and the canonical device EUI-64 as
  associated data, so a credential cannot be moved to another device or file undetected.
Only the holder of the service's private key can open the credentials.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from s1adopt.domain.errors import CredentialError
from s1adopt.domain.records import SealedCredential
from s1adopt.domain.secrets import Secret

ALGORITHM = "X25519-HKDF-SHA256-AES256GCM"


def _file_key(shared: bytes, file_id: str) -> AESGCM:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"s1adopt-migration-credentials-v1|" + file_id.encode(),
    )
    return AESGCM(hkdf.derive(shared))


class CredentialSealer:
    """The SMSO side: seals credentials of one file for the service's public key."""

    def __init__(self, service_public_key: bytes, file_id: str) -> None:
        ephemeral = X25519PrivateKey.generate()
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(service_public_key))
        self.ephemeral_public_key = ephemeral.public_key().public_bytes_raw()
        self._aead = _file_key(shared, file_id)

    def seal(self, device_id: str, credential: Secret) -> SealedCredential:
        """Seal one device's credential; ``device_id`` is the canonical EUI-64."""
        nonce = os.urandom(12)
        return SealedCredential(
            nonce, self._aead.encrypt(nonce, credential.reveal(), device_id.encode())
        )


class CredentialOpener:
    """The service side: opens the credentials of one file with the service's private key."""

    def __init__(
        self, service_private_key: X25519PrivateKey, ephemeral_public_key: bytes, file_id: str
    ) -> None:
        try:
            peer = X25519PublicKey.from_public_bytes(ephemeral_public_key)
        except ValueError as exc:
            raise CredentialError(f"file {file_id}: bad credential transport key") from exc
        self._aead = _file_key(service_private_key.exchange(peer), file_id)

    def open(self, device_id: str, sealed: SealedCredential) -> Secret:
        """The plain credential; ``CredentialError`` if it was not sealed for this service."""
        try:
            return Secret(self._aead.decrypt(sealed.nonce, sealed.ciphertext, device_id.encode()))
        except (InvalidTag, ValueError) as exc:
            raise CredentialError(f"credential of {device_id} cannot be opened") from exc
