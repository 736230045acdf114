"""The Dual Control Organisation (DCO): an independent check of every critical command.

Rules:
- the DCO sees a critical command (a signed pre-command that passed its checks) before any
  device; it applies ``domain.dco``'s rules and refuses (E42) or approves;
- an approved command is countersigned with the DCO's own key over ``command_digest`` (the
  request, the device, the SRV and its values); the S1SP verifies that countersignature before
  the command goes to the head end, so nothing critical reaches a device without the DCO.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from s1adopt.domain.dco import INTERRUPTIONS, DcoRules, refusal
from s1adopt.domain.duis import RequestRejected, ResponseCode
from s1adopt.domain.identities import Eui64
from s1adopt.services.duis.device_ports import CommandSigner
from s1adopt.services.ports import Clock, UnitOfWork


def command_digest(request_id: str, device: Eui64, srv: str, values: Mapping[str, Any]) -> bytes:
    """SHA-256 of the command the DCO countersigns (compact, key-sorted JSON)."""
    text = json.dumps(
        {"device": device.value, "requestId": request_id, "srv": srv, "values": dict(values)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).digest()


class DualControl:
    """The DCO (see the module rules)."""

    def __init__(self, rules: DcoRules, signer: CommandSigner, clock: Clock) -> None:
        self._rules, self._signer, self._clock = rules, signer, clock

    def approve(
        self,
        uow: UnitOfWork,
        originator: Eui64,
        request_id: str,
        device: Eui64,
        srv: str,
        values: Mapping[str, Any],
    ) -> bytes:
        """The DCO's countersignature of an approved command; ``RequestRejected`` (E42)
        naming the rule when it refuses."""
        recent = 0
        if srv in INTERRUPTIONS:
            since = self._clock.now() - timedelta(hours=1)
            recent = uow.devices.commands_since(originator, INTERRUPTIONS, since)
        why = refusal(self._rules, srv, values, recent)
        if why is not None:
            raise RequestRejected(ResponseCode.DCO_REFUSED, f"the DCO refused: {why}")
        return self._signer.countersign(command_digest(request_id, device, srv, values))

    def verify(
        self,
        request_id: str,
        device: Eui64,
        srv: str,
        values: Mapping[str, Any],
        signature: bytes | None,
    ) -> bool:
        """Whether ``signature`` is the DCO's countersignature of this command."""
        if signature is None:
            return False
        return self._signer.verify(command_digest(request_id, device, srv, values), signature)
