"""A user's endpoint for the device service, behind ``s1adopt duis listen``: it takes the
responses and alerts the service POSTs, checks them as a user's system should, keeps them and
says in one line what each carries.

Rules:
- a document is read safely (no DTD, no entities, at most ``max_bytes``); its DSP signature must
  verify with the DSP's certificate; when the S1SP's certificate is given, the S1SP-signed part
  it carries (an SMETS1 response, a device alert, an S1SP alert) must verify with it; when the
  official schemas are given, the document must be valid against them;
- a document that passes is answered 204, one that does not 400 with the reason (as DCC's
  public test clients do: the service dead-letters it rather than retrying it);
- with ``out``, each document is written as ``<n>-<RequestID or ResponseID>.xml`` (a refused
  one ``<n>-<id>.refused.xml``), ``n`` counting on from the highest already there, so a run
  never overwrites an earlier one's documents;
- after ``count`` documents (accepted or refused) further POSTs are answered 503, so that the
  service keeps them for later, and the listener stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from s1adopt.domain.duis import DUIS_NAMESPACE, MMC_NAMESPACE
from s1adopt.entrypoints.duis_client import signature_problem
from s1adopt.formats.duis.requests import MalformedRequest, parse_request
from s1adopt.formats.duis.schemas import OfficialSchemas, SchemaInvalid
from s1adopt.formats.duis.smets1 import embedded

XML_TYPES = frozenset({"application/xml", "text/xml"})
SHOWN_VALUES = 4
_SR = "{" + DUIS_NAMESPACE + "}"
_RA = "{" + MMC_NAMESPACE + "}"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._:-]+")
_NUMBERED = re.compile(r"^(\d+)-")
_TEXT_LIMIT = 160


@dataclass(frozen=True, slots=True)
class Summary:
    """What a document is, in a user's words."""

    code: str  # the ResponseCode
    reference: str  # the RequestID (a response) or ResponseID (an alert); "-" if none
    srv: str  # the SRV, "-" for an alert
    carries: str  # its content in a few words


@dataclass(frozen=True, slots=True)
class Received:
    """One document the listener took, and what it made of it."""

    number: int
    at: datetime
    summary: Summary
    problem: str | None  # why it was refused; None when accepted
    checks: tuple[str, ...]  # what was checked and passed
    path: Path | None

    @property
    def accepted(self) -> bool:
        """It passed every check."""
        return self.problem is None

    def line(self) -> str:
        """The document in one line, for people."""
        s = self.summary
        verdict = (
            f"[{', '.join(self.checks) or 'not checked'}]"
            if self.problem is None
            else f"REFUSED: {self.problem}"
        )
        return (
            f"{self.at:%Y-%m-%dT%H:%M:%SZ} #{self.number} {s.code} {s.reference} {s.srv} "
            f"{s.carries} {verdict}"
        )


@dataclass
class Inbox:
    """Checks, keeps and numbers what arrives (see the module rules)."""

    dsp_key: ec.EllipticCurvePublicKey
    s1sp_key: ec.EllipticCurvePublicKey | None = None
    schemas: OfficialSchemas | None = None
    out: Path | None = None
    max_bytes: int = 4 * 1024 * 1024
    taken: int = 0
    refused: int = 0
    _next: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._next = _highest_number(self.out) if self.out is not None else 0

    def take(self, data: bytes, at: datetime) -> Received:
        """Check one document and keep it."""
        self._next += 1
        self.taken += 1
        number = self._next
        checks: list[str] = []
        try:
            root = parse_request(data, self.max_bytes)
        except MalformedRequest as exc:
            summary = Summary("-", "-", "-", "not readable")
            problem: str | None = str(exc).replace("request: ", "document: ", 1)
        else:
            summary = summarise(root)
            problem = self._check(root, checks)
        path = self._keep(number, summary.reference, data, problem is None)
        if problem is not None:
            self.refused += 1
        return Received(number, at, summary, problem, tuple(checks), path)

    def _check(self, root: etree._Element, checks: list[str]) -> str | None:
        problem = signature_problem(root, self.dsp_key)
        if problem is not None:
            return f"the DSP signature does not verify: {problem}"
        checks.append("DSP signature verified")
        if self.s1sp_key is not None:
            part = embedded(root)
            if part is not None:
                problem = signature_problem(part, self.s1sp_key)
                if problem is not None:
                    return f"the S1SP signature does not verify: {problem}"
                checks.append("S1SP signature verified")
        if self.schemas is not None:
            try:
                self.schemas.validate(root)
            except SchemaInvalid as exc:
                return f"not valid against the official schemas: {exc}"
            checks.append("schema valid")
        return None

    def _keep(self, number: int, reference: str, data: bytes, accepted: bool) -> Path | None:
        if self.out is None:
            return None
        name = _UNSAFE_NAME.sub("_", reference)[:120] if reference != "-" else "document"
        path = self.out / f"{number}-{name}{'' if accepted else '.refused'}.xml"
        path.write_bytes(data)
        return path


def summarise(root: etree._Element) -> Summary:
    """A DUIS Response's code, reference, SRV and content in a few words."""
    if root.tag != _SR + "Response":
        return Summary("-", "-", "-", f"not a DUIS Response: {_name(root)[:60]}")
    code = _text(root.find(f"{_SR}Header/{_SR}ResponseCode")) or "-"
    reference = (
        _text(root.find(f"{_SR}Header/{_SR}RequestID"))
        or _text(root.find(f"{_SR}Header/{_SR}ResponseID"))
        or "-"
    )
    body = root.find(_SR + "Body")
    message = _first_element(body) if body is not None else None
    if message is None:
        return Summary(code, reference, "-", "no body")
    srv = _text(message.find(_SR + "ServiceReferenceVariant")) or "-"
    return Summary(code, reference, srv, _carries(message, code))


def _carries(message: etree._Element, code: str) -> str:
    name = _name(message)
    if name == "DCCAlertMessage":
        alert = next(message.iter(_SR + "S1SPAlert"), None)
        parts = [f"DCC alert {_text(message.find(_SR + 'DCCAlertCode')) or '-'}"]
        if alert is not None:
            parts.append(f"S1SP alert {_text(alert.find(_SR + 'S1SPAlertCode')) or '-'}")
            for field_name in ("RequestID", "DeviceID", "AdditionalInformation"):
                value = _text(alert.find(_SR + field_name))
                if value:
                    parts.append(f"{field_name}={value}")
        return _short(" ".join(parts))
    alert = next(message.iter(_RA + "DeviceAlertContent"), None)
    if alert is not None:
        hex_code = _text(alert.find(_RA + "GBCSHexAlertCode"))
        description = _text(alert.find(_RA + "AlertDescription")) or ""
        return _short(f"device alert{' ' + hex_code if hex_code else ''}: {description}")
    data = next(message.iter(_RA + "SMETSData"), None)
    rsp = _first_element(data) if data is not None else None
    debug = next(message.iter(_RA + "SMETS1Response"), None)
    if rsp is not None or debug is not None:
        parts = []
        if rsp is not None:
            parts.append(f"{_name(rsp)} MessageSuccess={rsp.get('MessageSuccess', '-')}")
            parts += _values(rsp)
        if debug is not None:
            error = _text(debug.find(_RA + "Error")) or ""
            parts.append(f"device code {debug.get('ResponseCode', '-')}: {error}")
        return _short(" ".join(parts))
    if next(message.iter(_SR + "PreCommand"), None) is not None:
        return "a pre-command to sign"
    if code == "I99":
        return "acknowledged: the response follows"
    return "no device answer" if code.startswith("E") else name


def _values(rsp: etree._Element) -> list[str]:
    """The Rsp's values as ``Name=value`` (a group of leaves, e.g. a register's value and unit,
    as one), the first ``SHOWN_VALUES`` of them."""
    found: list[str] = []
    grouped: set[etree._Element] = set()
    for element in rsp.iter():
        if element is rsp or element in grouped or not isinstance(element.tag, str):
            continue
        children = [c for c in element if isinstance(c.tag, str)]
        if children and all(len(c) == 0 for c in children):
            grouped.update(children)
            texts = " ".join(t for t in (_text(c) for c in children) if t)
            found.append(f"{_name(element)}={texts}")
        elif not children and _text(element):
            found.append(f"{_name(element)}={_text(element)}")
    if len(found) > SHOWN_VALUES:
        return [*found[:SHOWN_VALUES], f"(+{len(found) - SHOWN_VALUES} more)"]
    return found


async def listen(
    inbox: Inbox,
    host: str,
    port: int,
    count: int | None,
    announce: Callable[[str], None],
    report: Callable[[Received], None],
) -> None:
    """Serve the endpoint until ``count`` documents arrived, or SIGINT or SIGTERM."""
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def take(request: web.Request) -> web.StreamResponse:
        if count is not None and inbox.taken >= count:
            return web.Response(status=503, text="this listener has taken its documents\n")
        if request.content_type not in XML_TYPES:
            return web.Response(status=415, text="send application/xml\n")
        data = await request.read()
        received = inbox.take(data, datetime.now(UTC))
        report(received)
        if count is not None and inbox.taken >= count:
            loop.call_later(0.1, done.set)  # once this answer is on its way
        if received.problem is not None:
            return web.Response(status=400, text=received.problem + "\n")
        return web.Response(status=204)

    app = web.Application(client_max_size=inbox.max_bytes)
    app.router.add_route("POST", "/{path:.*}", take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        site = web.SockSite(runner, sock)
        await site.start()
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        announce(f"listening on http://{shown}:{bound}/")
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, done.set)
        await done.wait()
    finally:
        await runner.cleanup()
        sock.close()


# --- helpers ------------------------------------------------------------------------------------


def _highest_number(directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    numbers = [int(m[1]) for p in directory.iterdir() if (m := _NUMBERED.match(p.name))]
    return max(numbers, default=0)


def _first_element(parent: etree._Element) -> etree._Element | None:
    return next((c for c in parent if isinstance(c.tag, str)), None)


def _name(element: etree._Element) -> str:
    return etree.QName(element).localname


def _text(element: etree._Element | None) -> str:
    if element is None:
        return ""
    return " ".join((element.text or "").split())


def _short(text: str) -> str:
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 3] + "..."
