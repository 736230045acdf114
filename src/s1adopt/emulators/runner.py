"""Running the emulated world: its head ends' protocol front ends and the control API.

Rules:
- The emulator serves loopback only: any other host is refused (``ValueError``).
- Each head end of the world is served by the front end of its protocol
  (``frontends.FRONTENDS``) on an ephemeral port of the host; a head end whose protocol has
  no front end is refused (``ValueError``) rather than served in another protocol.
- The control API listens on the port the caller gives (0 for an ephemeral one) and lists
  every head end with its protocol, URL (``tcp://`` for the binary protocol) and session
  limit. ``ready`` is called once everything listens.
- On exit or cancellation every server is stopped, alert delivery ended and every journal
  closed.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from s1adopt.emulators.control import HeadEndListing, control_app
from s1adopt.emulators.frontends import FRONTENDS
from s1adopt.emulators.frontends.http_common import http_url, serve_app
from s1adopt.emulators.world.clock import Clock
from s1adopt.emulators.world.core import DEFAULT_NO_ANSWER_DELAY, HeadEndSettings
from s1adopt.emulators.world.loader import World, load_world


@dataclass(frozen=True, slots=True)
class RunningEmulator:
    """A started emulator: its control URL, head-end listings and world (for assertions)."""

    control_url: str
    headends: tuple[HeadEndListing, ...]
    world: World


def loopback_host(host: str) -> str:
    """``host`` as an IP literal, if it is a loopback address (``localhost`` is 127.0.0.1).

    Rule: the emulator never listens beyond the machine it runs on.
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ValueError(
            f"emulator host {host!r} is not a loopback address; the emulator serves loopback "
            "only (use 127.0.0.1 or ::1)"
        )
    return str(address)


@asynccontextmanager
async def running_emulator(
    fleet_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    no_answer_delay: float = DEFAULT_NO_ANSWER_DELAY,
    settings: HeadEndSettings | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[RunningEmulator]:
    """Load ``fleet_dir``'s emulated world and serve it until the block ends.

    ``settings`` (default: ``no_answer_delay`` and the models' own delays) times the head
    ends; ``clock`` is the world's time (default: real time).
    """
    address = loopback_host(host)
    settings = settings or HeadEndSettings(no_answer_delay=no_answer_delay)
    world = await asyncio.to_thread(load_world, fleet_dir, clock, settings=settings)
    async with AsyncExitStack() as stack:
        stack.callback(world.close)
        listings: list[HeadEndListing] = []
        for headend in world.headends:
            start = FRONTENDS.get(headend.protocol)
            if start is None:
                raise ValueError(
                    f"head end {headend.name} speaks {headend.protocol!r}, which no emulated "
                    f"front end speaks (known: {', '.join(sorted(FRONTENDS))})"
                )
            url = await start(headend, address, stack)
            listings.append(
                HeadEndListing(headend.name, headend.smso, headend.cohort, headend.protocol, url)
            )
        control_port = await serve_app(stack, control_app(world, listings), address, port)
        yield RunningEmulator(http_url(address, control_port), tuple(listings), world)


async def serve_emulator(
    fleet_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8700,
    ready: Callable[[str], None] | None = None,
    *,
    no_answer_delay: float = DEFAULT_NO_ANSWER_DELAY,
    settings: HeadEndSettings | None = None,
) -> None:
    """Serve ``fleet_dir``'s head ends and control API until cancelled.

    ``ready`` receives the control URL once every server listens; ``settings`` (default:
    ``no_answer_delay`` and the models' own delays) times the head ends.
    """
    async with running_emulator(
        fleet_dir, host, port, no_answer_delay=no_answer_delay, settings=settings
    ) as emulator:
        if ready is not None:
            ready(emulator.control_url)
        await asyncio.Event().wait()
