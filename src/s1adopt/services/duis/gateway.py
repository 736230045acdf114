"""The DUIS gateway: every check a request passes, in order, each failure with its own code.

Checks, in this order (the first that fails answers; ``domain.duis.ResponseCode`` gives the
codes and their meanings):
1. size limit and content type (application/xml); a safe parse (no DTD, no entities, no
   network) -- a failure is HTTP 400 with a problem document (no DUIS Response can name a
   request that cannot be read);
2. schema: the project's own, and the official DUIS V5.4 schemas when configured (E1001);
3. signature: the signer found by its certificate's issuer and serial among the users'
   registered certificates, the signature verified (ECDSA P-256, DOMAIN.md's rules), and the
   RequestID's originator must be that certificate's user (E1);
4. the RequestID's counter must be above the originator's last (kept durably, in the
   transaction that records the request); when it is not, a request already answered (same
   RequestID, same bytes) gets the same answer again (idempotent), anything else is a replay
   (E31);
5. the endpoint matches the command variant (E13); the command variant and the body go with
   the SRV (E12);
6. access: a role of the user eligible for the SRV (E2); the user active (E3); the target
   device in the inventory (E19); its SMI status allowing the request (E5); the user the right
   party for it today, from the registration data (E4);
7. anomaly detection: a user's requests for an SRV counted in fixed windows; a request over
   the threshold is quarantined (E40), kept for an operator to release or delete, and a DCC
   alert is raised;
8. the answer: non-device requests are answered now (I0 or their own error); device requests
   go to the device service (``device_requests``): queued and acknowledged (I99), transformed
   into a pre-command (CV4), or refused with their own code; a gateway without the device
   service refuses them with E1011.
Every request is recorded with each check's verdict and the response; a request whose
signature did not verify is recorded without its RequestID, so that nobody can use up another
user's RequestID. Responses are signed by the DSP.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from s1adopt.domain.access import is_right_party, status_allows_device_request
from s1adopt.domain.duis import (
    CommandVariant,
    Endpoint,
    RequestId,
    RequestRejected,
    ResponseCode,
    endpoints_for,
)
from s1adopt.domain.errors import InvalidIdentity, InvalidRequest, NotFound
from s1adopt.domain.identities import Eui64
from s1adopt.domain.meter_points import MeterPointKind
from s1adopt.domain.parties import Party, PartyStatus, Role
from s1adopt.domain.srv import ServiceRequestVariant, body_allowed, lookup
from s1adopt.formats.duis.certificates import load_certificate
from s1adopt.formats.duis.requests import (
    RequestHeader,
    parse_request,
    read_device_target,
    read_header,
    read_inventory_update,
)
from s1adopt.formats.duis.responses import problem_document, response
from s1adopt.formats.duis.schedule_requests import read_create_schedule, read_delete_schedule
from s1adopt.formats.duis.schemas import SchemaInvalid
from s1adopt.formats.duis.xmldsig import SignatureInvalid, signer_of, verify
from s1adopt.services.duis.device_requests import DeviceRequest, DeviceRequests
from s1adopt.services.duis.handling import NonDeviceContext, body_of
from s1adopt.services.duis.nondevice import answer_non_device
from s1adopt.services.duis.ports import (
    RequestStatus,
    RequestValidator,
    ResponseSigner,
    StoredRequest,
)
from s1adopt.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

XML_TYPES = ("application/xml", "text/xml")
QUARANTINE_ALERT = "N11"  # project's choice among DCC alert codes: a request quarantined


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """Limits of the gateway."""

    max_request_bytes: int = 4 * 1024 * 1024
    anomaly_window: timedelta = timedelta(seconds=60)  # fixed windows of this length
    anomaly_thresholds: Mapping[str, int] = field(default_factory=lambda: {"*": 60_000})

    def threshold(self, srv: str) -> int:
        """Requests a user may send for ``srv`` within the window."""
        return self.anomaly_thresholds.get(srv, self.anomaly_thresholds.get("*", 60_000))


@dataclass(frozen=True, slots=True)
class Answer:
    """What the gateway answers over HTTP."""

    status: int
    body: bytes
    code: str  # the DUIS response code (or the problem's code)
    message: str
    content_type: str = "application/xml"


@dataclass
class _Trace:
    """The verdict of each check, for the record."""

    verdicts: list[tuple[str, str]] = field(default_factory=list)

    def ok(self, check: str, note: str = "ok") -> None:
        self.verdicts.append((check, note))


@dataclass
class _Request:
    """What the checks learnt of a request so far."""

    header: RequestHeader
    root: etree._Element
    srv: ServiceRequestVariant | None = None
    request_id: RequestId | None = None
    variant: CommandVariant | None = None
    user: Party | None = None
    roles: frozenset[Role] = frozenset()
    authenticated: bool = False


class Gateway:
    """The DUIS gateway's use case (see the module rules)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        signer: ResponseSigner,
        validators: Sequence[RequestValidator],
        settings: GatewaySettings | None = None,
        devices: DeviceRequests | None = None,
    ) -> None:
        self._uow_factory, self._clock = uow_factory, clock
        self._devices = devices
        self._signer, self._validators = signer, tuple(validators)
        self._settings = settings or GatewaySettings()
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}

    def handle(self, endpoint: str, content_type: str | None, body: bytes) -> Answer:
        """Check and answer one request sent to ``endpoint`` (see the module rules)."""
        received = self._clock.now()
        digest = hashlib.sha256(body).hexdigest()
        trace = _Trace()
        try:
            request = self._read(endpoint, content_type, body, trace)
        except RequestRejected as exc:
            return self._problem(endpoint, received, digest, trace, exc)
        with self._uow_factory() as uow:
            try:
                answer = self._check_and_answer(uow, endpoint, request, body, digest, trace)
            except RequestRejected as exc:
                answer = self._refuse(uow, endpoint, request, received, digest, trace, exc)
            uow.commit()
        return answer

    # the operator's decisions on quarantined requests

    def release(self, record_id: int) -> StoredRequest:
        """Answer a quarantined request after all (its checks run again, but for anomaly
        detection and replay, which it passed when it came); the answer is kept with it."""
        with self._uow_factory() as uow:
            stored = self._quarantined(uow, record_id)
            assert stored.request is not None
            trace = _Trace(list(stored.verdicts))
            received = self._clock.now()
            request = self._read(stored.endpoint, "application/xml", stored.request, trace)
            try:
                self._check_signature(uow, request, trace)
                self._check_variant(stored.endpoint, request, trace)
                self._check_access(uow, request, trace)
                code, payload, message = self._answer(uow, request, received)
            except RequestRejected as exc:  # e.g. the user was suspended meanwhile
                code, payload, message = exc.code, None, str(exc)
            trace.ok("released", f"{code.value}: {message}")
            signed = self._sign(request, code, received, payload)
            uow.duis.set_status(record_id, RequestStatus.RELEASED, signed)
            uow.commit()
            released = uow.duis.request_by_record(record_id)
        assert released is not None
        return released

    def delete(self, record_id: int) -> StoredRequest:
        """Delete a quarantined request: it is never carried out (its answer stays E40)."""
        with self._uow_factory() as uow:
            self._quarantined(uow, record_id)
            uow.duis.set_status(record_id, RequestStatus.DELETED)
            uow.commit()
            deleted = uow.duis.request_by_record(record_id)
        assert deleted is not None
        return deleted

    @staticmethod
    def _quarantined(uow: UnitOfWork, record_id: int) -> StoredRequest:
        stored = uow.duis.request_by_record(record_id)
        if stored is None:
            raise NotFound(f"no request record {record_id}")
        if stored.status != RequestStatus.QUARANTINED or stored.request is None:
            raise InvalidRequest(f"request record {record_id} is {stored.status}, not quarantined")
        return stored

    def _answer(
        self, uow: UnitOfWork, request: _Request, received: datetime
    ) -> tuple[ResponseCode, etree._Element | None, str]:
        srv = request.srv
        assert srv is not None
        assert request.user is not None
        if srv.non_device:
            return answer_non_device(
                NonDeviceContext(uow, request.user, received), srv, request.header
            )
        if self._devices is None:
            return (
                ResponseCode.NOT_SERVED_YET,
                None,
                f"SRV {srv.variant} ({srv.name}) passed every check; this gateway runs without "
                "the device service",
            )
        assert request.request_id is not None
        assert request.variant is not None
        return self._devices.accept(
            uow,
            DeviceRequest(
                request.user,
                request.roles,
                srv,
                request.variant,
                request.request_id,
                request.header,
                received,
            ),
        )

    # 1 and 2: size, type, parse, schema

    def _read(
        self, endpoint: str, content_type: str | None, body: bytes, trace: _Trace
    ) -> _Request:
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media not in XML_TYPES:
            raise RequestRejected(
                ResponseCode.MALFORMED,
                f"content type {media or 'none'!r} is not application/xml",
            )
        if len(body) > self._settings.max_request_bytes:
            raise RequestRejected(
                ResponseCode.MALFORMED,
                f"{len(body):,} bytes is larger than the limit of "
                f"{self._settings.max_request_bytes:,}",
            )
        trace.ok("size and type")
        root = parse_request(body, self._settings.max_request_bytes)  # MalformedRequest
        header = read_header(root)
        trace.ok("parse")
        request = _Request(header, root)
        request.srv = lookup(header.service_reference_variant or "")
        try:
            for validator in self._validators:
                validator.validate(root)
        except SchemaInvalid as exc:
            raise RequestRejected(ResponseCode.SCHEMA_INVALID, f"{validator.name}: {exc}") from exc
        if request.srv is None:
            raise RequestRejected(
                ResponseCode.SCHEMA_INVALID,
                f"{header.service_reference_variant!r} is not a service reference variant",
            )
        try:
            request.request_id = RequestId.parse(header.request_id or "")
            request.variant = CommandVariant(int(header.command_variant or ""))
        except (InvalidIdentity, ValueError) as exc:
            raise RequestRejected(ResponseCode.SCHEMA_INVALID, str(exc)) from exc
        if request.srv.service_reference != header.service_reference:
            raise RequestRejected(
                ResponseCode.SCHEMA_INVALID,
                f"service reference {header.service_reference} does not go with variant "
                f"{request.srv.variant}",
            )
        trace.ok("schema", ", ".join(v.name for v in self._validators) or "none")
        return request

    # 3 to 8

    def _check_and_answer(
        self,
        uow: UnitOfWork,
        endpoint: str,
        request: _Request,
        body: bytes,
        digest: str,
        trace: _Trace,
    ) -> Answer:
        assert request.request_id is not None
        assert request.srv is not None
        request_id, srv = request.request_id, request.srv
        self._check_signature(uow, request, trace)
        if not uow.duis.advance_counter(request_id.originator, request_id.counter):
            earlier = uow.duis.request(str(request_id))
            if earlier is not None and earlier.digest == digest:
                trace.ok("idempotency", f"answered before (record {earlier.record_id})")
                return Answer(
                    _http_status(earlier.response_code),
                    earlier.response,
                    earlier.response_code,
                    "the same request was answered before; this is its answer",
                )
            if earlier is not None:
                raise RequestRejected(
                    ResponseCode.REPLAYED, f"RequestID {request_id} was used for another request"
                )
            raise RequestRejected(
                ResponseCode.REPLAYED,
                f"counter {request_id.counter} is not above the last one "
                f"{request_id.originator} sent",
            )
        trace.ok("anti-replay")
        self._check_variant(endpoint, request, trace)
        self._check_access(uow, request, trace)
        received = self._clock.now()
        window = int(self._settings.anomaly_window.total_seconds())
        start = int(received.timestamp()) // window * window
        counted = uow.duis.count_request(request_id.originator, srv.variant, start)
        if counted > self._settings.threshold(srv.variant):
            return self._quarantine(uow, endpoint, request, received, body, digest, trace)
        trace.ok("anomaly detection")
        code, payload, message = self._answer(uow, request, received)
        trace.ok("answer", f"{code.value}: {message}")
        signed = self._sign(request, code, received, payload)
        _record(uow, request, endpoint, received, digest, code, trace, signed)
        return Answer(_http_status(code.value), signed, code.value, message)

    def _check_signature(self, uow: UnitOfWork, request: _Request, trace: _Trace) -> None:
        assert request.request_id is not None
        try:
            ref = signer_of(request.root)
        except SignatureInvalid as exc:
            raise RequestRejected(ResponseCode.UNKNOWN_USER, f"signature: {exc}") from exc
        found = uow.duis.signer(ref.issuer, ref.serial)
        if found is None:
            raise RequestRejected(
                ResponseCode.UNKNOWN_USER,
                f"no registered certificate has issuer {ref.issuer!r} and serial {ref.serial}",
            )
        cert, user = found
        try:
            verify(request.root, self._public_key(cert.certificate_pem))
        except SignatureInvalid as exc:
            raise RequestRejected(ResponseCode.UNKNOWN_USER, f"signature: {exc}") from exc
        if cert.eui != request.request_id.originator:
            raise RequestRejected(
                ResponseCode.UNKNOWN_USER,
                f"the RequestID's originator {request.request_id.originator} is not the "
                f"signer {cert.eui}",
            )
        request.authenticated = True
        request.user = user
        trace.ok("signature", f"signed by {cert.eui} (serial {cert.serial})")

    def _public_key(self, pem: str) -> ec.EllipticCurvePublicKey:
        key = self._keys.get(pem)
        if key is None:
            public = load_certificate(pem.encode()).public_key()
            assert isinstance(public, ec.EllipticCurvePublicKey)
            key = self._keys[pem] = public
        return key

    @staticmethod
    def _check_variant(endpoint: str, request: _Request, trace: _Trace) -> None:
        srv, variant = request.srv, request.variant
        assert srv is not None
        assert variant is not None
        try:
            served_at = Endpoint(endpoint)
        except ValueError as exc:
            raise RequestRejected(
                ResponseCode.WRONG_ENDPOINT, f"{endpoint} is not a DUIS endpoint"
            ) from exc
        if served_at not in endpoints_for(variant):
            allowed = " or ".join(sorted(e.value for e in endpoints_for(variant)))
            raise RequestRejected(
                ResponseCode.WRONG_ENDPOINT,
                f"command variant {int(variant)} is sent to {allowed}, not {endpoint}",
            )
        if variant not in srv.command_variants:
            allowed = ", ".join(str(int(v)) for v in sorted(srv.command_variants))
            raise RequestRejected(
                ResponseCode.VARIANT_NOT_ALLOWED,
                f"SRV {srv.variant} takes command variants {allowed}, not {int(variant)}",
            )
        element = request.header.body_name or ""
        if not body_allowed(srv, variant, element):
            raise RequestRejected(
                ResponseCode.VARIANT_NOT_ALLOWED,
                f"body element {element or 'none'!r} does not carry SRV {srv.variant}",
            )
        trace.ok("endpoint and command variant")

    def _check_access(self, uow: UnitOfWork, request: _Request, trace: _Trace) -> None:
        srv, user, request_id = request.srv, request.user, request.request_id
        assert srv is not None
        assert user is not None
        assert request_id is not None
        roles = user.roles & srv.eligible_roles
        request.roles = frozenset(roles)
        if not roles:
            mine = " ".join(sorted(r.value for r in user.roles)) or "none"
            eligible = " ".join(sorted(r.value for r in srv.eligible_roles)) or "none"
            raise RequestRejected(
                ResponseCode.ROLE_NOT_ELIGIBLE,
                f"SRV {srv.variant} is for roles {eligible}; {user.eui} holds {mine}",
            )
        if user.status is not PartyStatus.ACTIVE:
            raise RequestRejected(ResponseCode.USER_NOT_ACTIVE, f"{user.eui} is {user.status}")
        target = self._device_of(srv, request)
        if target is not None:
            device = uow.duis.device(target)
            if device is None:
                raise RequestRejected(
                    ResponseCode.UNKNOWN_DEVICE, f"device {target} is not in the inventory"
                )
            if not srv.non_device and not status_allows_device_request(device.smi_status):
                raise RequestRejected(
                    ResponseCode.DEVICE_STATUS,
                    f"device {target} is {device.smi_status}; requests need it Commissioned",
                )
            points = {
                kind: mpxn
                for kind, mpxn in (
                    (MeterPointKind.MPAN, device.mpan),
                    (MeterPointKind.MPRN, device.mprn),
                )
                if mpxn
            }
            today = self._clock.now().date()
            registered = uow.programme.in_force(list(points.values()), today)
            by_kind = {kind: registered[m] for kind, m in points.items() if m in registered}
            own_notice = device.prenotified_by == user.eui  # a device it pre-notified itself
            if not own_notice and not is_right_party(user.eui, roles, device.device_type, by_kind):
                raise RequestRejected(
                    ResponseCode.NOT_RESPONSIBLE,
                    f"{user.eui} is not, today, the party responsible for {device.device_type} "
                    f"{target} in any of its eligible roles",
                )
        trace.ok("access control", " ".join(sorted(r.value for r in roles)))

    @staticmethod
    def _device_of(srv: ServiceRequestVariant, request: _Request) -> Eui64 | None:
        """The device access control is about: the RequestID's target for a device request;
        for a non-device request the device its body names, where it must exist."""
        assert request.request_id is not None
        if not srv.non_device:
            return request.request_id.target
        reader = NON_DEVICE_TARGETS.get(srv.variant)
        if reader is None:
            return None
        return reader(request.header)  # a MalformedRequest answers with its own code

    # answers

    def _sign(
        self,
        request: _Request,
        code: ResponseCode,
        at: datetime,
        payload: etree._Element | None = None,
    ) -> bytes:
        srv = request.srv
        root = response(
            str(request.request_id) if request.request_id else None,
            code,
            srv.variant if srv else None,
            srv.service_reference if srv else None,
            at,
            payload,
        )
        return self._signer.sign(root)

    def _quarantine(
        self,
        uow: UnitOfWork,
        endpoint: str,
        request: _Request,
        received: datetime,
        body: bytes,
        digest: str,
        trace: _Trace,
    ) -> Answer:
        assert request.request_id is not None
        assert request.srv is not None
        srv, request_id = request.srv, request.request_id
        message = (
            f"{request_id.originator} sent {self._settings.threshold(srv.variant):,} or more "
            f"requests for SRV {srv.variant} within {self._settings.anomaly_window}; quarantined"
        )
        trace.ok("anomaly detection", f"quarantined: {message}")
        signed = self._sign(request, ResponseCode.QUARANTINED, received)
        record = _record(
            uow,
            request,
            endpoint,
            received,
            digest,
            ResponseCode.QUARANTINED,
            trace,
            signed,
            status=RequestStatus.QUARANTINED,
            kept=body,
        )
        uow.duis.raise_alert(
            QUARANTINE_ALERT, request_id.originator, f"request record {record}: {message}", received
        )
        return Answer(200, signed, ResponseCode.QUARANTINED.value, message)

    def _refuse(
        self,
        uow: UnitOfWork,
        endpoint: str,
        request: _Request,
        received: datetime,
        digest: str,
        trace: _Trace,
        exc: RequestRejected,
    ) -> Answer:
        trace.verdicts.append(("refused", f"{exc.code.value}: {exc}"))
        signed = self._sign(request, exc.code, received)
        known = request.authenticated and exc.code is not ResponseCode.REPLAYED
        _record(uow, request, endpoint, received, digest, exc.code, trace, signed, named=known)
        return Answer(_http_status(exc.code.value), signed, exc.code.value, str(exc))

    def _problem(
        self,
        endpoint: str,
        received: datetime,
        digest: str,
        trace: _Trace,
        exc: RequestRejected,
    ) -> Answer:
        """A request that could not be read far enough for a DUIS Response."""
        trace.verdicts.append(("refused", f"{exc.code.value}: {exc}"))
        body = problem_document(exc.code, str(exc))
        with self._uow_factory() as uow:
            uow.duis.record(
                None,
                None,
                None,
                None,
                endpoint,
                received,
                digest,
                exc.code.value,
                RequestStatus.ANSWERED,
                trace.verdicts,
                None,
                body,
            )
            uow.commit()
        return Answer(400, body, exc.code.value, str(exc))


def _record(
    uow: UnitOfWork,
    request: _Request,
    endpoint: str,
    received: datetime,
    digest: str,
    code: ResponseCode,
    trace: _Trace,
    signed: bytes,
    status: str = RequestStatus.ANSWERED,
    kept: bytes | None = None,
    named: bool = True,
) -> int:
    """Record a request and its answer; ``named`` False records it without its RequestID
    (its signature did not verify, or it replays one)."""
    rid = request.request_id
    return uow.duis.record(
        str(rid) if named and rid else None,
        rid.originator.value if rid else None,
        request.srv.variant if request.srv else None,
        int(request.variant) if request.variant else None,
        endpoint,
        received,
        digest,
        code.value,
        status,
        trace.verdicts,
        kept,
        signed,
    )


def _http_status(code: str) -> int:
    """HTTP 400 for requests that are not valid DUIS; 200 for every DUIS answer."""
    return 400 if code in (ResponseCode.MALFORMED.value, ResponseCode.SCHEMA_INVALID.value) else 200


def _body_device(header: RequestHeader) -> Eui64 | None:
    return read_device_target(body_of(header)).device_id


def _update_device(header: RequestHeader) -> Eui64 | None:
    return read_inventory_update(body_of(header)).device_id


def _schedule_device(header: RequestHeader) -> Eui64 | None:
    return read_create_schedule(body_of(header)).device_id


def _deleted_schedule_device(header: RequestHeader) -> Eui64 | None:
    return read_delete_schedule(body_of(header))[1]  # by id: the schedule's own check


NON_DEVICE_TARGETS: dict[str, Callable[[RequestHeader], Eui64 | None]] = {
    "8.3": _body_device,
    "8.4": _update_device,
    "5.1": _schedule_device,
    "5.3": _deleted_schedule_device,
}
