"""The emulator's control API: head ends, counters, faults, availability, events, alerts.

- ``GET /headends``: ``{"headends": [{"name", "smso", "cohort", "protocol", "url",
  "sessionLimit", "available"}]}``;
- ``GET /stats``: ``{"totals", "operations", "headends", "alerts", "devices": {hex: {...}}}``;
  the device map lists only devices that received requests, and is left out with
  ``?devices=none`` (a cheap poll);
- ``GET /devices/{hex}``: one device's identity, fault, counters and supply;
- ``PUT /devices/{hex}/fault`` ``{"fault": kind, "count": n (optional)}`` sets a fault
  (``world.faults``), ``DELETE /devices/{hex}/fault`` clears it;
- ``PUT /headends/{name}/available`` ``{"available": bool}``;
- ``POST /devices/{hex}/events`` ``{"kind": alert kind}`` records the event and pushes its
  alert (unless the device's alert behaviours disable it);
- ``PUT /alerts/endpoint`` ``{"url": "http://127.0.0.1:.../..." or null}`` registers where
  alerts go (loopback only);
- ``GET /health``: ``{"status": "ok"}``.
Errors are ``{"error": message}`` with 400 (bad body), 404 (unknown device or head end).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from s1adopt.domain.operations import AlertKind
from s1adopt.emulators.world.alerts import Alert
from s1adopt.emulators.world.clock import time_text
from s1adopt.emulators.world.core import EmulatedHeadEnd
from s1adopt.emulators.world.device import WorldDevice
from s1adopt.emulators.world.faults import parse_fault
from s1adopt.emulators.world.loader import World

MAX_BODY = 4096


@dataclass(frozen=True, slots=True)
class HeadEndListing:
    """Where one SMSO's head end listens."""

    name: str
    smso: str
    cohort: str
    protocol: str
    url: str


@dataclass(frozen=True, slots=True)
class _Control:
    world: World
    headends: tuple[HeadEndListing, ...]


_CONTROL = web.AppKey("control", _Control)


class _Problem(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def control_app(world: World, headends: Sequence[HeadEndListing]) -> web.Application:
    """The aiohttp application of the control API; its cleanup stops alert delivery."""
    app = web.Application(middlewares=[_problems], client_max_size=MAX_BODY)
    app[_CONTROL] = _Control(world, tuple(headends))
    app.router.add_get("/headends", _headends)
    app.router.add_put("/headends/{name}/available", _availability)
    app.router.add_get("/stats", _stats)
    app.router.add_get("/devices/{device}", _device)
    app.router.add_put("/devices/{device}/fault", _set_fault)
    app.router.add_delete("/devices/{device}/fault", _clear_fault)
    app.router.add_post("/devices/{device}/events", _event)
    app.router.add_put("/alerts/endpoint", _alert_endpoint)
    app.router.add_get("/health", _health)

    async def stop_alerts(_: web.Application) -> None:
        await world.alerts.aclose()

    app.on_cleanup.append(stop_alerts)
    return app


@web.middleware
async def _problems(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except _Problem as problem:
        return web.json_response({"error": str(problem)}, status=problem.status)
    return response


def _world(request: web.Request) -> World:
    return request.app[_CONTROL].world


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        doc = await request.json()
    except ValueError:
        raise _Problem(400, "the body must be a JSON object") from None
    if not isinstance(doc, dict):
        raise _Problem(400, "the body must be a JSON object")
    return doc


def _found(request: web.Request) -> tuple[EmulatedHeadEnd, str, WorldDevice]:
    found = _world(request).find(request.match_info["device"])
    if found is None:
        raise _Problem(404, f"no head end serves device {request.match_info['device']!r}")
    return found


def _listing(listing: HeadEndListing, headend: EmulatedHeadEnd | None) -> dict[str, Any]:
    return {
        "name": listing.name,
        "smso": listing.smso,
        "cohort": listing.cohort,
        "protocol": listing.protocol,
        "url": listing.url,
        "sessionLimit": None if headend is None else headend.session_limit,
        "available": None if headend is None else headend.available,
    }


async def _headends(request: web.Request) -> web.Response:
    control = request.app[_CONTROL]
    return web.json_response(
        {"headends": [_listing(h, control.world.headend(h.name)) for h in control.headends]}
    )


async def _availability(request: web.Request) -> web.Response:
    headend = _world(request).headend(request.match_info["name"])
    if headend is None:
        raise _Problem(404, f"no head end is called {request.match_info['name']!r}")
    available = (await _body(request)).get("available")
    if not isinstance(available, bool):
        raise _Problem(400, "'available' must be true or false")
    headend.available = available
    return web.json_response({"name": headend.name, "available": available})


async def _stats(request: web.Request) -> web.Response:
    devices = request.query.get("devices") != "none"
    return web.json_response(_world(request).stats(devices=devices))


async def _device(request: web.Request) -> web.Response:
    headend, key, device = _found(request)
    model = device.model
    meter = None if device.extras is None else device.extras.meter
    return web.json_response(
        {
            "device": key,
            "headend": headend.name,
            "type": model.device_type.value,
            "manufacturer": model.manufacturer,
            "model": model.model,
            "firmware": device.firmware,
            "fault": None if device.fault is None else device.fault.value,
            "faultCount": device.fault_left,
            "counters": device.counters(),
            "supply": None
            if not model.device_type.is_meter
            else ("enabled" if meter is None else meter.supply),
        }
    )


async def _set_fault(request: web.Request) -> web.Response:
    _, key, device = _found(request)
    body = await _body(request)
    try:
        fault, count = parse_fault(body.get("fault"), body.get("count"), device.model.device_type)
    except ValueError as exc:
        raise _Problem(400, str(exc)) from None
    device.set_fault(fault, count)
    return web.json_response({"device": key, "fault": fault.value, "count": count})


async def _clear_fault(request: web.Request) -> web.Response:
    _, key, device = _found(request)
    device.set_fault(None)
    return web.json_response({"device": key, "fault": None})


async def _event(request: web.Request) -> web.Response:
    headend, key, device = _found(request)
    kind = (await _body(request)).get("kind")
    if not isinstance(kind, str) or kind not in {k.value for k in AlertKind}:
        known = ", ".join(k.value for k in AlertKind)
        raise _Problem(400, f"'kind' must be one of {known}")
    at = headend.device_time(device)
    device.log_event(at, str(kind), "reported by the device")
    headend.push_alert(Alert(key, str(kind), time_text(at), headend.name))
    return web.json_response({"device": key, "kind": kind, "at": time_text(at)}, status=202)


async def _alert_endpoint(request: web.Request) -> web.Response:
    url = (await _body(request)).get("url")
    try:
        _world(request).alerts.set_endpoint(url)
    except ValueError as exc:
        raise _Problem(400, str(exc)) from None
    return web.json_response({"url": url})


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})
