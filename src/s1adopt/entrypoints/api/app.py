"""The DUIS gateway over HTTP, as the public DCC test tools expect it.

``POST /api/v1/serviceS`` (commands), ``/api/v1/serviceD`` (non-device and local),
``/api/v1/serviceT`` (transform), ``application/xml``; ``GET /health``; ``GET /metrics``
(Prometheus). The body is read up to the size limit and no further. Every answer is the
gateway's: a signed DUIS Response (HTTP 200), or HTTP 400 with a problem document for a request
too broken to answer in DUIS; the code and a clear message also travel in the headers
``X-DUIS-Response-Code`` and ``X-DUIS-Message``. A client never causes a 5xx.

With the device service, the application also runs its background work (the head ends'
queues, the scheduler, the deliveries) for as long as it serves, and takes the head ends'
device alerts at ``POST /internal/headend-alerts`` (JSON ``{device, kind, at}``, from a
loopback address only, at most ``ALERT_LIMIT`` bytes; answered 204).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.concurrency import run_in_threadpool

from s1adopt.domain.duis import Endpoint
from s1adopt.services.duis.alerts import AlertIntake
from s1adopt.services.duis.gateway import Answer, Gateway

MESSAGE_HEADER_LIMIT = 300
ALERT_LIMIT = 64 * 1024
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
RUN_DEVICE_SERVICE = "S1ADOPT_RUN_DEVICE_SERVICE"
Background = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def create_app(
    gateway: Gateway,
    max_request_bytes: int,
    alerts: AlertIntake | None = None,
    background: Background | None = None,
) -> FastAPI:
    """The ASGI application around one gateway (and the device service's background work)."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if background is None:
            yield
            return
        stop = asyncio.Event()
        task = asyncio.create_task(background(stop))
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=30)

    app = FastAPI(
        title="s1adopt DUIS gateway",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    registry = CollectorRegistry()
    requests = Counter(
        "duis_requests", "DUIS requests answered", ["endpoint", "code"], registry=registry
    )
    latency = Histogram(
        "duis_request_seconds",
        "Time to answer a DUIS request",
        ["endpoint"],
        registry=registry,
        buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
    )
    endpoints = {e.value for e in Endpoint}

    async def service(request: Request) -> Response:
        # a plain Starlette route: the hot path skips FastAPI's parameter resolution
        service = str(request.path_params["service"])
        started = time.perf_counter()
        if service not in endpoints:
            return PlainTextResponse(
                f"no such service {service[:40]!r}: use serviceS, serviceD or serviceT",
                status_code=404,
            )
        body = await _read_limited(request, max_request_bytes)
        answer = await run_in_threadpool(
            gateway.handle, service, request.headers.get("content-type"), body
        )
        requests.labels(service, answer.code).inc()
        latency.labels(service).observe(time.perf_counter() - started)
        return _response(answer)

    app.add_route("/api/v1/{service}", service, methods=["POST"])

    @app.post("/internal/headend-alerts")
    async def headend_alert(request: Request) -> Response:
        if alerts is None:
            return PlainTextResponse("this gateway runs without the device service", 404)
        if request.client is None or request.client.host not in LOOPBACK:
            return PlainTextResponse("head-end alerts are taken from loopback only", 403)
        raw = await _read_limited(request, ALERT_LIMIT)
        if len(raw) > ALERT_LIMIT:
            return PlainTextResponse(f"an alert is at most {ALERT_LIMIT} bytes", 413)
        try:
            alert = json.loads(raw)
            fields = [str(alert[k]) for k in ("device", "kind", "at")]
        except (ValueError, KeyError, TypeError):
            return PlainTextResponse("an alert is JSON {device, kind, at}", 400)
        await run_in_threadpool(alerts.take, *fields)
        return Response(status_code=204)

    @app.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


async def _read_limited(request: Request, limit: int) -> bytes:
    """The body, but never more than ``limit`` + 1 bytes (the gateway refuses the excess)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return b"\0" * (limit + 1)  # not read at all: only its size matters
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)


def _response(answer: Answer) -> Response:
    message = answer.message.encode("ascii", "replace").decode()[:MESSAGE_HEADER_LIMIT]
    return Response(
        answer.body,
        status_code=answer.status,
        media_type=answer.content_type,
        headers={"X-DUIS-Response-Code": answer.code, "X-DUIS-Message": message.replace("\n", " ")},
    )


def app_from_environment() -> FastAPI:
    """The application with settings from the environment (``uvicorn --factory``, workers)."""
    from s1adopt.bootstrap import Application
    from s1adopt.config import Settings

    application = Application(Settings())
    settings = application.settings
    if os.environ.get(RUN_DEVICE_SERVICE) != "1":  # another process works the queues
        return create_app(
            application.gateway(), settings.max_request_bytes, application.alert_intake()
        )
    from s1adopt.entrypoints.api.device_process import background_for

    background = background_for(application)
    return create_app(
        application.gateway(),
        settings.max_request_bytes,
        application.alert_intake(),
        background,
    )


AppFactory = Callable[[], FastAPI]
