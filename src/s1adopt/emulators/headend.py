"""The emulated SMSO head end speaking ``s1-json/1`` (see ``formats.headend_wire``), on aiohttp.

Rules, in the order they are applied to a request:
1. an unknown operation, or a route the protocol does not have, is BAD_REQUEST;
2. a device the head end does not serve is UNKNOWN_DEVICE;
3. a body larger than ``MAX_BODY_BYTES``, not a JSON object, or lacking a well-formed field is
   BAD_REQUEST (counted as a request of the device);
4. a device with the ``no_answer`` fault answers NO_RESPONSE after ``no_answer_delay``, as the
   head end does when its WAN timeout expires;
5. a device without a credential (Type 2) or a tag that the device's current credential does
   not produce is AUTH_FAILED (an authentication failure of the device);
6. a replacement whose new credential cannot be opened with the current one, or is shorter than
   ``MIN_CREDENTIAL_BYTES``, is BAD_REQUEST; otherwise the new credential is journalled and from
   then on the only one the device accepts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from s1adopt.domain.errors import CredentialError
from s1adopt.domain.secrets import Secret
from s1adopt.emulators.fleet_files import NO_ANSWER
from s1adopt.emulators.state import EmulatedDevice, HeadEndState
from s1adopt.formats.headend_wire import (
    BATCH_PATH,
    HTTP_STATUS,
    MAX_BATCH_BODY_BYTES,
    MAX_BATCH_OPERATIONS,
    MAX_BODY_BYTES,
    ErrorCode,
    Operation,
    open_new_credential,
    tag_matches,
)

DEFAULT_NO_ANSWER_DELAY = 0.02
MIN_CREDENTIAL_BYTES = 16
MAX_FIELD_CHARS = 256
HEADEND_STATE = web.AppKey("headend_state", HeadEndState)


@dataclass(frozen=True, slots=True)
class HeadEndSettings:
    """Behaviour of an emulated head end."""

    no_answer_delay: float = DEFAULT_NO_ANSWER_DELAY


HEADEND_SETTINGS = web.AppKey("headend_settings", HeadEndSettings)


class _Refused(Exception):
    """A request answered with an error code (internal to this module)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def headend_app(state: HeadEndState, settings: HeadEndSettings | None = None) -> web.Application:
    """The aiohttp application of one SMSO's head end."""
    app = web.Application(middlewares=[_protocol_errors], client_max_size=MAX_BATCH_BODY_BYTES)
    app[HEADEND_STATE] = state
    app[HEADEND_SETTINGS] = settings or HeadEndSettings()
    app.router.add_post("/v1/devices/{device}/{op}", _device_operation)
    app.router.add_post(BATCH_PATH, _batch)
    return app


def error_response(code: ErrorCode, message: str) -> web.Response:
    """The protocol's error answer: ``{error, message}`` with the code's HTTP status."""
    return web.json_response({"error": code.value, "message": message}, status=HTTP_STATUS[code])


@web.middleware
async def _protocol_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except _Refused as refused:
        return error_response(refused.code, refused.message)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        return error_response(
            ErrorCode.BAD_REQUEST, f"{request.method} {request.path} is not an operation"
        )


async def _device_operation(request: web.Request) -> web.StreamResponse:
    state = request.app[HEADEND_STATE]
    device_hex, op_text = request.match_info["device"], request.match_info["op"]
    _check_operation(state, device_hex, op_text)
    body = await _read_body(request, MAX_BODY_BYTES)
    answer = await _perform(state, request.app[HEADEND_SETTINGS], device_hex, op_text, body)
    return web.json_response(answer)


async def _batch(request: web.Request) -> web.StreamResponse:
    """Several device operations in one request, each answered as if sent alone."""
    state, settings = request.app[HEADEND_STATE], request.app[HEADEND_SETTINGS]
    body = await _read_body(request, MAX_BATCH_BODY_BYTES)
    operations = body.get("operations")
    if not isinstance(operations, list) or not 0 < len(operations) <= MAX_BATCH_OPERATIONS:
        raise _Refused(
            ErrorCode.BAD_REQUEST,
            f"'operations' must be a list of 1 to {MAX_BATCH_OPERATIONS} device operations",
        )

    async def one(item: object) -> dict[str, Any]:
        try:
            if not isinstance(item, dict):
                raise _Refused(ErrorCode.BAD_REQUEST, "an operation must be a JSON object")
            device_hex, op_text = _text(item, "device"), _text(item, "op")
            _check_operation(state, device_hex, op_text)
            return {
                "status": 200,
                "body": await _perform(state, settings, device_hex, op_text, item),
            }
        except _Refused as refused:
            return {
                "status": HTTP_STATUS[refused.code],
                "body": {"error": refused.code.value, "message": refused.message},
            }

    results = await asyncio.gather(*(one(item) for item in operations))
    return web.json_response({"results": results})


def _check_operation(state: HeadEndState, device_hex: str, op_text: str) -> None:
    """Rules 1 and 2: a known operation on a device this head end serves."""
    try:
        Operation(op_text)
    except ValueError:
        raise _Refused(ErrorCode.BAD_REQUEST, f"unknown operation {op_text!r}") from None
    if state.devices.get(device_hex.upper()) is None:
        state.totals.unknown_device_requests += 1
        raise _Refused(ErrorCode.UNKNOWN_DEVICE, f"this head end does not serve {device_hex}")


async def _perform(
    state: HeadEndState,
    settings: HeadEndSettings,
    device_hex: str,
    op_text: str,
    body: dict[str, Any],
) -> dict[str, Any]:
    """Rules 3 to 6 for one device operation; the answer body, or ``_Refused``."""
    op = Operation(op_text)
    device = state.devices[device_hex.upper()]
    device.requests += 1
    state.totals.requests += 1
    nonce, tag = _text(body, "nonce"), _text(body, "tag")
    seal_nonce = sealed = ""
    payload = b""
    if op is Operation.REPLACE_CREDENTIAL:
        seal_nonce, sealed = _text(body, "sealNonce"), _text(body, "sealed")
        _hex(seal_nonce, "sealNonce")
        payload = _hex(sealed, "sealed")
    if device.fault == NO_ANSWER:
        await asyncio.sleep(settings.no_answer_delay)
        raise _Refused(ErrorCode.NO_RESPONSE, f"device {device_hex} did not answer")
    current = _authenticate(state, device, op, device_hex, nonce, payload, tag)
    if op is Operation.READ_IDENTITY:
        device.identity_reads += 1
        state.totals.identity_reads += 1
        identity = device.identity
        return {
            "deviceId": device_hex.upper(),
            "deviceType": identity.device_type,
            "manufacturer": identity.manufacturer,
            "model": identity.model,
            "firmware": identity.firmware_version,
        }
    try:
        new = open_new_credential(current, device_hex, seal_nonce, sealed).reveal()
    except CredentialError as exc:
        raise _Refused(
            ErrorCode.BAD_REQUEST, "the new credential cannot be opened with the current one"
        ) from exc
    if len(new) < MIN_CREDENTIAL_BYTES:
        raise _Refused(
            ErrorCode.BAD_REQUEST, f"a credential must be at least {MIN_CREDENTIAL_BYTES} bytes"
        )
    state.replace_credential(device_hex.upper(), device, new)
    return {"replaced": True}


def _authenticate(
    state: HeadEndState,
    device: EmulatedDevice,
    op: Operation,
    device_hex: str,
    nonce: str,
    payload: bytes,
    tag: str,
) -> Secret:
    """The device's current credential, if the request's tag proves it; else AUTH_FAILED."""
    if device.credential is not None:
        current = Secret(device.credential)
        if tag_matches(current, op, device_hex, nonce, payload, tag):
            return current
    device.auth_failures += 1
    state.totals.auth_failures += 1
    raise _Refused(ErrorCode.AUTH_FAILED, f"device {device_hex} rejected the credential")


async def _read_body(request: web.Request, limit: int) -> dict[str, Any]:
    """The request's JSON object, read up to ``limit`` bytes."""
    too_large = f"request body larger than {limit} bytes"
    if request.content_length is not None and request.content_length > limit:
        raise _Refused(ErrorCode.BAD_REQUEST, too_large)
    raw = bytearray()
    while chunk := await request.content.readany():
        raw += chunk
        if len(raw) > limit:
            raise _Refused(ErrorCode.BAD_REQUEST, too_large)
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise _Refused(ErrorCode.BAD_REQUEST, "request body is not JSON") from exc
    if not isinstance(doc, dict):
        raise _Refused(ErrorCode.BAD_REQUEST, "request body is not a JSON object")
    return doc


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or not value.isascii():
        raise _Refused(ErrorCode.BAD_REQUEST, f"field {name!r} must be a non-empty ASCII string")
    if name != "sealed" and len(value) > MAX_FIELD_CHARS:
        raise _Refused(ErrorCode.BAD_REQUEST, f"field {name!r} is longer than {MAX_FIELD_CHARS}")
    return value


def _hex(value: str, name: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise _Refused(ErrorCode.BAD_REQUEST, f"field {name!r} is not hex") from exc
