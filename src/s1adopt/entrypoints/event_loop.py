"""Running a command's async work to completion on the fastest event loop at hand.

uvloop when it is installed (it comes with ``uvicorn[standard]``, whose gateway runs on it):
the migration's and the emulator's many small head-end exchanges spend much of their time in
the loop and its transports. Without it, asyncio's own loop does the same work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on uvloop when it can be imported."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
