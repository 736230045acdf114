"""The service's XML-signing identities (DSP, S1SP): a private key and its certificate.

Rules: a configured key and certificate (for example the public test DSP's) are used as they
are; otherwise the identity is made once in the key directory (``dsp.key`` PKCS#8 PEM with
mode 0600, ``dsp.pem``), a fresh ECDSA P-256 key with a self-signed certificate carrying the
service's EUI-64. The certificate must match the key. The key is never logged or printed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from lxml import etree

from s1adopt.domain.errors import ConfigurationError
from s1adopt.domain.identities import Eui64
from s1adopt.formats.duis.certificates import (
    CertificateError,
    certificate_pem,
    issuer_name,
    load_certificate,
    load_private_key,
    new_signing_identity,
    private_key_pem,
)
from s1adopt.formats.duis.xmldsig import sign


@dataclass(frozen=True)
class SigningIdentity:
    """A key with its certificate; ``sign`` signs a DUIS document as this identity."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    issuer: str = field(init=False)  # the certificate's issuer, as KeyInfo names it

    def __post_init__(self) -> None:
        object.__setattr__(self, "issuer", issuer_name(self.certificate))

    def sign(self, root: etree._Element) -> bytes:
        """``services.duis.ports.ResponseSigner``: the compact, signed document."""
        return sign(root, self.key, self.issuer, self.certificate.serial_number)


def load_identity(key_path: Path, cert_path: Path) -> SigningIdentity:
    """A configured identity; ``ConfigurationError`` names what is wrong."""
    try:
        key = load_private_key(key_path.read_bytes())
        cert = load_certificate(cert_path.read_bytes())
    except OSError as exc:
        raise ConfigurationError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    except CertificateError as exc:
        raise ConfigurationError(str(exc)) from exc
    if _public_der(cert.public_key()) != _public_der(key.public_key()):
        raise ConfigurationError(f"the certificate {cert_path} is not the key {key_path}'s")
    return SigningIdentity(key, cert)


def identity_in(key_dir: Path, name: str, eui: Eui64, role_code: str) -> SigningIdentity:
    """The identity ``name`` in the key directory, made on first use."""
    key_path, cert_path = key_dir / f"{name}.key", key_dir / f"{name}.pem"
    if key_path.exists() and cert_path.exists():
        return load_identity(key_path, cert_path)
    key, cert = new_signing_identity(eui, f"s1adopt {name}", role_code)
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_key_pem(key))
    cert_path.write_bytes(certificate_pem(cert))
    return SigningIdentity(key, cert)


def _public_der(public: object) -> bytes:
    """A public key's DER SubjectPublicKeyInfo (to compare keys of any type)."""
    assert hasattr(public, "public_bytes")
    der: bytes = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return der
