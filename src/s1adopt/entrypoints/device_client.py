"""The device-request client behind ``s1adopt duis request``: a user's device request built
from request values, signed with the user's key and sent to the gateway; a critical request
goes through the transform service (CV4) and comes back with its pre-command signed (CV5).

Rules:
- the values are the SRV's example values for the device type, or ``--values`` (a JSON object,
  or ``@FILE``) instead; each ``--set KEY=TEXT`` (a text) or ``KEY:=JSON`` (a number, list,
  object, true, false) then sets one value, a dotted KEY reaching into nested values;
  ``--execute-at`` future-dates the request (a time without a zone is UTC);
- the RequestID is ``<user>:<device>:<counter>``; the counter is the one given or the time in
  microseconds, so that it is above the user's last; a CV5 takes the next counter after its CV4;
- a pre-command is signed only when the CV4 answer is I0, verified with the DSP's certificate
  when one is given, and the pre-command names this request, device and SRV with the values
  asked for: the user signs what it asked for. Values the service added (for example the
  firmware version of an image hash) are shown before signing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from s1adopt.domain.duis import DUIS_NAMESPACE, CommandVariant, Endpoint
from s1adopt.domain.errors import InvalidIdentity, InvalidRequest
from s1adopt.domain.identities import Eui64
from s1adopt.domain.srv import ServiceRequestVariant, lookup
from s1adopt.entrypoints.duis_client import MAX_DOCUMENT, post_document, verify_answer
from s1adopt.formats.duis import precommand
from s1adopt.formats.duis.certificates import (
    CertificateError,
    issuer_name,
    load_certificate,
    load_private_key,
)
from s1adopt.formats.duis.device_requests import build_body, example_values, read_values
from s1adopt.formats.duis.envelope import request_document
from s1adopt.formats.duis.requests import MalformedRequest, parse_request
from s1adopt.formats.duis.xmldsig import sign

MAX_VALUES_BYTES = 1024 * 1024
_SR = "{" + DUIS_NAMESPACE + "}"


@dataclass(frozen=True, slots=True)
class Signer:
    """A user's XML-signing identity."""

    user: Eui64
    key: ec.EllipticCurvePrivateKey
    issuer: str
    serial: int


@dataclass(frozen=True, slots=True)
class Step:
    """One exchange with the gateway."""

    variant: int
    endpoint: str
    request_id: str
    status: int
    code: str
    message: str
    verified: str  # "verified", "NOT verified: ...", or "" when not checked
    body: bytes  # the gateway's answer

    @property
    def failed(self) -> bool:
        """An error code, an HTTP failure or an answer whose signature did not verify."""
        return self.status >= 400 or self.code.startswith("E") or self.verified.startswith("NOT")

    def line(self, srv: str) -> str:
        """The step in one line, for people."""
        checked = f" [DSP signature {self.verified}]" if self.verified else ""
        http = "" if self.status == 200 else f" (HTTP {self.status})"
        return (
            f"CV{self.variant} {srv} -> {self.endpoint}: {self.request_id}: "
            f"{self.code or '-'}{http} {self.message}{checked}"
        )


Report = Callable[[str], None]


def load_signer(user: str, key_path: Path, cert_path: Path) -> Signer:
    """The user's key and certificate (``InvalidRequest`` naming what cannot be read)."""
    eui = parse_eui(user, "--user")
    try:
        key = load_private_key(key_path.read_bytes())
        cert = load_certificate(cert_path.read_bytes())
    except OSError as exc:
        raise InvalidRequest(f"cannot read {exc.filename}: {exc.strerror}") from exc
    except CertificateError as exc:
        raise InvalidRequest(str(exc)) from exc
    return Signer(eui, key, issuer_name(cert), cert.serial_number)


def parse_eui(text: str, option: str) -> Eui64:
    """An EUI-64 given on the command line."""
    try:
        return Eui64.parse(text)
    except InvalidIdentity as exc:
        raise InvalidRequest(f"{option}: {exc}") from exc


def device_srv(srv: str) -> ServiceRequestVariant:
    """The catalogue's device SRV (``InvalidRequest`` for an unknown or non-device one)."""
    found = lookup(srv)
    if found is None:
        raise InvalidRequest(f"{srv[:20]!r} is not a DUIS service request variant, e.g. 4.1.1")
    if found.non_device:
        raise InvalidRequest(
            f"SRV {found.variant} ({found.name}) is not a device request: write it as XML (the "
            "templates show how) and send it with `s1adopt duis send`"
        )
    return found


def request_values(
    srv: str,
    device_type: str,
    values: str | None,
    settings: Sequence[str],
    execute_at: str | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The request's values (see the module rules)."""
    if values is None:
        try:
            result = example_values(srv, device_type, now)
        except ValueError as exc:
            raise InvalidRequest(f"{exc}; give --device-type or --values") from exc
    else:
        result = _values_json(values)
    for setting in settings:
        path, value = parse_setting(setting)
        _set(result, path, value)
    if execute_at is not None:
        result["executionDateTime"] = utc_text(execute_at)
    return result


def parse_setting(text: str) -> tuple[list[str], Any]:
    """``KEY=TEXT`` or ``KEY:=JSON`` as (key path, value)."""
    name, sign_, raw = text.partition("=")
    if not sign_:
        raise InvalidRequest(f"--set {text[:60]!r}: write KEY=TEXT or KEY:=JSON")
    value: Any = raw
    if name.endswith(":"):
        name = name[:-1]
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidRequest(f"--set {name}:= takes JSON: {exc.msg}") from exc
    path = name.split(".")
    if not all(part.strip() for part in path):
        raise InvalidRequest(f"--set {text[:60]!r}: the key is empty")
    return [part.strip() for part in path], value


def utc_text(text: str) -> str:
    """An ISO 8601 time as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC (no zone: UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidRequest(
            f"--execute-at {text[:40]!r} is not an ISO 8601 time, e.g. 2026-12-01T09:00:00Z"
        ) from exc
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def time_counter() -> int:
    """A counter from the clock (microseconds): above any the user sent a moment before."""
    return time.time_ns() // 1000


def body_of(srv: str, values: Mapping[str, Any], device_type: str) -> etree._Element:
    """The request's body element (``InvalidRequest`` naming a value it cannot carry)."""
    try:
        return build_body(srv, values, device_type)
    except ValueError as exc:
        raise InvalidRequest(f"SRV {srv}: {exc}") from exc


def signed_request(
    signer: Signer, device: Eui64, srv: str, variant: int, body: etree._Element, counter: int
) -> tuple[str, bytes]:
    """(RequestID, the signed request)."""
    request_id = f"{signer.user.value}:{device.value}:{counter}"
    root = request_document(request_id, variant, srv, body)
    return request_id, sign(root, signer.key, signer.issuer, signer.serial)


def send_device_request(
    srv: ServiceRequestVariant,
    device: Eui64,
    device_type: str,
    values: Mapping[str, Any],
    signer: Signer,
    url: str,
    counter: int | None,
    dsp_cert: Path | None,
    report: Report,
) -> list[Step]:
    """Send the request (CV1), or CV4 then CV5 for a critical SRV; each step is reported as it
    is answered. The steps taken; a failed step ends the exchange."""
    body = body_of(srv.variant, values, device_type)
    first = counter if counter is not None else time_counter()
    if not srv.critical:
        request_id, signed = signed_request(
            signer, device, srv.variant, int(CommandVariant.SEND), body, first
        )
        step = _send(url, Endpoint.COMMANDS, CommandVariant.SEND, request_id, signed, dsp_cert)
        report(step.line(srv.variant))
        return [step]
    transform_id, signed = signed_request(
        signer, device, srv.variant, int(CommandVariant.TRANSFORM), body, first
    )
    transform = _send(
        url, Endpoint.TRANSFORM, CommandVariant.TRANSFORM, transform_id, signed, dsp_cert
    )
    report(transform.line(srv.variant))
    if transform.failed or transform.code != "I0":
        return [transform]
    pre = checked_pre_command(transform.body, transform_id, device, srv.variant, body, report)
    signed_pre = precommand.sign(pre, signer.key)
    report(f"pre-command of {transform_id} checked and signed ({len(pre)} bytes)")
    command_id, command = signed_request(
        signer,
        device,
        srv.variant,
        int(CommandVariant.SIGNED_SEND),
        precommand.signed_pre_command_element(signed_pre),
        max(first + 1, time_counter()),
    )
    step = _send(url, Endpoint.COMMANDS, CommandVariant.SIGNED_SEND, command_id, command, dsp_cert)
    report(step.line(srv.variant))
    return [transform, step]


def _send(
    url: str,
    endpoint: Endpoint,
    variant: CommandVariant,
    request_id: str,
    body: bytes,
    dsp_cert: Path | None,
) -> Step:
    answer = post_document(url, endpoint.value, body)
    verified = ""
    if dsp_cert is not None and answer.status == 200:
        problem = verify_answer(answer.body, dsp_cert)
        verified = "verified" if problem is None else f"NOT verified: {problem}"
    return Step(
        int(variant),
        endpoint.value,
        request_id,
        answer.status,
        answer.code,
        answer.message,
        verified,
        answer.body,
    )


def checked_pre_command(
    answer: bytes,
    request_id: str,
    device: Eui64,
    srv: str,
    body: etree._Element,
    report: Report,
) -> bytes:
    """The pre-command of a CV4 answer, once it is found to name this request, device and SRV
    with the values of ``body`` (``InvalidRequest`` otherwise: it is not to be signed)."""
    try:
        root = parse_request(answer, MAX_DOCUMENT)
    except MalformedRequest as exc:
        raise InvalidRequest(f"the transform answer is not safe XML: {exc}") from exc
    element = next(root.iter(_SR + "PreCommand"), None)
    if element is None:
        raise InvalidRequest("the transform answer (I0) carries no PreCommand")
    try:
        pre = precommand.payload_of(element)
        command = precommand.decode(pre)
    except precommand.PreCommandInvalid as exc:
        raise InvalidRequest(f"the transform answer's pre-command: {exc}") from exc
    asked = read_values(srv, body)
    given = command.get("values")
    wrong = [
        name
        for name, expected, found in (
            ("requestId", request_id, command.get("requestId")),
            ("device", device.value, command.get("device")),
            ("srv", srv, command.get("srv")),
        )
        if expected != found
    ]
    if not isinstance(given, dict):
        given = {}
        wrong.append("values")
    wrong += [f"values.{k}" for k, v in asked.items() if given.get(k, _MISSING) != v]
    if wrong:
        raise InvalidRequest(
            f"the pre-command differs from the request in {', '.join(wrong)}: not signed"
        )
    added = {k: v for k, v in given.items() if k not in asked}
    if added:
        report(f"the service added to the pre-command: {json.dumps(added, sort_keys=True)}")
    return pre


def _values_json(text: str) -> dict[str, Any]:
    source = "--values"
    if text.startswith("@"):
        path = Path(text[1:])
        source = str(path)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_VALUES_BYTES + 1)
        except OSError as exc:
            raise InvalidRequest(f"cannot read {path}: {exc.strerror}") from exc
        if len(data) > MAX_VALUES_BYTES:
            raise InvalidRequest(f"{path}: more than {MAX_VALUES_BYTES:,} bytes of values")
        text = data.decode("utf-8", errors="replace")
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"{source}: not JSON: {exc.msg} (line {exc.lineno})") from exc
    if not isinstance(values, dict):
        raise InvalidRequest(f'{source}: the values are a JSON object, e.g. {{"utrn": "..."}}')
    return values


def _set(values: dict[str, Any], path: list[str], value: Any) -> None:
    here = values
    for depth, part in enumerate(path[:-1]):
        inner = here.setdefault(part, {})
        if not isinstance(inner, dict):
            where = ".".join(path[: depth + 1])
            raise InvalidRequest(f"--set {'.'.join(path)}: {where} is not an object")
        here = inner
    here[path[-1]] = value


_MISSING = object()
