"""The DUIS gateway over HTTP, as the public DCC test tools expect it.

``POST /api/v1/serviceS`` (commands), ``/api/v1/serviceD`` (non-device and local),
``/api/v1/serviceT`` (transform), ``application/xml``; ``GET /health``; ``GET /metrics``
(Prometheus). The body is read up to the size limit and no further. Every answer is the
gateway's: a signed DUIS Response (HTTP 200), or HTTP 400 with a problem document for a request
too broken to answer in DUIS; the code and a clear message also travel in the headers
``X-DUIS-Response-Code`` and ``X-DUIS-Message``. A client never causes a 5xx.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from s1adopt.domain.duis import Endpoint
from s1adopt.services.duis.gateway import Answer, Gateway

MESSAGE_HEADER_LIMIT = 300


def create_app(gateway: Gateway, max_request_bytes: int) -> FastAPI:
    """The ASGI application around one gateway."""
    app = FastAPI(title="s1adopt DUIS gateway", docs_url=None, redoc_url=None, openapi_url=None)
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

    @app.post("/api/v1/{service}")
    async def service(service: str, request: Request) -> Response:
        started = time.perf_counter()
        if service not in endpoints:
            return PlainTextResponse(
                f"no such service {service[:40]!r}: use serviceS, serviceD or serviceT",
                status_code=404,
            )
        body = await _read_limited(request, max_request_bytes)
        answer = gateway.handle(service, request.headers.get("content-type"), body)
        requests.labels(service, answer.code).inc()
        latency.labels(service).observe(time.perf_counter() - started)
        return _response(answer)

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
    return create_app(application.gateway(), application.settings.max_request_bytes)


AppFactory = Callable[[], FastAPI]
