"""The DUIS client tools behind ``s1adopt duis sign|verify|send``: a user exercises the
service from the command line with its own key (the demo uses the public test keys)."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from s1adopt.domain.duis import DSIG_NAMESPACE, DUIS_NAMESPACE, CommandVariant, Endpoint
from s1adopt.domain.errors import InvalidRequest
from s1adopt.formats.duis.certificates import (
    CertificateError,
    issuer_name,
    load_certificate,
    load_private_key,
)
from s1adopt.formats.duis.requests import MalformedRequest, parse_request, read_header
from s1adopt.formats.duis.xmldsig import SignatureInvalid, sign, verify

MAX_DOCUMENT = 4 * 1024 * 1024
TIMEOUT_SECONDS = 10.0
_ENDPOINT_OF = {
    CommandVariant.NON_DEVICE: Endpoint.NON_DEVICE,
    CommandVariant.TRANSFORM: Endpoint.TRANSFORM,
}


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the gateway answered."""

    status: int
    body: bytes
    code: str
    message: str
    verified: str  # "verified", "NOT verified: ...", or "" when not checked


def _read(path: Path) -> etree._Element:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidRequest(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return parse_request(data, MAX_DOCUMENT)
    except MalformedRequest as exc:
        raise InvalidRequest(f"{path}: {exc}") from exc


def sign_file(path: Path, key_path: Path, cert_path: Path) -> bytes:
    """The request at ``path`` signed with the key (any signature it had is replaced)."""
    root = _read(path)
    for old in root.findall(f"{{{DSIG_NAMESPACE}}}Signature"):
        root.remove(old)
    try:
        key = load_private_key(key_path.read_bytes())
        cert = load_certificate(cert_path.read_bytes())
    except OSError as exc:
        raise InvalidRequest(f"cannot read {exc.filename}: {exc.strerror}") from exc
    except CertificateError as exc:
        raise InvalidRequest(str(exc)) from exc
    return sign(root, key, issuer_name(cert), cert.serial_number)


def verify_file(path: Path, cert_path: Path) -> str | None:
    """None when the document at ``path`` verifies with the certificate; else why not."""
    return _verify(_read(path), cert_path)


def _verify(root: etree._Element, cert_path: Path) -> str | None:
    return signature_problem(root, public_key_of(cert_path))


def public_key_of(cert_path: Path) -> ec.EllipticCurvePublicKey:
    """The ECDSA P-256 public key of the certificate at ``cert_path`` (``InvalidRequest`` when
    it cannot be read or is not such a certificate)."""
    try:
        public = load_certificate(cert_path.read_bytes()).public_key()
    except OSError as exc:
        raise InvalidRequest(f"cannot read {cert_path}: {exc.strerror}") from exc
    except CertificateError as exc:
        raise InvalidRequest(f"{cert_path}: {exc}") from exc
    if not isinstance(public, ec.EllipticCurvePublicKey):  # load_certificate checks: a 2nd line
        raise InvalidRequest(f"{cert_path}: not an ECDSA certificate")
    return public


def signature_problem(root: etree._Element, public: ec.EllipticCurvePublicKey) -> str | None:
    """None when the document's enveloped signature verifies with ``public``; else why not."""
    try:
        verify(root, public)
    except SignatureInvalid as exc:
        return str(exc)
    return None


def send_request(
    path: Path,
    url: str,
    key: Path | None,
    cert: Path | None,
    dsp_cert: Path | None,
    endpoint: str | None,
) -> SendResult:
    """Send the request (signed first if a key is given) to the gateway at ``url``."""
    if (key is None) != (cert is None):
        raise InvalidRequest("give both --key and --cert to sign, or neither")
    body = sign_file(path, key, cert) if key and cert else path.read_bytes()
    if endpoint is None:
        try:
            header = read_header(parse_request(body, MAX_DOCUMENT))
            variant = CommandVariant(int(header.command_variant or ""))
        except (MalformedRequest, ValueError) as exc:
            raise InvalidRequest(f"{path}: cannot tell its command variant: {exc}") from exc
        endpoint = _ENDPOINT_OF.get(variant, Endpoint.COMMANDS).value
    answer = post_document(url, endpoint, body)
    verified = ""
    if dsp_cert is not None and answer.status == 200:
        problem = verify_answer(answer.body, dsp_cert)
        verified = "verified" if problem is None else f"NOT verified: {problem}"
    return SendResult(answer.status, answer.body, answer.code, answer.message, verified)


@dataclass(frozen=True, slots=True)
class Answer:
    """The gateway's HTTP answer: status, body, and the DUIS response code and message."""

    status: int
    body: bytes
    code: str
    message: str


def post_document(url: str, endpoint: str, body: bytes) -> Answer:
    """POST ``body`` (application/xml) to the gateway's ``/api/v1/<endpoint>`` at ``url``;
    ``InvalidRequest`` when it cannot be reached."""
    target = f"{url.rstrip('/')}/api/v1/{endpoint}"
    request = urllib.request.Request(  # noqa: S310 - the user names the gateway's URL
        target, data=body, headers={"Content-Type": "application/xml"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            status, data, headers = answer.status, answer.read(MAX_DOCUMENT), answer.headers
    except urllib.error.HTTPError as exc:
        status, data, headers = exc.code, exc.read(MAX_DOCUMENT), exc.headers
    except (urllib.error.URLError, OSError) as exc:
        raise InvalidRequest(f"cannot reach {target}: {getattr(exc, 'reason', exc)}") from exc
    code = headers.get("X-DUIS-Response-Code", "") or _code_in(data)
    return Answer(status, data, code, headers.get("X-DUIS-Message", ""))


def verify_answer(data: bytes, dsp_cert: Path) -> str | None:
    """None when the gateway's answer verifies with the DSP's certificate; else why not."""
    try:
        return _verify(parse_request(data, MAX_DOCUMENT), dsp_cert)
    except MalformedRequest as exc:
        return f"the response is not safe XML: {exc}"


def _code_in(data: bytes) -> str:
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return ""
    found = root.find(f".//{{{DUIS_NAMESPACE}}}ResponseCode")
    return found.text or "" if found is not None else ""
