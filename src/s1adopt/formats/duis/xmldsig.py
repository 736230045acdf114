"""The DUIS enveloped XML signature, on lxml and ``cryptography``.

Only the DUIS profile is accepted, exactly as DCC's public tools write it:
- one ``ds:Signature`` child of the document's root (``sign`` puts it last), holding
  ``SignedInfo``, ``SignatureValue`` and ``KeyInfo`` in that order;
- SignedInfo is canonicalised with exclusive C14N (no InclusiveNamespaces) and signed with
  ECDSA P-256 over SHA-256; the SignatureValue is the base64 of raw r||s (32 + 32 bytes), and
  whitespace inside it (the tools write CR/LF there) is ignored on reading;
- exactly one Reference, ``URI=""``, whose only transform is the enveloped-signature transform
  and whose DigestValue is SHA-256 over the inclusive C14N 1.0, without comments, of the
  document with the Signature element removed (the text around it stays, as the transform says);
- KeyInfo holds only X509Data/X509IssuerSerial: the issuer name and the decimal serial number
  by which the signer's certificate is found.

Whitespace: DCC's tool ignores whitespace between elements and signs the compact form, so
``sign`` compacts the document before signing it, and ``verify`` accepts a document that
verifies as given or, failing that, once compacted (an indented copy of a compact signed
document).

``verify`` and ``signer_of`` leave the tree as they found it, but while ``verify`` digests the
document it puts markers in the text around the Signature (and, on the fallback, takes the
whitespace out): do not let another thread read the same tree meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from lxml import etree

from s1adopt.domain.duis import DSIG_NAMESPACE
from s1adopt.domain.errors import S1AdoptError

EXCLUSIVE_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
ENVELOPED_SIGNATURE = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"

_DS = "{" + DSIG_NAMESPACE + "}"
SIGNATURE_TAG = _DS + "Signature"
_DS_PREFIX = {"ds": DSIG_NAMESPACE}

_XML_SPACE = " \t\r\n"
_NO_XML_SPACE = str.maketrans("", "", _XML_SPACE)
_MAX_BASE64 = 256  # characters (whitespace included) of a DigestValue or SignatureValue
_MAX_ISSUER = 1024  # characters of an X509IssuerName
_DECIMAL_SERIAL = re.compile(r"[0-9]{1,64}")  # RFC 5280 serials are at most 20 octets
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'
# Whitespace-only text between two pieces of markup in a C14N form (which escapes "<" in text
# and attribute values and drops comments): every stretch ``compact`` would remove matches.
_MAYBE_INTER_ELEMENT_SPACE = re.compile(rb">(?:[ \t\n]|&#xD;)+<")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters but XML space


class SignatureInvalid(S1AdoptError):
    """A document's XML signature is missing, outside the DUIS profile, or does not verify;
    ``reason`` says which, in words a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"XML signature refused: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SignerRef:
    """The signer's certificate as KeyInfo names it: issuer name and serial number."""

    issuer: str
    serial: int


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A Signature element that passed the profile checks."""

    element: etree._Element
    signed_info: etree._Element
    digest: bytes
    value_der: bytes
    signer: SignerRef


def sign(root: etree._Element, key: ec.EllipticCurvePrivateKey, issuer: str, serial: int) -> bytes:
    """Sign the document whose root is ``root`` and return it serialised (UTF-8, with an XML
    declaration).

    The document is compacted first (DCC's tool checks the compact form), any signature already
    enveloped in the root (a template's placeholder) is replaced, and the new ``ds:Signature``
    is appended as the root's last child: ``root`` is left signed.
    """
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("DUIS signatures need an ECDSA P-256 private key")
    if not issuer.strip(_XML_SPACE) or len(issuer) > _MAX_ISSUER:
        raise ValueError(f"issuer name {issuer[:80]!r} must be 1 to {_MAX_ISSUER} characters")
    if serial < 0:
        raise ValueError(f"certificate serial {serial} is negative")
    if _CONTROL.search(issuer):
        raise ValueError(f"issuer name {issuer[:80]!r} holds control characters")
    for placeholder in list(root.iterchildren(SIGNATURE_TAG)):
        _detach(placeholder)
    canonical = _c14n(root)
    if _MAYBE_INTER_ELEMENT_SPACE.search(canonical):  # else compact already: skip the walk
        compact(root)
        canonical = _c14n(root)
    digest = base64.b64encode(hashlib.sha256(canonical).digest()).decode("ascii")
    signed_info, signature_value = _new_signature(root, digest, issuer, serial)
    canonical_signed_info = _exclusive_c14n(signed_info)
    r, s = decode_dss_signature(key.sign(canonical_signed_info, _ECDSA_SHA256))
    signature_value.text = base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
    return _XML_DECLARATION + etree.tostring(
        root.getroottree(), encoding="UTF-8", xml_declaration=False
    )


def signer_of(root: etree._Element) -> SignerRef:
    """The issuer and serial of the certificate that signed the document, from its KeyInfo.

    The whole Signature must be in the DUIS profile; ``SignatureInvalid`` says what is not.
    """
    return _parse(_the_signature(root)).signer


def verify(root: etree._Element, public_key: ec.EllipticCurvePublicKey) -> None:
    """Check the document's enveloped signature with the signer's public key.

    Refuses (``SignatureInvalid``, naming the reason) a missing or second signature, any
    algorithm, transform or reference outside the DUIS profile, a digest that does not match
    the document as given nor its compact form, and a signature value that is malformed or does
    not match SignedInfo (as given or compacted).
    """
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or (
        public_key.curve.name != "secp256r1"
    ):
        raise SignatureInvalid("the signer's certificate does not hold an ECDSA P-256 key")
    parsed = _parse(_the_signature(root))
    if not _digest_matches(root, parsed):
        raise SignatureInvalid(
            "digest mismatch: the document is not the one that was signed (changed after "
            "signing, or signed in another form than its compact form)"
        )
    if not _value_matches(parsed, public_key):
        raise SignatureInvalid(
            "signature value does not match: SignedInfo was not signed by this certificate's key"
        )


def compact(root: etree._Element) -> None:
    """Remove whitespace-only text between elements, in place.

    Only element-only content is touched: text of an element without child elements (its
    value, even if it is only spaces) and mixed content (text beside child elements) stay.
    """
    _strip_inter_element_space(root)


# -- profile checks ----------------------------------------------------------------------------


def _the_signature(root: etree._Element) -> etree._Element:
    signatures = list(root.iterchildren(SIGNATURE_TAG))
    if not signatures:
        raise SignatureInvalid("no signature: the document's root has no ds:Signature element")
    if len(signatures) > 1:
        raise SignatureInvalid(
            f"more than one signature: the root holds {len(signatures)} ds:Signature elements"
        )
    return signatures[0]


# The profile's Signature: its elements in document order, with how many children each has.
_PROFILE = (
    ("Signature", 3),
    ("SignedInfo", 3),
    ("CanonicalizationMethod", 0),
    ("SignatureMethod", 0),
    ("Reference", 3),
    ("Transforms", 1),
    ("Transform", 0),
    ("DigestMethod", 0),
    ("DigestValue", 0),
    ("SignatureValue", 0),
    ("KeyInfo", 1),
    ("X509Data", 1),
    ("X509IssuerSerial", 2),
    ("X509IssuerName", 0),
    ("X509SerialNumber", 0),
)
_PROFILE_TAGS = tuple(_DS + name for name, _ in _PROFILE)
_PROFILE_SIZES = tuple(size for _, size in _PROFILE)


def _parse(signature: etree._Element) -> _Parsed:
    elements = list(signature.iter(etree.Element))
    # tags in document order and child counts fix the tree's shape: one quick comparison
    if tuple(e.tag for e in elements) != _PROFILE_TAGS or (
        tuple(len(e) for e in elements) != _PROFILE_SIZES
    ):
        _check_shape(signature)  # says what differs, or passes if only comments do
    (
        _,
        signed_info,
        c14n_method,
        signature_method,
        reference,
        _,
        transform,
        digest_method,
        digest_value,
        signature_value,
        *_,
        issuer_name,
        serial_number,
    ) = elements
    _expect_algorithm(c14n_method, EXCLUSIVE_C14N, "canonicalization method")
    _expect_algorithm(signature_method, ECDSA_SHA256, "signature method")
    uri = reference.get("URI")
    if uri != "":
        shown = "no URI" if uri is None else f"URI {uri[:80]!r}"
        raise SignatureInvalid(f'wrong reference URI: {shown}; DUIS signs the document, URI=""')
    if transform.get("Algorithm") != ENVELOPED_SIGNATURE:
        raise _other_transforms([transform])
    _expect_algorithm(digest_method, SHA256, "digest method")
    digest = _base64(digest_value, "DigestValue", 32)
    raw = _base64(signature_value, "SignatureValue", 64)
    value_der = encode_dss_signature(
        int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
    )
    return _Parsed(signature, signed_info, digest, value_der, _signer(issuer_name, serial_number))


def _check_shape(signature: etree._Element) -> None:
    """Raise ``SignatureInvalid`` naming the first place where the Signature's elements differ
    from the profile's (comments between them aside)."""
    signed_info, signature_value, key_info = _expect(
        signature, ("SignedInfo", "SignatureValue", "KeyInfo")
    )
    references = sum(1 for child in _elements(signed_info) if _name(child) == "Reference")
    if references > 1:
        raise SignatureInvalid(f"more than one reference ({references}): DUIS signs one")
    c14n_method, signature_method, reference = _expect(
        signed_info, ("CanonicalizationMethod", "SignatureMethod", "Reference")
    )
    transforms, digest_method, digest_value = _expect(
        reference, ("Transforms", "DigestMethod", "DigestValue")
    )
    transform_list = _elements(transforms)
    if len(transform_list) != 1 or _name(transform_list[0]) != "Transform":
        raise _other_transforms(transform_list)
    (x509_data,) = _expect(key_info, ("X509Data",))
    (issuer_serial,) = _expect(x509_data, ("X509IssuerSerial",))
    issuer_name, serial_number = _expect(issuer_serial, ("X509IssuerName", "X509SerialNumber"))
    for method in (c14n_method, signature_method, transform_list[0], digest_method):
        if _elements(method):  # parameters (InclusiveNamespaces, HMACOutputLength...)
            raise SignatureInvalid(f"{_name(method)} must have no parameters in DUIS")
    for leaf in (digest_value, signature_value, issuer_name, serial_number):
        _leaf_text(leaf)


def _other_transforms(transforms: list[etree._Element]) -> SignatureInvalid:
    found = ", ".join(repr(t.get("Algorithm", _name(t))[:80]) for t in transforms)
    return SignatureInvalid(
        f"transforms other than the enveloped-signature transform alone: [{found}]"
    )


def _signer(issuer_name: etree._Element, serial_number: etree._Element) -> SignerRef:
    issuer = _leaf_text(issuer_name).strip(_XML_SPACE)
    if not issuer or len(issuer) > _MAX_ISSUER:
        raise SignatureInvalid(f"X509IssuerName must be 1 to {_MAX_ISSUER} characters")
    serial = _leaf_text(serial_number).strip(_XML_SPACE)
    if not _DECIMAL_SERIAL.fullmatch(serial):
        raise SignatureInvalid(
            f"X509SerialNumber {serial[:80]!r} is not a decimal number of at most 64 digits"
        )
    return SignerRef(issuer, int(serial))


def _expect(parent: etree._Element, names: tuple[str, ...]) -> list[etree._Element]:
    children = _elements(parent)
    found = tuple(_name(child) for child in children)
    if found != names:
        raise SignatureInvalid(
            f"malformed {_name(parent)}: it must hold {', '.join(names)} in that order, "
            f"not {', '.join(found)[:200] or 'nothing'}"
        )
    return children


def _expect_algorithm(element: etree._Element, algorithm: str, what: str) -> None:
    given = element.get("Algorithm")
    if given != algorithm:
        raise SignatureInvalid(f"{what} {(given or '')[:120]!r} is not DUIS's {algorithm}")


def _base64(element: etree._Element, what: str, size: int) -> bytes:
    text = _leaf_text(element)
    if len(text) > _MAX_BASE64:
        raise SignatureInvalid(
            f"{what} is too long ({len(text):,} characters) for a {size}-byte value"
        )
    try:
        data = base64.b64decode(text.translate(_NO_XML_SPACE), validate=True)
    except binascii.Error:
        raise SignatureInvalid(f"{what} is not base64") from None
    if len(data) != size:
        raise SignatureInvalid(f"{what} holds {len(data)} bytes, not {size}")
    return data


def _leaf_text(element: etree._Element) -> str:
    if len(element):  # comments or elements inside a value: refuse rather than guess
        raise SignatureInvalid(f"{_name(element)} must hold text only")
    return element.text or ""


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def _name(element: etree._Element) -> str:
    tag = element.tag
    return tag[len(_DS) :] if tag.startswith(_DS) else tag


# -- digest and signature value ------------------------------------------------------------------


def _c14n(root: etree._Element) -> bytes:
    """Inclusive C14N 1.0 without comments of the whole document (what URI="" names)."""
    return etree.tostring(root.getroottree(), method="c14n", with_comments=False)


def _exclusive_c14n(signed_info: etree._Element) -> bytes:
    """Exclusive C14N without comments (lxml keeps comments unless told not to)."""
    return etree.tostring(signed_info, method="c14n", exclusive=True, with_comments=False)


def _document_digest(root: etree._Element, signature: etree._Element) -> bytes:
    """SHA-256 of the document's C14N without ``signature``.

    The Signature is not detached for this: moving an element makes lxml rewrite namespace
    prefixes (a ``ds:`` declared again below an ``ns3:`` for the same URI becomes ``ns3:``),
    which would change the document. Instead two random markers are put in the text just before
    and just after it, and its span between them is cut out of the canonical bytes: the text
    around it stays, as the enveloped-signature transform says.
    """
    parent = signature.getparent()
    assert parent is not None
    start, end = secrets.token_hex(16), secrets.token_hex(16)  # unguessable: unique in it
    previous = signature.getprevious()
    before, after = (parent.text if previous is None else previous.tail), signature.tail
    _set_text_before(parent, previous, (before or "") + start)
    signature.tail = end + (after or "")
    try:
        canonical = _c14n(root)
    finally:
        _set_text_before(parent, previous, before)
        signature.tail = after
    cut = canonical.index(start.encode("ascii"))
    resume = canonical.index(end.encode("ascii"), cut) + len(end)
    view = memoryview(canonical)
    digest = hashlib.sha256(view[:cut])
    digest.update(view[resume:])
    return digest.digest()


def _set_text_before(
    parent: etree._Element, previous: etree._Element | None, text: str | None
) -> None:
    if previous is None:
        parent.text = text
    else:
        previous.tail = text


def _detach(element: etree._Element) -> None:
    """Remove ``element`` (an old signature), leaving its tail text in place."""
    parent = element.getparent()
    assert parent is not None
    if element.tail:
        previous = element.getprevious()
        before = parent.text if previous is None else previous.tail
        _set_text_before(parent, previous, (before or "") + element.tail)
    parent.remove(element)  # takes its tail with it: the copy above stays


def _digest_matches(root: etree._Element, parsed: _Parsed) -> bool:
    if _document_digest(root, parsed.element) == parsed.digest:
        return True
    removed = _strip_inter_element_space(root)
    if not removed:
        return False
    try:
        return _document_digest(root, parsed.element) == parsed.digest
    finally:
        _restore(removed)


def _value_matches(parsed: _Parsed, public_key: ec.EllipticCurvePublicKey) -> bool:
    if _signs(parsed, public_key):
        return True
    removed = _strip_inter_element_space(parsed.signed_info)
    if not removed:
        return False
    try:
        return _signs(parsed, public_key)
    finally:
        _restore(removed)


def _signs(parsed: _Parsed, public_key: ec.EllipticCurvePublicKey) -> bool:
    canonical = _exclusive_c14n(parsed.signed_info)
    try:
        public_key.verify(parsed.value_der, canonical, _ECDSA_SHA256)
    except InvalidSignature:
        return False
    return True


def _new_signature(
    root: etree._Element, digest: str, issuer: str, serial: int
) -> tuple[etree._Element, etree._Element]:
    """Append the Signature as the root's last child; return its SignedInfo and its (empty)
    SignatureValue.

    Its elements must keep the ``ds`` prefix. Appending a finished element makes lxml reuse a
    prefix that the root declares for the same namespace (the samples' ``ns3``), so that quick
    way (a copy of a template) is taken only when the root binds the namespace to no other
    prefix; otherwise the Signature is built in place, element by element.
    """
    prefixes = [prefix for prefix, uri in root.nsmap.items() if uri == DSIG_NAMESPACE]
    if all(prefix == "ds" for prefix in prefixes):
        signature = copy.deepcopy(_TEMPLATE)
        root.append(signature)
    else:
        signature = _build_signature(root)
    signed_info, signature_value, key_info = signature
    signed_info[2][2].text = digest  # Reference/DigestValue
    issuer_name, serial_number = key_info[0][0]  # X509Data/X509IssuerSerial
    try:
        issuer_name.text = issuer
    except ValueError:  # characters XML cannot carry: leave the document unsigned
        root.remove(signature)
        raise
    serial_number.text = str(serial)
    return signed_info, signature_value


def _build_signature(parent: etree._Element) -> etree._Element:
    signature = _ds(parent, "Signature")
    signed_info = _ds(signature, "SignedInfo")
    _ds(signed_info, "CanonicalizationMethod").set("Algorithm", EXCLUSIVE_C14N)
    _ds(signed_info, "SignatureMethod").set("Algorithm", ECDSA_SHA256)
    reference = _ds(signed_info, "Reference")
    reference.set("URI", "")
    _ds(_ds(reference, "Transforms"), "Transform").set("Algorithm", ENVELOPED_SIGNATURE)
    _ds(reference, "DigestMethod").set("Algorithm", SHA256)
    _ds(reference, "DigestValue")
    _ds(signature, "SignatureValue")
    issuer_serial = _ds(_ds(_ds(signature, "KeyInfo"), "X509Data"), "X509IssuerSerial")
    _ds(issuer_serial, "X509IssuerName")
    _ds(issuer_serial, "X509SerialNumber")
    return signature


def _ds(parent: etree._Element, name: str) -> etree._Element:
    """A new ``ds:`` child: the nsmap makes lxml use (or declare) the ``ds`` prefix."""
    return etree.SubElement(parent, _DS + name, nsmap=_DS_PREFIX)


_TEMPLATE = _build_signature(etree.Element("template"))


# -- whitespace between elements -----------------------------------------------------------------

_Removed = list[tuple[etree._Element, bool, str]]  # (node, its tail?, the text taken)


def _strip_inter_element_space(root: etree._Element) -> _Removed:
    removed: _Removed = []
    for element in root.iter(etree.Element):
        if not len(element):
            continue
        children = list(element)
        if not any(isinstance(child.tag, str) for child in children):
            continue  # text content (perhaps with comments): every character counts
        text = element.text
        if (text and text.strip(_XML_SPACE)) or any(
            child.tail and child.tail.strip(_XML_SPACE) for child in children
        ):
            continue  # mixed content
        if text:
            removed.append((element, False, text))
            element.text = None
        for child in children:
            if child.tail:
                removed.append((child, True, child.tail))
                child.tail = None
    return removed


def _restore(removed: _Removed) -> None:
    for node, is_tail, text in removed:
        if is_tail:
            node.tail = text
        else:
            node.text = text
