"""What every protocol front end does with a decoded request, whatever its wire.

Rules, in order, for each request a front end decodes:
1. while ``core.available`` is False the answer is UNAVAILABLE;
2. while ``core.session_limit`` requests are in progress (inside ``core.execute``) the answer
   is BUSY; a request is in progress from admission until the core has answered it, even if
   the client has stopped waiting;
3. otherwise the core's result is the answer; ``CoreRefusal`` is answered with its code,
   ``Silence`` with nothing (``Unanswered.SILENT``), ``Garble`` with undecodable bytes
   (``Unanswered.GARBLED``);
4. a core that fails otherwise, or answers a value no protocol carries, is a fault of the
   emulator: it is logged and answered UNAVAILABLE, so the client retries and then gives up.
"""

from __future__ import annotations

import logging
from enum import Enum

from s1adopt.emulators.world.core_api import CoreRefusal, Garble, HeadEndCore, Silence
from s1adopt.formats.device_auth import ErrorCode
from s1adopt.formats.wire.values import Answer, WireError, WireRequest
from s1adopt.formats.wire.values import check_object as _check_object

log = logging.getLogger(__name__)


class Unanswered(Enum):
    """Outcomes a front end renders without a decodable answer."""

    SILENT = "silent"
    GARBLED = "garbled"


Outcome = Answer | Unanswered


class SessionGate:
    """Admits requests to one head end's core and turns what it does into an outcome."""

    def __init__(self, core: HeadEndCore) -> None:
        self.core = core

    async def carry(self, request: WireRequest) -> Outcome:
        """The outcome of one request (rules 1 to 4)."""
        core = self.core
        if not core.available:
            return WireError(ErrorCode.UNAVAILABLE, f"head end {core.name} is unavailable")
        sessions = core.sessions
        if sessions.in_progress >= core.session_limit:
            sessions.busy += 1
            return WireError(
                ErrorCode.BUSY,
                f"head end {core.name} carries at most {core.session_limit} sessions at once",
            )
        sessions.admit()
        try:
            result = await core.execute(
                request.device_hex, request.operation, request.params, request.nonce, request.tag
            )
            return _check_object(result)
        except CoreRefusal as refusal:
            return WireError(refusal.code, refusal.message)
        except Silence:
            return Unanswered.SILENT
        except Garble:
            return Unanswered.GARBLED
        except Exception:
            log.exception("head end %s failed on %s", core.name, request.operation)
            return WireError(ErrorCode.UNAVAILABLE, f"head end {core.name} failed internally")
        finally:
            sessions.end()
