"""The DUIS enveloped XML signature and the certificates behind it, against DCC's public test
material in ``../shared/duis`` (read here, never copied into the product)."""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID
from lxml import etree

from s1adopt.domain.identities import Eui64
from s1adopt.formats.duis import certificates as certs
from s1adopt.formats.duis import xmldsig
from s1adopt.formats.duis.certificates import CertificateError
from s1adopt.formats.duis.xmldsig import SignatureInvalid, SignerRef

DUIS = Path(__file__).resolve().parents[3] / "shared" / "duis"
KEYS, SAMPLES, TEMPLATES = DUIS / "keys", DUIS / "samples", DUIS / "templates"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"ds": DS, "sr": "http://www.dccinterface.co.uk/ServiceUserGateway"}
SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
NETWORK_OPERATOR = Eui64.parse("90-B3-D5-1F-30-02-00-00")


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(folder.glob(pattern)) if folder.is_dir() else []


PLACEHOLDER_SAMPLES = _files(SAMPLES, "*-signed.XML")
SIGNED_SAMPLES = [
    path
    for path in _files(SAMPLES, "*")
    if path not in PLACEHOLDER_SAMPLES and b"Signature>" in path.read_bytes()
]
TEMPLATE_FILES = _files(TEMPLATES, "*.XML")


@cache
def _certificates() -> tuple[x509.Certificate, ...]:
    return tuple(certs.load_certificate(path.read_bytes()) for path in _files(KEYS, "*.pem"))


def _parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def _read(path: Path) -> etree._Element:
    return _parse(path.read_bytes())


def _signers_certificate(root: etree._Element) -> x509.Certificate:
    """The gateway's way: the certificate named by KeyInfo's issuer and serial."""
    ref = xmldsig.signer_of(root)
    found = [c for c in _certificates() if certs.identifies(c, ref.issuer, ref.serial)]
    if len(found) != 1:
        raise LookupError(f"{len(found)} certificates are issued by {ref.issuer} as {ref.serial}")
    return found[0]


def _verify_as_the_gateway(root: etree._Element) -> None:
    xmldsig.verify(root, certs.public_key_of(_signers_certificate(root)))


def _user_key(eui: Eui64) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None:
    for stem in (f"xml-sign-{eui.hex}-ds", f"dsp-xml-sign-{eui.hex}-ds"):
        if (KEYS / f"{stem}.key").exists():
            key = certs.load_private_key((KEYS / f"{stem}.key").read_bytes())
            return key, certs.load_certificate((KEYS / f"{stem}.pem").read_bytes())
    return None


def _signature(root: etree._Element) -> etree._Element:
    found = root.findall("ds:Signature", NS)
    assert len(found) == 1
    return found[0]


def _one(root: etree._Element, path: str) -> etree._Element:
    found = root.find(path, NS)
    assert found is not None, path
    return found


def _without_signatures(root: etree._Element) -> etree._Element:
    for signature in root.findall("ds:Signature", NS):
        root.remove(signature)
    return root


def _flip_base64(text: str) -> str:
    data = bytearray(base64.b64decode("".join(text.split())))
    data[len(data) // 2] ^= 0x01
    return base64.b64encode(bytes(data)).decode()


def _refusal(root: etree._Element) -> str:
    with pytest.raises((SignatureInvalid, LookupError)) as refused:
        _verify_as_the_gateway(root)
    if isinstance(refused.value, SignatureInvalid):
        return refused.value.reason
    return f"unknown signer: {refused.value}"


def _c14n(root: etree._Element) -> bytes:
    """Inclusive C14N 1.0 of the whole document, without comments (lxml's default keeps them)."""
    return etree.tostring(root.getroottree(), method="c14n", with_comments=False)


def _exclusive_c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def _independent_digest(root: etree._Element) -> str:
    """The reference digest computed with plain lxml and hashlib, not with ``xmldsig``."""
    copied = copy.deepcopy(root)
    signature = copied.find("ds:Signature", NS)
    assert signature is not None
    assert not (signature.tail or "").strip()
    copied.remove(signature)
    canonical = _c14n(copied)
    return base64.b64encode(hashlib.sha256(canonical).digest()).decode()


def _independent_signature_check(
    root: etree._Element, public_key: ec.EllipticCurvePublicKey
) -> None:
    signature = _signature(root)
    canonical = _exclusive_c14n(_one(signature, "ds:SignedInfo"))
    raw = base64.b64decode(_one(signature, "ds:SignatureValue").text or "")
    assert len(raw) == 64
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public_key.verify(der, canonical, ec.ECDSA(hashes.SHA256()))


# -- DCC's signed samples ---------------------------------------------------------------------


def test_the_test_material_holds_signed_samples_and_templates() -> None:
    assert len(SIGNED_SAMPLES) >= 4
    assert PLACEHOLDER_SAMPLES
    assert len(TEMPLATE_FILES) > 100


@pytest.mark.parametrize("sample", SIGNED_SAMPLES, ids=lambda p: p.name)
def test_every_signed_sample_verifies_with_the_certificate_its_key_info_names(
    sample: Path,
) -> None:
    root = _read(sample)
    before = etree.tostring(root)
    cert = _signers_certificate(root)
    xmldsig.verify(root, certs.public_key_of(cert))
    assert etree.tostring(root) == before, "verify must leave the document as it was"


@pytest.mark.parametrize("sample", SIGNED_SAMPLES, ids=lambda p: p.name)
def test_every_signed_sample_names_a_certificate_issued_by_z1(sample: Path) -> None:
    ref = xmldsig.signer_of(_read(sample))
    assert ref.issuer == "CN=Z1,OU=07"
    assert ref.serial > 2**100


@pytest.mark.parametrize("sample", PLACEHOLDER_SAMPLES, ids=lambda p: p.name)
def test_the_placeholder_signed_sample_is_refused(sample: Path) -> None:
    root = _read(sample)
    with pytest.raises(SignatureInvalid, match="DigestValue") as refused:
        xmldsig.signer_of(root)
    assert "7 bytes" in refused.value.reason
    for cert in _certificates():
        with pytest.raises(SignatureInvalid):
            xmldsig.verify(root, certs.public_key_of(cert))


def _change_body(root: etree._Element) -> None:
    body = _one(root, "sr:Body")
    leaf = next(e for e in body.iter() if isinstance(e.tag, str) and e.text and e.text.strip())
    text = leaf.text or ""
    leaf.text = text[:-1] + ("0" if text[-1] != "0" else "1")


def _change_header(root: etree._Element) -> None:
    request_id = _one(root, "sr:Header/sr:RequestID")
    request_id.text = (request_id.text or "") + "1"


def _change_signature_value(root: etree._Element) -> None:
    value = _one(root, "ds:Signature/ds:SignatureValue")
    value.text = _flip_base64(value.text or "")


def _change_digest_value(root: etree._Element) -> None:
    value = _one(root, "ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue")
    value.text = _flip_base64(value.text or "")


def _serial_of_another_certificate(root: etree._Element) -> None:
    # another key's: two of DCC's DSP certificates hold the same key
    signer = certs.public_key_of(_signers_certificate(root)).public_numbers()
    others = [c for c in _certificates() if c.public_key().public_numbers() != signer]
    _one(root, ".//ds:X509SerialNumber").text = str(others[0].serial_number)


def _serial_of_no_certificate(root: etree._Element) -> None:
    serial = _one(root, ".//ds:X509SerialNumber")
    serial.text = str(int(serial.text or "0") + 1)


def _another_issuer(root: etree._Element) -> None:
    _one(root, ".//ds:X509IssuerName").text = "CN=Z2,OU=07"


def _no_signature(root: etree._Element) -> None:
    _without_signatures(root)


def _second_signature(root: etree._Element) -> None:
    root.append(copy.deepcopy(_signature(root)))


def _set_algorithm(path: str, algorithm: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        _one(root, path).set("Algorithm", algorithm)

    return change


def _inclusive_namespaces(root: etree._Element) -> None:
    method = _one(root, "ds:Signature/ds:SignedInfo/ds:CanonicalizationMethod")
    etree.SubElement(method, f"{{{xmldsig.EXCLUSIVE_C14N}}}InclusiveNamespaces").set(
        "PrefixList", "sr"
    )


def _second_reference(root: etree._Element) -> None:
    reference = _one(root, "ds:Signature/ds:SignedInfo/ds:Reference")
    reference.addnext(copy.deepcopy(reference))


def _another_transform(root: etree._Element) -> None:
    transform = _one(root, "ds:Signature/ds:SignedInfo/ds:Reference/ds:Transforms/ds:Transform")
    added = copy.deepcopy(transform)
    added.set("Algorithm", xmldsig.EXCLUSIVE_C14N)
    transform.addnext(added)


def _no_transforms(root: etree._Element) -> None:
    reference = _one(root, "ds:Signature/ds:SignedInfo/ds:Reference")
    reference.remove(_one(reference, "ds:Transforms"))


def _reference_uri(root: etree._Element) -> None:
    _one(root, "ds:Signature/ds:SignedInfo/ds:Reference").set("URI", "#body")


def _no_reference_uri(root: etree._Element) -> None:
    del _one(root, "ds:Signature/ds:SignedInfo/ds:Reference").attrib["URI"]


def _short_signature_value(root: etree._Element) -> None:
    value = _one(root, "ds:Signature/ds:SignatureValue")
    value.text = base64.b64encode(
        base64.b64decode("".join((value.text or "").split()))[:63]
    ).decode()


def _signature_value_not_base64(root: etree._Element) -> None:
    _one(root, "ds:Signature/ds:SignatureValue").text = "not*base64!" * 8


SIGNED_INFO = "ds:Signature/ds:SignedInfo/"
TAMPERING: dict[str, tuple[Callable[[etree._Element], None], str]] = {
    "a byte of the body": (_change_body, "digest mismatch"),
    "the header": (_change_header, "digest mismatch"),
    "the signature value": (_change_signature_value, "signature value does not match"),
    "the digest value": (_change_digest_value, "digest mismatch"),
    "the serial, to another certificate's": (
        _serial_of_another_certificate,
        "signature value does not match",
    ),
    "the serial, to no certificate's": (_serial_of_no_certificate, "unknown signer"),
    "the issuer": (_another_issuer, "unknown signer"),
    "the signature, removed": (_no_signature, "no signature"),
    "a second signature": (_second_signature, "more than one signature"),
    "RSA as the signature method": (
        _set_algorithm(
            SIGNED_INFO + "ds:SignatureMethod", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
        ),
        "signature method",
    ),
    "inclusive C14N for SignedInfo": (
        _set_algorithm(
            SIGNED_INFO + "ds:CanonicalizationMethod",
            "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        ),
        "canonicalization method",
    ),
    "SHA-1 as the digest method": (
        _set_algorithm(
            SIGNED_INFO + "ds:Reference/ds:DigestMethod", "http://www.w3.org/2000/09/xmldsig#sha1"
        ),
        "digest method",
    ),
    "parameters to the canonicalization method": (
        _inclusive_namespaces,
        "must have no parameters",
    ),
    "a second reference": (_second_reference, "more than one reference"),
    "a second transform": (_another_transform, "transforms other than"),
    "no transforms": (_no_transforms, "malformed Reference"),
    "a reference to a fragment": (_reference_uri, "wrong reference URI"),
    "a reference without URI": (_no_reference_uri, "wrong reference URI"),
    "a short signature value": (_short_signature_value, "63 bytes"),
    "a signature value that is not base64": (_signature_value_not_base64, "not base64"),
}


@pytest.mark.parametrize("sample", SIGNED_SAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_a_tampered_copy_of_a_signed_sample_is_refused_with_the_reason(
    sample: Path, tampering: str
) -> None:
    root = _read(sample)
    change, reason = TAMPERING[tampering]
    change(root)
    assert reason in _refusal(root)


@pytest.mark.parametrize("sample", SIGNED_SAMPLES, ids=lambda p: p.name)
def test_an_indented_copy_of_a_compact_signed_sample_still_verifies(sample: Path) -> None:
    indented = _parse(etree.tostring(_read(sample), pretty_print=True))
    assert b">\n  <" in etree.tostring(indented)
    before = etree.tostring(indented)
    _verify_as_the_gateway(indented)
    assert etree.tostring(indented) == before


@pytest.mark.parametrize("sample", SIGNED_SAMPLES, ids=lambda p: p.name)
def test_an_indented_copy_with_a_changed_body_is_still_refused(sample: Path) -> None:
    root = _read(sample)
    _change_body(root)
    indented = _parse(etree.tostring(root, pretty_print=True))
    assert "digest mismatch" in _refusal(indented)


# -- signing the templates --------------------------------------------------------------------


def _originator(root: etree._Element) -> Eui64:
    return Eui64.parse((_one(root, "sr:Header/sr:RequestID").text or "").split(":")[0])


def _has_key(template: Path) -> bool:
    return _user_key(_originator(_without_signatures(_read(template)))) is not None


def test_only_three_templates_come_from_originators_without_a_test_key() -> None:
    keyless = sorted(p.name for p in TEMPLATE_FILES if not _has_key(p))
    assert len(keyless) == 3, keyless


@pytest.mark.parametrize(
    "template", [p for p in TEMPLATE_FILES if _has_key(p)], ids=lambda p: p.name
)
def test_every_template_signed_by_its_originator_verifies_with_its_certificate(
    template: Path,
) -> None:
    root = _without_signatures(_read(template))
    identity = _user_key(_originator(root))
    assert identity is not None
    key, cert = identity

    signed = xmldsig.sign(root, key, certs.issuer_name(cert), cert.serial_number)

    assert signed.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    received = _parse(signed)
    assert received[-1].tag == f"{{{DS}}}Signature"
    assert received[-1].prefix == "ds"
    assert not re.search(rb">\s+<", signed), "what is signed and sent is the compact form"
    xmldsig.verify(received, certs.public_key_of(cert))
    assert _signers_certificate(received) == cert
    assert xmldsig.signer_of(received) == SignerRef("CN=Z1,OU=07", cert.serial_number)
    digest = _one(received, "ds:Signature/ds:SignedInfo/ds:Reference/ds:DigestValue").text
    assert digest == _independent_digest(received)
    _independent_signature_check(received, certs.public_key_of(cert))
    assert etree.tostring(root) == etree.tostring(received), "sign leaves the root signed"


def test_an_indented_copy_of_a_signed_template_still_verifies() -> None:
    key, cert = _user_key(SUPPLIER) or pytest.fail("no supplier key")
    root = _read(TEMPLATES / "8.2_READ_INVENTORY_REQUEST_DUIS.XML")
    signed = xmldsig.sign(_without_signatures(root), key, certs.issuer_name(cert), 1)
    indented = _parse(etree.tostring(_parse(signed), pretty_print=True))
    assert len(re.findall(rb">\n *<", etree.tostring(indented))) > 10
    xmldsig.verify(indented, certs.public_key_of(cert))


def test_a_document_signed_with_indentation_in_it_verifies_as_given() -> None:
    # another signer's document: digest over the indented form, as signxml would make it
    key, cert = _user_key(SUPPLIER) or pytest.fail("no supplier key")
    root = _without_signatures(_read(TEMPLATES / "8.2_READ_INVENTORY_REQUEST_DUIS.XML"))
    root[-1].tail = "\n"
    digest = base64.b64encode(hashlib.sha256(_c14n(root)).digest()).decode()
    signature = _signature(_parse(xmldsig.sign(copy.deepcopy(root), key, "CN=Z1,OU=07", 7)))
    _one(signature, "ds:SignedInfo/ds:Reference/ds:DigestValue").text = digest
    canonical = _exclusive_c14n(_one(signature, "ds:SignedInfo"))
    _one(signature, "ds:SignatureValue").text = _raw_signature(key, canonical)
    root.append(signature)
    assert b">\n    <sr:" in etree.tostring(root)
    xmldsig.verify(root, certs.public_key_of(cert))


def _raw_signature(key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()


def test_a_document_signed_by_one_key_does_not_verify_with_another() -> None:
    supplier = _user_key(SUPPLIER) or pytest.fail("no supplier key")
    operator = _user_key(NETWORK_OPERATOR) or pytest.fail("no network operator key")
    root = _without_signatures(_read(TEMPLATES / "8.2_READ_INVENTORY_REQUEST_DUIS.XML"))
    received = _parse(xmldsig.sign(root, supplier[0], "CN=Z1,OU=07", supplier[1].serial_number))
    with pytest.raises(SignatureInvalid, match="signature value does not match"):
        xmldsig.verify(received, certs.public_key_of(operator[1]))


def test_signing_keeps_the_ds_prefix_when_the_root_binds_the_namespace_to_another() -> None:
    # DCC's responses declare xmlns:ns3 for the signature namespace on the root
    key, cert = _user_key(SUPPLIER) or pytest.fail("no supplier key")
    root = _without_signatures(_read(SAMPLES / "read-inventory-response-5.4.xml"))
    assert root.nsmap["ns3"] == DS
    received = _parse(xmldsig.sign(root, key, certs.issuer_name(cert), cert.serial_number))
    signature = _signature(received)
    assert all(e.prefix == "ds" for e in signature.iter())
    assert b'<ds:Signature xmlns:ds="' + DS.encode() + b'">' in etree.tostring(received)
    xmldsig.verify(received, certs.public_key_of(cert))
    assert _one(signature, ".//ds:DigestValue").text == _independent_digest(received)


@pytest.mark.parametrize(
    "declarations",
    [
        "",
        f' xmlns:ds="{DS}"',
        f' xmlns:ns3="{DS}"',
        f' xmlns:ds="{DS}" xmlns:ns3="{DS}"',
        f' xmlns:ns3="{DS}" xmlns:ds="{DS}"',
        ' xmlns:ds="urn:not-the-signature-namespace"',
        f' xmlns="{DS}"',
    ],
)
def test_a_signature_in_the_ds_prefix_verifies_whatever_the_root_declares(
    declarations: str,
) -> None:
    key, cert = _user_key(SUPPLIER) or pytest.fail("no supplier key")
    root = _parse(
        f'<sr:Response xmlns:sr="{NS["sr"]}"{declarations} schemaVersion="5.4">'
        "<sr:Header><sr:ResponseCode>I0</sr:ResponseCode></sr:Header>"
        "<sr:Body><sr:X>1</sr:X></sr:Body></sr:Response>".encode()
    )
    received = _parse(xmldsig.sign(root, key, "CN=Z1,OU=07", 3))
    signature = received[-1]
    assert signature.tag == f"{{{DS}}}Signature"
    assert all(e.prefix == "ds" for e in signature.iter())
    xmldsig.verify(received, certs.public_key_of(cert))
    assert _one(signature, ".//ds:DigestValue").text == _independent_digest(received)
    _independent_signature_check(received, certs.public_key_of(cert))


def test_signing_again_replaces_the_old_signature() -> None:
    key, cert = _user_key(SUPPLIER) or pytest.fail("no supplier key")
    root = _read(TEMPLATES / "8.2_READ_INVENTORY_REQUEST_DUIS.XML")  # placeholder still in
    xmldsig.sign(root, key, "CN=Z1,OU=07", 1)
    signed = xmldsig.sign(root, key, "CN=Z1,OU=07", 2)
    received = _parse(signed)
    assert len(received.findall("ds:Signature", NS)) == 1
    assert xmldsig.signer_of(received).serial == 2
    xmldsig.verify(received, certs.public_key_of(cert))


def test_the_text_around_a_signature_stays_in_the_digest() -> None:
    # the enveloped-signature transform removes the element, not the text beside it; built
    # and signed here without xmldsig, with the Signature between two halves of a text
    key, cert = _user_key(SUPPLIER) or pytest.fail("no supplier key")
    root = _parse(b'<r xmlns="urn:t">before<a>1</a>middle<b>2</b>after</r>')
    digest = base64.b64encode(hashlib.sha256(_c14n(root)).digest()).decode()
    template = _parse(xmldsig.sign(_parse(b"<x/>"), key, "CN=Z1,OU=07", 5))
    signature = _signature(template)
    _one(signature, "ds:SignedInfo/ds:Reference/ds:DigestValue").text = digest
    canonical = _exclusive_c14n(_one(signature, "ds:SignedInfo"))
    _one(signature, "ds:SignatureValue").text = _raw_signature(key, canonical)
    root[0].addnext(signature)
    root[0].tail, signature.tail = "mid", "dle"

    before = etree.tostring(root)
    xmldsig.verify(root, certs.public_key_of(cert))
    assert etree.tostring(root) == before

    signature.tail = "DLE"
    with pytest.raises(SignatureInvalid, match="digest mismatch"):
        xmldsig.verify(root, certs.public_key_of(cert))


def test_whitespace_in_the_base64_of_the_signature_value_is_tolerated() -> None:
    key, cert = _user_key(SUPPLIER) or pytest.fail("no supplier key")
    root = _without_signatures(_read(TEMPLATES / "8.2_READ_INVENTORY_REQUEST_DUIS.XML"))
    received = _parse(xmldsig.sign(root, key, "CN=Z1,OU=07", 1))
    value = _one(received, "ds:Signature/ds:SignatureValue")
    text = value.text or ""
    value.text = text[:40] + "\r\n \t" + text[40:] + "\r\n"
    xmldsig.verify(received, certs.public_key_of(cert))


def test_comments_between_the_signature_elements_are_ignored() -> None:
    key, cert = _user_key(SUPPLIER) or pytest.fail("no supplier key")
    root = _without_signatures(_read(TEMPLATES / "8.2_READ_INVENTORY_REQUEST_DUIS.XML"))
    received = _parse(xmldsig.sign(root, key, "CN=Z1,OU=07", 1))
    signature = _signature(received)
    signature.insert(0, etree.Comment(" placeholder note "))
    _one(signature, "ds:SignedInfo/ds:Reference").insert(0, etree.Comment(" x "))
    xmldsig.verify(received, certs.public_key_of(cert))
    _one(signature, "ds:SignatureValue").append(etree.Comment(" inside a value "))
    with pytest.raises(SignatureInvalid, match="text only"):
        xmldsig.verify(received, certs.public_key_of(cert))


def test_comments_in_the_document_are_not_signed() -> None:
    # URI="" names the document without comments, whatever they say
    key, cert = _user_key(SUPPLIER) or pytest.fail("no supplier key")
    template = TEMPLATES / "CS03B_8.7.2_SUCCESS_REQUEST_DUIS.XML"
    root = _without_signatures(_read(template))
    assert root.find("sr:Header", NS) is not None
    assert any(isinstance(node, etree._Comment) for node in _one(root, "sr:Header"))
    received = _parse(xmldsig.sign(root, key, "CN=Z1,OU=07", 1))
    assert b"<!--" in etree.tostring(received)
    _one(received, "sr:Body").append(etree.Comment(" added later "))
    xmldsig.verify(received, certs.public_key_of(cert))
    digest = _one(received, ".//ds:DigestValue").text
    for comment in received.xpath("//comment()"):
        comment.getparent().remove(comment)
    assert digest == _independent_digest(received)


# -- compact --------------------------------------------------------------------------------


def test_compact_removes_whitespace_between_elements_only() -> None:
    root = _parse(
        b"<r>\n  <a> </a>\n  <b>\n    <c>x y</c>\n  </b>\n  <!-- note -->\n"
        b"  <m>text <i>in</i> mixed </m>\n</r>"
    )
    xmldsig.compact(root)
    assert etree.tostring(root) == (
        b"<r><a> </a><b><c>x y</c></b><!-- note --><m>text <i>in</i> mixed </m></r>"
    )


# -- hostile and malformed signatures -------------------------------------------------------


def _signed_request() -> etree._Element:
    key, _ = _user_key(SUPPLIER) or pytest.fail("no supplier key")
    root = _without_signatures(_read(TEMPLATES / "8.2_READ_INVENTORY_REQUEST_DUIS.XML"))
    return _parse(xmldsig.sign(root, key, "CN=Z1,OU=07", 1234))


@pytest.mark.parametrize("element", ["SignatureValue", "SignedInfo/ds:Reference/ds:DigestValue"])
def test_huge_base64_is_refused_before_it_is_decoded(element: str) -> None:
    root = _signed_request()
    _one(root, f"ds:Signature/ds:{element}").text = "QUFB" * 250_000
    with pytest.raises(SignatureInvalid, match="too long"):
        xmldsig.signer_of(root)


@pytest.mark.parametrize("serial", ["12a", "-5", "1e9", "", "١٢٣", "1_000", "9" * 65])
def test_a_serial_number_that_is_not_a_decimal_integer_is_refused(serial: str) -> None:
    root = _signed_request()
    _one(root, ".//ds:X509SerialNumber").text = serial
    with pytest.raises(SignatureInvalid, match="X509SerialNumber"):
        xmldsig.signer_of(root)


def test_a_serial_number_with_spaces_around_it_is_read() -> None:
    root = _signed_request()
    _one(root, ".//ds:X509SerialNumber").text = "\n  1234\r\n"
    assert xmldsig.signer_of(root) == SignerRef("CN=Z1,OU=07", 1234)


def test_a_signature_without_key_info_is_refused() -> None:
    root = _signed_request()
    signature = _signature(root)
    signature.remove(_one(signature, "ds:KeyInfo"))
    with pytest.raises(SignatureInvalid, match="malformed Signature"):
        xmldsig.signer_of(root)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda info: info.remove(info[0]), id="no X509Data"),
        pytest.param(
            lambda info: etree.SubElement(info[0], f"{{{DS}}}X509Certificate"),
            id="a certificate beside the issuer serial",
        ),
        pytest.param(
            lambda info: etree.SubElement(info, f"{{{DS}}}KeyName"), id="a key name beside"
        ),
        pytest.param(lambda info: info[0][0].remove(info[0][0][0]), id="no issuer name"),
        pytest.param(lambda info: setattr(info[0][0][0], "text", "  "), id="an empty issuer name"),
        pytest.param(
            lambda info: info[0][0][1].append(etree.Comment("x")), id="markup in the serial"
        ),
    ],
)
def test_key_info_holding_anything_but_one_issuer_serial_is_refused(
    change: Callable[[etree._Element], object],
) -> None:
    root = _signed_request()
    change(_one(root, "ds:Signature/ds:KeyInfo"))
    with pytest.raises(SignatureInvalid):
        xmldsig.signer_of(root)


def test_a_signature_below_the_root_is_not_an_enveloped_signature() -> None:
    root = _signed_request()
    signature = _signature(root)
    _one(root, "sr:Body").append(signature)
    with pytest.raises(SignatureInvalid, match="no signature"):
        xmldsig.signer_of(root)


def test_a_key_on_another_curve_is_refused() -> None:
    root = _signed_request()
    other = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(SignatureInvalid, match="P-256"):
        xmldsig.verify(root, other.public_key())
    with pytest.raises(ValueError, match="P-256"):
        xmldsig.sign(root, other, "CN=Z1,OU=07", 1)


@pytest.mark.parametrize(("issuer", "serial"), [("", 1), ("CN=Z1\x01", 1), ("CN=Z1", -1)])
def test_signing_refuses_an_unusable_issuer_or_serial_and_leaves_the_document(
    issuer: str, serial: int
) -> None:
    key, _ = _user_key(SUPPLIER) or pytest.fail("no supplier key")
    root = _signed_request()
    before = etree.tostring(root)
    with pytest.raises(ValueError, match=r"issuer|serial"):
        xmldsig.sign(root, key, issuer, serial)
    assert etree.tostring(root) == before


# -- certificates -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", _files(KEYS, "*.pem"), ids=lambda p: p.name)
def test_certificate_eui_reads_the_eui64_from_x500_unique_identifier(path: Path) -> None:
    cert = certs.load_certificate(path.read_bytes())
    expected = re.search(r"([0-9A-F]{16})", path.name)
    eui = certs.certificate_eui(cert)
    if expected is not None:
        assert eui == Eui64.parse(expected.group(1))
    assert certs.issuer_name(cert) == "CN=Z1,OU=07"


def test_the_supplier_certificate_belongs_to_the_supplier() -> None:
    cert = certs.load_certificate((KEYS / "xml-sign-90B3D51F30010000-ds.pem").read_bytes())
    assert str(certs.certificate_eui(cert)) == "90-B3-D5-1F-30-01-00-00"


@pytest.mark.parametrize("path", _files(KEYS, "*.key"), ids=lambda p: p.name)
def test_every_test_key_loads_and_matches_its_certificate(path: Path) -> None:
    key = certs.load_private_key(path.read_bytes())
    cert = certs.load_certificate(path.with_suffix(".pem").read_bytes())
    assert certs.public_key_of(cert).public_numbers() == key.public_key().public_numbers()


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("CN=Z1,OU=07", "CN=Z1,OU=07", True),
        ("CN=U1, OU=07", "CN=U1,OU=07", True),
        ("cn=Z1,ou=07", "CN=Z1,OU=07", True),
        ("CN=z1 ,  OU=07", "CN=Z1,OU=07", True),
        ("OID.2.5.4.3=Z1,2.5.4.11=07", "CN=Z1,OU=07", True),
        ('CN="Z1",OU=07', "CN=Z1,OU=07", True),
        (r"CN=Z\31,OU=07", "CN=Z1,OU=07", True),
        ("CN=#0C025A31,OU=07", "CN=Z1,OU=07", True),
        ("CN=Z1;OU=07", "CN=Z1,OU=07", True),
        ("CN=A\\, B,OU=07", "CN=A\\2C B,OU=07", True),
        ("CN=Z1+OU=07", "OU=07+CN=Z1", True),
        ("CN=U1, OU=07", "CN=Z1,OU=07", False),
        ("OU=07,CN=Z1", "CN=Z1,OU=07", True),
        ("OU=07, cn=Z1", "CN=Z1, OU=07", True),
        ("CN=Z1", "CN=Z1,OU=07", False),
        ("CN=Z1,OU=07,OU=07", "CN=Z1,OU=07", False),
        ("CN=Z1,OU=08", "CN=Z1,OU=07", False),
        ("CN=Z1,OU=07", "CN=Z1+OU=07", False),
        ("not a name", "not  a name", True),
        ("not a name", "CN=Z1", False),
    ],
)
def test_issuer_names_are_compared_leniently_about_spelling_but_not_content(
    a: str, b: str, same: bool
) -> None:
    assert certs.same_issuer(a, b) is same
    assert certs.same_issuer(b, a) is same


def test_identifies_needs_both_the_issuer_and_the_serial() -> None:
    cert = certs.load_certificate((KEYS / "xml-sign-90B3D51F30010000-ds.pem").read_bytes())
    assert certs.identifies(cert, "CN=Z1, OU=07", cert.serial_number)
    assert not certs.identifies(cert, "CN=Z1, OU=07", cert.serial_number + 1)
    assert not certs.identifies(cert, "CN=U1, OU=07", cert.serial_number)


def test_new_signing_identity_makes_a_self_signed_p256_certificate_with_the_eui() -> None:
    eui = Eui64.parse("90-B3-D5-1F-30-00-00-02")
    key, cert = certs.new_signing_identity(eui, "s1adopt dsp", "89")

    reloaded = certs.load_certificate(certs.certificate_pem(cert))
    assert reloaded == cert
    assert certs.certificate_eui(reloaded) == eui
    assert b"\x03\x09\x00" + bytes.fromhex(eui.hex) in cert.subject.public_bytes()
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "s1adopt dsp"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "89"
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)
    assert cert.not_valid_before_utc <= datetime.now(UTC) < cert.not_valid_after_utc
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert certs.public_key_of(cert).public_numbers() == key.public_key().public_numbers()
    assert certs.identifies(cert, certs.issuer_name(cert), cert.serial_number)
    assert certs.issuer_name(cert).startswith("2.5.4.45=#03090090B3D51F30000002,")


def test_a_new_signing_identity_signs_documents_that_verify_with_its_certificate() -> None:
    key, cert = certs.new_signing_identity(SUPPLIER, "supplier", "87")
    root = _without_signatures(_read(TEMPLATES / "8.2_READ_INVENTORY_REQUEST_DUIS.XML"))
    received = _parse(xmldsig.sign(root, key, certs.issuer_name(cert), cert.serial_number))
    ref = xmldsig.signer_of(received)
    assert certs.identifies(cert, ref.issuer, ref.serial)
    xmldsig.verify(received, certs.public_key_of(cert))
    _independent_signature_check(received, certs.public_key_of(cert))


def test_private_keys_round_trip_through_pem_pkcs8_der_and_encrypted_pem() -> None:
    key, _ = certs.new_signing_identity(SUPPLIER, "supplier", "87")
    numbers = key.private_numbers()
    assert certs.private_key_pem(key).startswith(b"-----BEGIN PRIVATE KEY-----")
    assert certs.load_private_key(certs.private_key_pem(key)).private_numbers() == numbers
    assert certs.load_private_key(certs.private_key_der(key)).private_numbers() == numbers
    encrypted = certs.private_key_pem(key, b"secret")
    assert b"ENCRYPTED" in encrypted
    assert certs.load_private_key(encrypted, b"secret").private_numbers() == numbers
    with pytest.raises(CertificateError, match="give its password"):
        certs.load_private_key(encrypted)
    with pytest.raises(CertificateError, match="unreadable"):
        certs.load_private_key(encrypted, b"wrong")


@pytest.mark.parametrize(
    "data", [b"", b"garbage", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"]
)
def test_an_unreadable_private_key_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(CertificateError, match="unreadable private key"):
        certs.load_private_key(data)


def test_keys_other_than_p256_are_refused() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(CertificateError, match="ECDSA on secp384r1"):
        certs.load_private_key(certs.private_key_der(p384))
    edwards = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(CertificateError, match="P-256"):
        certs.load_private_key(certs.private_key_pem(edwards))  # type: ignore[arg-type]


def _certificate(subject: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def test_a_certificate_without_an_eui_is_a_clear_error() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no eui")]), key)
    with pytest.raises(CertificateError, match="x500UniqueIdentifier"):
        certs.certificate_eui(certs.load_certificate(certs.certificate_pem(cert)))


def test_a_certificate_on_another_curve_and_garbage_are_refused() -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    cert = _certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "p384")]), key)
    with pytest.raises(CertificateError, match="P-256"):
        certs.load_certificate(certs.certificate_pem(cert))
    with pytest.raises(CertificateError, match="unreadable certificate"):
        certs.load_certificate(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")


def test_the_independent_checks_catch_a_wrong_signature() -> None:
    # the helpers above must be able to fail, or the round trips prove nothing
    root = _signed_request()
    _change_signature_value(root)
    _, cert = _user_key(SUPPLIER) or pytest.fail("no supplier key")
    with pytest.raises(InvalidSignature):
        _independent_signature_check(root, certs.public_key_of(cert))
    _change_header(root)
    digest = _one(root, ".//ds:DigestValue").text
    assert digest != _independent_digest(root)
