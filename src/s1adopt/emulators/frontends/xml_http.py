"""The ``s1-xml/1`` front end (``formats.wire.xml_v1``): typed XML documents over HTTP.

Rules beyond ``gate``: every answer document travels with HTTP 200; a route the protocol does
not have, a document that is unsafe, malformed or beyond ``MAX_REQUEST_BYTES`` is answered
BAD_REQUEST; a silent request is held unanswered (``http_common.hold_silence``); a garbled
answer is a truncated document with bytes that are not UTF-8.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from aiohttp import web

from s1adopt.emulators.frontends.gate import SessionGate, Unanswered
from s1adopt.emulators.frontends.http_common import (
    bad_routes,
    hold_silence,
    http_url,
    read_bounded,
    serve_app,
)
from s1adopt.emulators.world.core_api import HeadEndCore
from s1adopt.formats.device_auth import ErrorCode
from s1adopt.formats.wire import xml_v1
from s1adopt.formats.wire.values import Answer, WireDecodeError, WireError

GARBLED_DOCUMENT = b'<answer xmlns="' + xml_v1.NS.encode() + b'"><result><m k="device\xff\xfe'
_GATE = web.AppKey("gate", SessionGate)


async def start_xml_frontend(core: HeadEndCore, host: str, stack: AsyncExitStack) -> str:
    """Serve ``core`` in ``s1-xml/1`` on ``host`` (ephemeral port); its base URL."""
    port = await serve_app(stack, xml_app(core), host, 0)
    return http_url(host, port)


def xml_app(core: HeadEndCore) -> web.Application:
    """The aiohttp application of one ``s1-xml/1`` head end."""
    app = web.Application(
        middlewares=[bad_routes(_answer)], client_max_size=xml_v1.MAX_REQUEST_BYTES
    )
    app[_GATE] = SessionGate(core)
    app.router.add_post(xml_v1.PATH, _request)
    return app


def _respond(body: bytes) -> web.Response:
    return web.Response(body=body, content_type=xml_v1.CONTENT_TYPE, charset="utf-8")


def _answer(answer: Answer) -> web.Response:
    return _respond(xml_v1.encode_answer(answer))


async def _request(request: web.Request) -> web.StreamResponse:
    try:
        wire = xml_v1.decode_request(await read_bounded(request, xml_v1.MAX_REQUEST_BYTES))
    except WireDecodeError as exc:
        return _answer(WireError(ErrorCode.BAD_REQUEST, str(exc)))
    outcome = await request.app[_GATE].carry(wire)
    if outcome is Unanswered.SILENT:
        return await hold_silence(request)
    if outcome is Unanswered.GARBLED:
        return _respond(GARBLED_DOCUMENT)
    return _answer(outcome)
