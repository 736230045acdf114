"""Device requests at the gateway: accepted into their head end's queue, or refused now.

A device request that passed the gateway's checks (signature, replay, variant, access) is
handled here, inside the transaction that records it, so a request is acknowledged (I99) only
once its command is durably queued.

Rules, in order:
- command variants 2, 3, 6 and 7 (local delivery) are refused with E17: a SMETS1 device has
  no local (HAN) command path the user could deliver to;
- an SRV without SMETS1 Equivalent Steps in this release is refused with E1011; one that does
  not fit the device's type or model (the S1SR's variations) with E11, before any traffic;
- after a change of supplier, a supplier that does not hold the device's credentials is
  refused (E43) until its 6.23 has replaced them; 6.23 itself must name the device's own
  meter point;
- the request's values are read from its body (E1001 when they are not valid), and its steps
  are planned now so that what cannot be carried out is refused now (E11);
- CV1 queues the command (for its ``ExecutionDateTime`` if it is future-dated: at most
  ``max_future_days`` ahead) and answers I99;
- a CV1 or CV5 request whose ``ExecutionDateTime`` is ``CANCELLATION_TIME`` (3000-12-31)
  cancels the sender's future-dated requests of the same SRV for the device that are still
  waiting, and is answered I0 at once naming them (or E11 when none is waiting): nothing
  reaches the device, and a cancelled request gets no response;
- CV4 (transform, critical requests) answers I0 with the pre-command to sign, kept for CV5;
- CV5 takes the user's signed pre-command: it must be the one issued for this user, device
  and SRV, unused, and signed by one of the user's registered certificates (E41 otherwise);
  the DCO must approve it (E42 otherwise); its command is queued with the DCO's
  countersignature and the answer is I99.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from s1adopt.domain.device_models import DeviceModel, model_for
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.duis import (
    CANCELLATION_TIME,
    CommandVariant,
    RequestId,
    RequestRejected,
    ResponseCode,
)
from s1adopt.domain.equivalent_steps import StepInputs, StepsRefused, parse_time, steps_for
from s1adopt.domain.identities import Eui64
from s1adopt.domain.parties import Party, Role
from s1adopt.domain.srv import ServiceRequestVariant
from s1adopt.formats.duis import precommand
from s1adopt.formats.duis.certificates import load_certificate
from s1adopt.formats.duis.device_requests import read_values
from s1adopt.formats.duis.requests import MalformedRequest, RequestHeader
from s1adopt.formats.firmware import firmware_image_hash
from s1adopt.services.duis.dco import DualControl
from s1adopt.services.duis.device_ports import DeviceContext, NewCommand, PreCommandRecord
from s1adopt.services.ports import UnitOfWork

LOCAL_VARIANTS = frozenset(
    {
        CommandVariant.LOCAL,
        CommandVariant.SEND_AND_LOCAL,
        CommandVariant.SIGNED_LOCAL,
        CommandVariant.SIGNED_SEND_AND_LOCAL,
    }
)
SUPPLIER_ROLES = frozenset({Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER})
CHANGE_OF_SUPPLIER = "6.23"
HUB_SRVS = frozenset({"8.7.1", "8.7.2", "8.8.1", "8.8.2"})

Result = tuple[ResponseCode, etree._Element | None, str]


@dataclass(frozen=True, slots=True)
class DeviceRequestSettings:
    """Limits on device requests."""

    max_future_days: int = 30


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """A device request that passed the gateway's checks."""

    user: Party
    roles: frozenset[Role]  # the user's roles eligible for the SRV
    srv: ServiceRequestVariant
    variant: CommandVariant
    request_id: RequestId
    header: RequestHeader
    received: datetime


class DeviceRequests:
    """Accepts device requests into the queues (see the module rules)."""

    def __init__(self, dco: DualControl, settings: DeviceRequestSettings | None = None) -> None:
        self._dco = dco
        self._settings = settings or DeviceRequestSettings()

    def accept(self, uow: UnitOfWork, request: DeviceRequest) -> Result:
        """Queue, transform or refuse one device request (``RequestRejected`` for refusals)."""
        srv, variant = request.srv, request.variant
        if variant in LOCAL_VARIANTS:
            raise RequestRejected(
                ResponseCode.NOT_LOCAL,
                f"command variant {int(variant)}: a SMETS1 device takes no local commands; "
                "send command variant 1 (or 5 for a critical request)",
            )
        row = steps_for(srv.variant)
        if row is None:
            raise RequestRejected(
                ResponseCode.NOT_SERVED_YET,
                f"SRV {srv.variant} ({srv.name}) has no SMETS1 Equivalent Steps in this release",
            )
        target = request.request_id.target
        context = uow.devices.device_context(target)
        if context is None or context.smso is None:
            raise RequestRejected(
                ResponseCode.INVALID_FOR_DEVICE,
                f"device {target} is not a migrated SMETS1 device the S1SP can reach",
            )
        device_type = DeviceType(context.device_type)
        model = model_for(context.device_type, context.manufacturer, context.model)
        why = row.refusal(device_type, model)
        if why is not None:
            raise RequestRejected(ResponseCode.INVALID_FOR_DEVICE, why)
        self._check_credentials(request, context)
        if variant is CommandVariant.SIGNED_SEND:
            values, signature = self._signed(uow, request)
        else:
            values, signature = self._values(request), None
        if srv.variant == CHANGE_OF_SUPPLIER:
            _check_meter_point(uow, target, values)
        if "firmwareHash" in values:
            values = {**values, "version": _firmware_version(model, str(values["firmwareHash"]))}
        known = dict(context.known_devices)
        if srv.variant in HUB_SRVS and "device" in values:
            _add_other(uow, known, str(values["device"]))
        try:
            row.plan(values, StepInputs(request.received, device_type, known))
        except StepsRefused as exc:
            raise RequestRejected(ResponseCode.INVALID_FOR_DEVICE, str(exc)) from exc
        if variant is CommandVariant.TRANSFORM:
            return self._transform(uow, request, values)
        if _cancels(values):
            return self._cancel(uow, request)
        due, future = self._due(request, values)
        uow.devices.add_commands(
            [
                NewCommand(
                    str(request.request_id),
                    request.user.eui,
                    target,
                    srv.variant,
                    int(variant),
                    request.request_id.counter,
                    values,
                    command_context(context, known),
                    context.smso,
                    due,
                    future,
                    dco_signature=signature,
                )
            ],
            request.received,
        )
        when = f"at {due.isoformat()}" if future else "now"
        return (
            ResponseCode.ACKNOWLEDGED,
            None,
            f"accepted: SRV {srv.variant} is queued for {target} ({context.model}) {when}; the "
            "response goes to the user's registered endpoint",
        )

    # --- the parts -------------------------------------------------------------------------------

    @staticmethod
    def _check_credentials(request: DeviceRequest, context: DeviceContext) -> None:
        if not request.roles or not request.roles <= SUPPLIER_ROLES:
            return  # a network operator or other user: the supplier credentials do not matter
        holder = context.credential_supplier or context.installation_party
        if holder is None or holder == request.user.eui:
            return
        if request.srv.variant == CHANGE_OF_SUPPLIER:
            return
        raise RequestRejected(
            ResponseCode.CREDENTIALS_NOT_HELD,
            f"device {context.device_id} still holds the supplier credentials of {holder}; "
            "send 6.23 Update Security Credentials (CoS) first",
        )

    @staticmethod
    def _values(request: DeviceRequest) -> dict[str, Any]:
        body = request.header.body
        if body is None:
            raise RequestRejected(ResponseCode.SCHEMA_INVALID, "the request has no body element")
        try:
            return read_values(request.srv.variant, body)
        except MalformedRequest as exc:
            raise RequestRejected(exc.code, str(exc)) from exc

    @staticmethod
    def _cancel(uow: UnitOfWork, request: DeviceRequest) -> Result:
        target, srv = request.request_id.target, request.srv.variant
        cancelled = uow.devices.cancel_future(
            request.user.eui, target, srv, request.received, str(request.request_id)
        )
        if not cancelled:
            raise RequestRejected(
                ResponseCode.INVALID_FOR_DEVICE,
                f"no future-dated SRV {srv} request of {request.user.eui} for {target} is "
                "waiting: nothing to cancel",
            )
        return (
            ResponseCode.SUCCESS,
            None,
            f"cancelled {len(cancelled)} future-dated SRV {srv} request(s) for {target}: "
            + ", ".join(cancelled),
        )

    def _due(self, request: DeviceRequest, values: Mapping[str, Any]) -> tuple[datetime, bool]:
        text = values.get("executionDateTime")
        if not text:
            return request.received, False
        if not request.srv.future_datable:
            raise RequestRejected(
                ResponseCode.SCHEMA_INVALID,
                f"SRV {request.srv.variant} cannot be future-dated; leave out ExecutionDateTime",
            )
        try:
            due = parse_time(str(text))
        except StepsRefused as exc:
            raise RequestRejected(ResponseCode.SCHEMA_INVALID, str(exc)) from exc
        horizon = request.received + timedelta(days=self._settings.max_future_days)
        if due > horizon:
            raise RequestRejected(
                ResponseCode.SCHEMA_INVALID,
                f"ExecutionDateTime {text} is more than {self._settings.max_future_days} days "
                "ahead",
            )
        if due <= request.received:
            return request.received, False
        return due, True

    def _transform(self, uow: UnitOfWork, request: DeviceRequest, values: dict[str, Any]) -> Result:
        rid = str(request.request_id)
        payload = precommand.encode(
            rid,
            request.request_id.target.value,
            request.srv.variant,
            values,
            request.received.isoformat(),
        )
        uow.devices.add_pre_command(
            PreCommandRecord(
                rid,
                request.user.eui,
                request.request_id.target,
                request.srv.variant,
                values,
                payload,
                request.received,
                None,
            )
        )
        return (
            ResponseCode.SUCCESS,
            precommand.pre_command_element(payload),
            "the pre-command to sign and send back with command variant 5",
        )

    def _signed(self, uow: UnitOfWork, request: DeviceRequest) -> tuple[dict[str, Any], bytes]:
        body = request.header.body
        if body is None:
            raise RequestRejected(ResponseCode.SCHEMA_INVALID, "no SignedPreCommand")
        try:
            signed = precommand.payload_of(body)
            pre, signature = precommand.split_signed(signed)
            command = precommand.decode(pre)
        except precommand.PreCommandInvalid as exc:
            raise RequestRejected(ResponseCode.PRE_COMMAND_INVALID, str(exc)) from exc
        issued = uow.devices.pre_command(str(command["requestId"]))
        user, target = request.user.eui, request.request_id.target
        if (
            issued is None
            or issued.originator != user
            or issued.device_id != target
            or issued.srv != request.srv.variant
        ):
            raise RequestRejected(
                ResponseCode.PRE_COMMAND_INVALID,
                f"no pre-command {command['requestId']} was issued to {user} for SRV "
                f"{request.srv.variant} on {target}",
            )
        if issued.payload != pre:
            raise RequestRejected(
                ResponseCode.PRE_COMMAND_INVALID,
                "the signed pre-command differs from the one the transform service issued",
            )
        if not any(
            _signs(cert.certificate_pem, pre, signature) for cert in uow.duis.certificates_of(user)
        ):
            raise RequestRejected(
                ResponseCode.PRE_COMMAND_INVALID,
                f"the pre-command's signature does not verify with any certificate of {user}",
            )
        if issued.used_by is not None:
            raise RequestRejected(
                ResponseCode.PRE_COMMAND_INVALID,
                f"pre-command {issued.request_id} was sent before (by {issued.used_by})",
            )
        countersignature = self._dco.approve(
            uow, user, str(request.request_id), target, request.srv.variant, issued.values
        )
        if not uow.devices.use_pre_command(issued.request_id, str(request.request_id)):
            raise RequestRejected(
                ResponseCode.PRE_COMMAND_INVALID, f"pre-command {issued.request_id} was sent before"
            )
        return issued.values, countersignature


def _signs(certificate_pem: str, pre: bytes, signature: bytes) -> bool:
    public = load_certificate(certificate_pem.encode()).public_key()
    return isinstance(public, ec.EllipticCurvePublicKey) and precommand.signature_valid(
        pre, signature, public
    )


def command_context(context: DeviceContext, known: Mapping[str, str]) -> dict[str, Any]:
    """What a command keeps of its device to plan and render its steps later."""
    holder = context.credential_supplier or context.installation_party
    return {
        "deviceType": context.device_type,
        "manufacturer": context.manufacturer,
        "model": context.model,
        "hub": context.hub.value if context.hub else None,
        "known": dict(known),
        "previousSupplier": holder.value if holder else None,
    }


def _add_other(uow: UnitOfWork, known: dict[str, str], other: str) -> None:
    try:
        device = Eui64.parse(other)
    except ValueError:
        return
    record = uow.duis.device(device)
    if record is not None:
        known.setdefault(device.hex, record.device_type)


def _cancels(values: Mapping[str, Any]) -> bool:
    """Whether the request is a cancellation (its ExecutionDateTime is CANCELLATION_TIME)."""
    text = values.get("executionDateTime")
    if not text:
        return False
    try:
        return parse_time(str(text)) == CANCELLATION_TIME
    except StepsRefused:
        return False


def _check_meter_point(uow: UnitOfWork, target: Eui64, values: Mapping[str, Any]) -> None:
    named = values.get("importMpxn")
    record = uow.duis.device(target)
    if record is None or not named:
        return
    own = {m for m in (record.mpan, record.mprn) if m}
    if str(named) not in own:
        raise RequestRejected(
            ResponseCode.INVALID_FOR_DEVICE,
            f"6.23 names meter point {named}, but device {target} serves "
            f"{', '.join(sorted(own)) or 'none'}",
        )


def _firmware_version(model: DeviceModel, image_hash: str) -> str:
    """The release of the device's model whose image has this SHA-256 (E11 when none)."""
    releases = [v for v in (model.firmware, model.dormant_firmware) if v]
    releases += [model.behaviour.firmware_format.bumped(v) for v in list(releases)]
    for version in releases:
        if firmware_image_hash(model.manufacturer, model.model, version) == image_hash.lower():
            return version
    raise RequestRejected(
        ResponseCode.INVALID_FOR_DEVICE,
        f"no firmware image of {model.manufacturer} {model.model} known to the service has the "
        f"hash {image_hash[:16]}...",
    )
