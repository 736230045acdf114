"""The ``s1-json/2`` front end (``formats.wire.json_v2``): JSON over HTTP, with batches.

Rules beyond ``gate``:
- a route the protocol does not have, a body it cannot decode or one beyond its size limit is
  answered BAD_REQUEST (in a batch, a malformed operation is its own BAD_REQUEST);
- a silent single request is held unanswered (``http_common.hold_silence``); a batch is
  answered once every operation has answered or its ``waitMs`` has passed, a silent or
  unfinished operation standing as ``null``; an operation still running then goes on to its
  end, unseen by the client, holding its session as a real head end's WAN session would;
- a garbled single answer is a truncated JSON body; a garbled batch result is a ``body``
  that is a string instead of an object.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack

from aiohttp import web

from s1adopt.emulators.frontends.gate import Outcome, SessionGate, Unanswered
from s1adopt.emulators.frontends.http_common import (
    bad_routes,
    hold_silence,
    http_url,
    read_bounded,
    serve_app,
)
from s1adopt.emulators.world.core_api import HeadEndCore
from s1adopt.formats.device_auth import ErrorCode
from s1adopt.formats.wire import json_v2
from s1adopt.formats.wire.values import WireDecodeError, WireError, WireRequest

GARBLED_BODY = b'{"result":{"deviceType":"ES\xc3'
GARBLED_RESULT = json.dumps("\x00\x1f garbled \ufffd").encode()
_GATE = web.AppKey("gate", SessionGate)


class _Running:
    """Operations of batches already answered that still run (cancelled at shutdown)."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Future[Outcome]] = set()


_RUNNING = web.AppKey("running", _Running)


async def start_json_frontend(core: HeadEndCore, host: str, stack: AsyncExitStack) -> str:
    """Serve ``core`` in ``s1-json/2`` on ``host`` (ephemeral port); its base URL."""
    port = await serve_app(stack, json_app(core), host, 0)
    return http_url(host, port)


def json_app(core: HeadEndCore) -> web.Application:
    """The aiohttp application of one ``s1-json/2`` head end."""
    app = web.Application(
        middlewares=[bad_routes(_error_answer)], client_max_size=json_v2.MAX_BATCH_REQUEST_BYTES
    )
    app[_GATE] = SessionGate(core)
    app[_RUNNING] = _Running()
    app.router.add_post("/v2/devices/{device}/{operation}", _single)
    app.router.add_post(json_v2.BATCH_PATH, _batch)
    app.on_cleanup.append(_cancel_running)
    return app


def _respond(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type=json_v2.CONTENT_TYPE)


def _error(code: ErrorCode, message: str) -> web.Response:
    return _error_answer(WireError(code, message))


def _error_answer(error: WireError) -> web.Response:
    return _respond(*json_v2.encode_answer(error))


async def _single(request: web.Request) -> web.StreamResponse:
    try:
        body = await read_bounded(request, json_v2.MAX_REQUEST_BYTES)
        wire = json_v2.decode_request(
            request.match_info["device"], request.match_info["operation"], body
        )
    except WireDecodeError as exc:
        return _error(ErrorCode.BAD_REQUEST, str(exc))
    outcome = await request.app[_GATE].carry(wire)
    if outcome is Unanswered.SILENT:
        return await hold_silence(request)
    if outcome is Unanswered.GARBLED:
        return _respond(200, GARBLED_BODY)
    return _respond(*json_v2.encode_answer(outcome))


def _batch_item(outcome: Outcome) -> json_v2.BatchItem:
    if outcome is Unanswered.SILENT:
        return None
    if outcome is Unanswered.GARBLED:
        return 200, GARBLED_RESULT
    return json_v2.encode_answer(outcome)


async def _batch(request: web.Request) -> web.StreamResponse:
    """Operations in one request, each answered as if alone, in order, by ``waitMs``."""
    loop = asyncio.get_running_loop()
    try:
        wait_ms, items = json_v2.decode_batch(
            await read_bounded(request, json_v2.MAX_BATCH_REQUEST_BYTES)
        )
    except WireDecodeError as exc:
        return _error(ErrorCode.BAD_REQUEST, str(exc))
    deadline = loop.time() + wait_ms / 1000
    gate = request.app[_GATE]
    tasks = [
        asyncio.ensure_future(gate.carry(item) if isinstance(item, WireRequest) else _as(item))
        for item in items
    ]
    done, pending = await asyncio.wait(tasks, timeout=wait_ms / 1000)
    answers = [_batch_item(t.result()) if t in done else None for t in tasks]
    if None in answers and (delay := deadline - loop.time()) > 0:
        await asyncio.sleep(delay)  # a silent operation answers nothing before waitMs ends
    running = request.app[_RUNNING].tasks
    for task in pending:
        running.add(task)
        task.add_done_callback(running.discard)
    return _respond(200, json_v2.encode_batch_answer(answers))


async def _as(error: WireError) -> Outcome:
    return error


async def _cancel_running(app: web.Application) -> None:
    for task in list(app[_RUNNING].tasks):
        task.cancel()
