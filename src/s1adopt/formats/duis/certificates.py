"""XML-signing keys and X.509 certificates of DUIS parties.

Rules:
- DUIS XML signatures use ECDSA P-256: a key or certificate on another curve or algorithm is
  refused when it is loaded, not when it first fails to verify.
- Private keys are read as PKCS#8 (DER, like DCC's test keys, or PEM), certificates as PEM (or
  DER). Error messages never quote key material.
- A party's EUI-64 is in its certificate's subject, attribute x500UniqueIdentifier (2.5.4.45):
  a DER BIT STRING ``03 09 00`` followed by the 8 bytes of the EUI-64.
- KeyInfo names a certificate by issuer name (RFC 4514 text, ``CN=Z1,OU=07``) and serial
  number. Writers differ in spacing, attribute order and the case of attribute types
  (``CN=U1, OU=07``), so issuer names are compared with ``same_issuer``, not as strings.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type  # the only way to ask for a BIT STRING value
from cryptography.x509.oid import NameOID

from s1adopt.domain.errors import InvalidIdentity, S1AdoptError
from s1adopt.domain.identities import Eui64

_CURVE = "secp256r1"
_EUI_PREFIX = b"\x00"  # BIT STRING content starts with its count of unused bits: none


class CertificateError(S1AdoptError):
    """A key or certificate that cannot be used for DUIS XML signatures (unreadable, not
    ECDSA P-256, or without the holder's EUI-64)."""


# -- reading ------------------------------------------------------------------------------------


def load_private_key(data: bytes, password: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """An ECDSA P-256 private key from PKCS#8 DER or PEM (encrypted if ``password`` is given)."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password)
        else:
            key = serialization.load_der_private_key(data, password)
    except TypeError:
        raise CertificateError(
            "the private key is encrypted: give its password"
            if password is None
            else "the private key is not encrypted: give no password"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError(
            "unreadable private key: expected PKCS#8 DER or PEM (or the password is wrong)"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != _CURVE:
        raise CertificateError(
            f"the private key is {_describe(key)}: DUIS XML signatures need ECDSA P-256"
        )
    return key


def load_certificate(data: bytes) -> x509.Certificate:
    """An X.509 certificate (PEM, or DER) whose public key is ECDSA P-256."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
    except ValueError:
        raise CertificateError("unreadable certificate: expected X.509 in PEM or DER") from None
    public_key_of(cert)
    return cert


def public_key_of(cert: x509.Certificate) -> ec.EllipticCurvePublicKey:
    """The certificate's ECDSA P-256 public key (``CertificateError`` for any other)."""
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateError("the certificate's public key cannot be read") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != _CURVE:
        raise CertificateError(
            f"the certificate holds {_describe(key)}: DUIS XML signatures need ECDSA P-256"
        )
    return key


def certificate_eui(cert: x509.Certificate) -> Eui64:
    """The holder's EUI-64, from the subject's x500UniqueIdentifier."""
    values = cert.subject.get_attributes_for_oid(NameOID.X500_UNIQUE_IDENTIFIER)
    if len(values) != 1:
        raise CertificateError(
            "the certificate's subject has no x500UniqueIdentifier holding the EUI-64"
            if not values
            else "the certificate's subject has more than one x500UniqueIdentifier"
        )
    value = values[0].value
    try:
        if isinstance(value, str):  # written as text by some tools
            return Eui64.parse(value)
        if len(value) == 9 and value.startswith(_EUI_PREFIX):
            return Eui64.from_int(int.from_bytes(value[1:], "big"))
    except InvalidIdentity:
        pass
    raise CertificateError(
        "the certificate's x500UniqueIdentifier is not an EUI-64 (a BIT STRING of 8 bytes)"
    )


def issuer_name(cert: x509.Certificate) -> str:
    """The certificate's issuer as X509IssuerName text (RFC 4514: ``CN=Z1,OU=07``)."""
    return _rfc4514(cert.issuer)


def identifies(cert: x509.Certificate, issuer: str, serial: int) -> bool:
    """Whether KeyInfo's issuer name and serial number name this certificate."""
    return cert.serial_number == serial and same_issuer(issuer_name(cert), issuer)


# -- comparing issuer names ---------------------------------------------------------------------

_SHORT_NAMES = {
    "CN": "2.5.4.3",
    "SN": "2.5.4.4",
    "SERIALNUMBER": "2.5.4.5",
    "C": "2.5.4.6",
    "L": "2.5.4.7",
    "ST": "2.5.4.8",
    "S": "2.5.4.8",
    "STREET": "2.5.4.9",
    "O": "2.5.4.10",
    "OU": "2.5.4.11",
    "T": "2.5.4.12",
    "TITLE": "2.5.4.12",
    "GIVENNAME": "2.5.4.42",
    "X500UNIQUEIDENTIFIER": "2.5.4.45",
    "DNQUALIFIER": "2.5.4.46",
    "DC": "0.9.2342.19200300.100.1.25",
    "UID": "0.9.2342.19200300.100.1.1",
    "E": "1.2.840.113549.1.9.1",
    "EMAILADDRESS": "1.2.840.113549.1.9.1",
}
_STRING_TAGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1"}
_BIT_STRING = 0x03
_SEPARATORS = ",;+"


def same_issuer(a: str, b: str) -> bool:
    """Whether two issuer names (RFC 4514 text) name the same issuer.

    Lenient where writers differ: the order the attributes are written in (``CN=Z1,OU=07`` is
    ``OU=07,CN=Z1``, as ``domain.duis.normal_issuer`` has it), spaces around separators and runs
    of spaces, the case and alias of attribute types (``cn``, ``CN``, ``OID.2.5.4.3``,
    ``2.5.4.3``), the case of values, and escaped, quoted or ``#`` hex values. Not lenient about
    the attributes themselves: another value, a missing or an extra attribute is another issuer.
    """
    first, second = _parse_name(a), _parse_name(b)
    if first is None or second is None:  # not RFC 4514: compare the text, spaces aside
        return " ".join(a.split()) == " ".join(b.split())
    return first == second


def _parse_name(text: str) -> list[tuple[tuple[str, str], ...]] | None:
    """The name's relative names, each a sorted tuple of (type OID, normalised value), sorted."""
    rdns = _read_rdns(text)
    return None if rdns is None else sorted(tuple(sorted(rdn)) for rdn in rdns)


def _read_rdns(text: str) -> list[list[tuple[str, str]]] | None:
    rdns: list[list[tuple[str, str]]] = []
    attributes: list[tuple[str, str]] = []
    at = 0
    while True:
        equals = text.find("=", at)
        if equals < 0:
            return None
        kind = _attribute_type(text[at:equals])
        parsed = _attribute_value(text, equals + 1)
        if kind is None or parsed is None:
            return None
        value, at = parsed
        attributes.append((kind, value))
        if at >= len(text):
            rdns.append(attributes)
            return rdns
        if text[at] != "+":
            rdns.append(attributes)
            attributes = []
        at += 1


def _attribute_type(text: str) -> str | None:
    kind = text.strip().upper().removeprefix("OID.")
    if not kind or any(c in kind for c in '\\"' + _SEPARATORS):
        return None
    return _SHORT_NAMES.get(kind, kind)


def _attribute_value(text: str, at: int) -> tuple[str, int] | None:
    """The normalised value starting at ``at`` and the index of the separator after it."""
    end = len(text)
    while at < end and text[at] == " ":
        at += 1
    if at < end and text[at] == "#":
        stop = at + 1
        while stop < end and text[stop] in string.hexdigits:
            stop += 1
        try:
            value = _ber_value(bytes.fromhex(text[at + 1 : stop]))
        except ValueError:
            return None
        at = stop
    else:
        raw = bytearray()
        quoted = at < end and text[at] == '"'
        at += quoted
        while at < end:
            char = text[at]
            if quoted and char == '"':
                at += 1
                quoted = False
                break
            if not quoted and char in _SEPARATORS:
                break
            if char == "\\" and at + 1 < end:
                pair = text[at + 1 : at + 3]
                if len(pair) == 2 and all(c in string.hexdigits for c in pair):
                    raw.append(int(pair, 16))
                    at += 3
                    continue
                char = text[at + 1]
                at += 1
            raw.extend(char.encode())
            at += 1
        if quoted:
            return None
        value = _normalised(raw.decode("utf-8", "replace"))
    while at < end and text[at] == " ":
        at += 1
    if at < end and text[at] not in _SEPARATORS:
        return None
    return value, at


def _ber_value(data: bytes) -> str:
    """A ``#`` hex value: a string type's text, else the hex of the content (for a BIT STRING
    the same as the ``#`` form ``cryptography`` writes, without tag and length)."""
    if len(data) >= 2 and data[1] == len(data) - 2:
        if data[0] in _STRING_TAGS:
            return _normalised(data[2:].decode(_STRING_TAGS[data[0]], "replace"))
        if data[0] == _BIT_STRING:
            return "#" + data[2:].hex()
    return "#" + data.hex()


def _normalised(value: str) -> str:
    return " ".join(value.split()).casefold()


def _rfc4514(name: x509.Name) -> str:
    rdns = []
    for rdn in reversed(name.rdns):
        parts = []
        for attribute in rdn:
            if isinstance(attribute.value, bytes):  # RFC 4514: '#' and the BER, in hex
                ber = bytes([_BIT_STRING]) + _der_length(len(attribute.value)) + attribute.value
                parts.append(f"{attribute.oid.dotted_string}=#{ber.hex().upper()}")
            else:
                parts.append(attribute.rfc4514_string())
        rdns.append("+".join(parts))
    return ",".join(rdns)


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


# -- making and writing -------------------------------------------------------------------------


def new_signing_identity(
    eui: Eui64,
    common_name: str,
    role_code: str,
    *,
    valid_for: timedelta = timedelta(days=20 * 365),
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A fresh ECDSA P-256 key and a self-signed certificate for it whose subject carries
    ``eui`` in x500UniqueIdentifier (as DCC's certificates do), the role code as OU and
    ``common_name`` as CN."""
    if not 0 < len(common_name) <= 64 or not 0 < len(role_code) <= 64:
        raise CertificateError("a common name and a role code of 1 to 64 characters are needed")
    key = ec.generate_private_key(ec.SECP256R1())
    eui_bits = _EUI_PREFIX + int(eui.hex, 16).to_bytes(8, "big")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role_code),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, eui_bits, _ASN1Type.BitString),
        ]
    )
    now = datetime.now(UTC).replace(microsecond=0)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + valid_for)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def private_key_pem(key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with ``password`` when one is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def private_key_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    """Unencrypted PKCS#8 DER, the form of DCC's test keys."""
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def certificate_pem(cert: x509.Certificate) -> bytes:
    """The certificate in PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def _describe(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return f"ECDSA on {key.curve.name}"
    return type(key).__name__.removeprefix("_")
