"""Key material of the service and the credential vault (encryption at rest).

Rules:
- Device credentials are stored only sealed with AES-256-GCM under the vault key, with the
  device EUI-64 and the credential's purpose as associated data, so a sealed blob cannot be
  replayed for another device or use.
- Keys live in files readable only by the owner (mode 0600) in the key directory, or come from
  the environment (``S1ADOPT_VAULT_KEY``, base64). They are never logged or printed.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from s1adopt.domain.errors import ConfigurationError, CredentialError
from s1adopt.domain.identities import Eui64
from s1adopt.domain.records import MigrationFileHeader, SealedCredential
from s1adopt.domain.secrets import Secret
from s1adopt.formats.credentials import CredentialOpener

_VERSION = b"\x01"
CREDENTIAL_BYTES = 32


def _read_or_create(path: Path, make: Callable[[], bytes], create: bool) -> bytes:
    if path.exists():
        try:
            return base64.b64decode(path.read_bytes().strip(), validate=True)
        except (OSError, binascii.Error) as exc:
            raise ConfigurationError(f"key file {path} is unreadable or not base64") from exc
    if not create:
        raise ConfigurationError(f"key file {path} is missing; run `s1adopt keys init`")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = make()
    # written whole under a private name, then linked into place: processes starting at once
    # (a cluster's workers) never read a half-written key, and all end with the same one
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64encode(value) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(draft, path)
    except FileExistsError:
        return _read_or_create(path, make, create=False)  # another process was first
    finally:
        draft.unlink(missing_ok=True)
    return value


class Keyring:
    """The service's keys: the vault key and the migration transport key pair."""

    def __init__(self, key_dir: Path, vault_key: bytes | None = None, create: bool = True) -> None:
        self._vault_key = vault_key or _read_or_create(
            key_dir / "vault.key", lambda: secrets.token_bytes(32), create
        )
        if len(self._vault_key) != 32:
            raise ConfigurationError("the vault key must be 32 bytes (base64 of 32 random bytes)")
        raw = _read_or_create(
            key_dir / "migration-transport.key",
            lambda: X25519PrivateKey.generate().private_bytes_raw(),
            create,
        )
        try:
            self.transport_private_key = X25519PrivateKey.from_private_bytes(raw)
        except ValueError as exc:
            raise ConfigurationError("migration-transport.key is not an X25519 key") from exc

    @property
    def transport_public_key(self) -> bytes:
        """The public key SMSOs seal credentials for (raw 32 bytes)."""
        return self.transport_private_key.public_key().public_bytes_raw()

    def vault(self) -> CredentialVault:
        """The vault sealing credentials at rest with this keyring's vault key."""
        return CredentialVault(self._vault_key)

    def unsealer(self) -> TransportUnsealer:
        """Opens credentials of migration files sealed for this service."""
        return TransportUnsealer(self.transport_private_key)


class CredentialVault:
    """``services.ports.CredentialVault`` with AES-256-GCM."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @staticmethod
    def _aad(device: Eui64, purpose: str) -> bytes:
        return b"s1adopt-vault-v1|" + device.value.encode() + b"|" + purpose.encode()

    def seal(self, device: Eui64, purpose: str, secret: Secret) -> bytes:
        """Encrypt a credential for storage."""
        nonce = os.urandom(12)
        return (
            _VERSION
            + nonce
            + self._aead.encrypt(nonce, secret.reveal(), self._aad(device, purpose))
        )

    def open(self, device: Eui64, purpose: str, blob: bytes) -> Secret:
        """Decrypt a stored credential; ``CredentialError`` if the key or binding is wrong."""
        if blob[:1] != _VERSION or len(blob) < 13:
            raise CredentialError(f"{device}: stored {purpose} credential has an unknown format")
        try:
            return Secret(self._aead.decrypt(blob[1:13], blob[13:], self._aad(device, purpose)))
        except InvalidTag as exc:
            raise CredentialError(
                f"{device}: stored {purpose} credential cannot be opened with the vault key"
            ) from exc

    def new_credential(self) -> Secret:
        """A fresh random device credential."""
        return Secret(secrets.token_bytes(CREDENTIAL_BYTES))


class TransportUnsealer:
    """``services.ports.CredentialUnsealer`` with the service's X25519 private key."""

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._key = private_key

    def for_file(self, header: MigrationFileHeader) -> Callable[[str, SealedCredential], Secret]:
        """A function opening the credentials of the file with this header."""
        return CredentialOpener(self._key, header.transport_public_key, header.file_id).open
