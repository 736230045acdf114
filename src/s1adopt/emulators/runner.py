"""Running the emulated head ends and their control API on loopback.

Rules:
- The emulator serves loopback only: any other host is refused (``ValueError``).
- Each SMSO is served by the head end of its protocol; an SMSO whose protocol has no emulated
  head end is refused (``ValueError``) rather than served in another protocol.
- Each SMSO's head end listens on an ephemeral port of the host; the control API on the port
  the caller gives (0 for an ephemeral one). ``ready`` is called once everything listens.
- On exit or cancellation every server is stopped and every journal closed.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from s1adopt.emulators.control import HeadEndListing, control_app
from s1adopt.emulators.headend import DEFAULT_NO_ANSWER_DELAY, HeadEndSettings, headend_app
from s1adopt.emulators.state import EmulatorState, HeadEndState, load_emulator_state
from s1adopt.formats.headend_wire import PROTOCOL as S1_JSON_PROTOCOL

SHUTDOWN_TIMEOUT = 1.0  # seconds granted to requests in flight when the emulator stops

# The head-end application for each wire protocol; later cohorts add theirs here.
HEADEND_APPS: dict[str, Callable[[HeadEndState, HeadEndSettings], web.Application]] = {
    S1_JSON_PROTOCOL: headend_app,
}


@dataclass(frozen=True, slots=True)
class RunningEmulator:
    """A started emulator: its control URL, head ends and loaded state (for assertions)."""

    control_url: str
    headends: tuple[HeadEndListing, ...]
    state: EmulatorState


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


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _serve(stack: AsyncExitStack, app: web.Application, host: str, port: int) -> int:
    """Start ``app`` on ``host:port``; the port it listens on."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.TCPSite(runner, host, port).start()
    address = runner.addresses[0]
    return int(address[1])


@asynccontextmanager
async def running_emulator(
    fleet_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    no_answer_delay: float = DEFAULT_NO_ANSWER_DELAY,
) -> AsyncIterator[RunningEmulator]:
    """Load ``fleet_dir``'s emulated world and serve it until the block ends."""
    address = loopback_host(host)
    state = await asyncio.to_thread(load_emulator_state, fleet_dir)
    settings = HeadEndSettings(no_answer_delay=no_answer_delay)
    async with AsyncExitStack() as stack:
        stack.callback(state.close)
        listings: list[HeadEndListing] = []
        for headend in state.headends:
            make_app = HEADEND_APPS.get(headend.smso.protocol)
            if make_app is None:
                raise ValueError(
                    f"SMSO {headend.smso.name} speaks {headend.smso.protocol!r}, which no "
                    f"emulated head end speaks (known: {', '.join(sorted(HEADEND_APPS))})"
                )
            headend_port = await _serve(stack, make_app(headend, settings), address, 0)
            smso = headend.smso
            listings.append(
                HeadEndListing(
                    smso.name, smso.eui, smso.cohort, smso.protocol, _url(address, headend_port)
                )
            )
        control_port = await _serve(stack, control_app(state, listings), address, port)
        yield RunningEmulator(_url(address, control_port), tuple(listings), state)


async def serve_emulator(
    fleet_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8700,
    ready: Callable[[str], None] | None = None,
    *,
    no_answer_delay: float = DEFAULT_NO_ANSWER_DELAY,
) -> None:
    """Serve ``fleet_dir``'s head ends and control API until cancelled.

    ``ready`` receives the control URL once every server listens.
    """
    async with running_emulator(fleet_dir, host, port, no_answer_delay=no_answer_delay) as emulator:
        if ready is not None:
            ready(emulator.control_url)
        await asyncio.Event().wait()
