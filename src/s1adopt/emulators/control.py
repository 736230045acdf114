"""The emulator's control API: where the head ends listen, their counters, liveness.

- ``GET /headends``: ``{"headends": [{"name", "smso", "cohort", "protocol", "url"}]}``;
- ``GET /stats``: ``{"totals": {...}, "devices": {hex: {...}}}``; the device map lists only
  devices that received requests, and is left out with ``?devices=none`` (a cheap poll);
- ``GET /health``: ``{"status": "ok"}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from s1adopt.emulators.state import EmulatorState


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
    state: EmulatorState
    headends: tuple[HeadEndListing, ...]


_CONTROL = web.AppKey("control", _Control)


def control_app(state: EmulatorState, headends: Sequence[HeadEndListing]) -> web.Application:
    """The aiohttp application of the control API."""
    app = web.Application()
    app[_CONTROL] = _Control(state, tuple(headends))
    app.router.add_get("/headends", _headends)
    app.router.add_get("/stats", _stats)
    app.router.add_get("/health", _health)
    return app


async def _headends(request: web.Request) -> web.Response:
    listing = request.app[_CONTROL].headends
    return web.json_response(
        {
            "headends": [
                {
                    "name": h.name,
                    "smso": h.smso,
                    "cohort": h.cohort,
                    "protocol": h.protocol,
                    "url": h.url,
                }
                for h in listing
            ]
        }
    )


async def _stats(request: web.Request) -> web.Response:
    state = request.app[_CONTROL].state
    doc: dict[str, object] = {"totals": state.totals()}
    if request.query.get("devices") != "none":
        doc["devices"] = state.touched_devices()
    return web.json_response(doc)


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})
