"""Device alerts from the head ends, passed on as DUIS device alerts to those who get them.

Rules:
- a head end pushes ``{device, kind, at, headend}``; an alert of a device the inventory does
  not hold, or of a kind the service does not know, is counted and dropped (``ignored``);
- recipients: the supplier registered today for each meter point of the device's
  installation (the party that authorised its migration when none is registered), and for
  tamper, supply outage and supply restoration also the network operator;
- each recipient gets its own S1SP-signed device alert in a DSP-signed Response, queued in
  the outbox (delivered like responses), in the order the alerts came.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.identities import Eui64
from s1adopt.services.duis.answers import ResponseFactory
from s1adopt.services.duis.device_ports import Outgoing
from s1adopt.services.ports import Clock, UnitOfWorkFactory

DESCRIPTIONS: dict[str, str] = {
    "tamper": "Tamper detected",
    "supply_outage": "Supply outage",
    "supply_restored": "Supply restored",
    "low_credit": "Low credit",
    "firmware_activated": "Firmware activated",
}
NETWORK_KINDS = frozenset({"tamper", "supply_outage", "supply_restored"})


@dataclass
class AlertCounts:
    """What the intake did with the alerts it was given."""

    passed_on: int = 0
    ignored: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def ignore(self, why: str) -> None:
        """Count one dropped alert."""
        self.ignored += 1
        self.reasons[why] = self.reasons.get(why, 0) + 1


class AlertIntake:
    """Turns head-end alerts into DUIS device alerts (see the module rules)."""

    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, answers: ResponseFactory
    ) -> None:
        self._uow_factory, self._clock, self._answers = uow_factory, clock, answers
        self.counts = AlertCounts()

    def take(self, device_text: str, kind: str, at_text: str) -> int:
        """Pass one alert on; how many recipients it was queued for."""
        description = DESCRIPTIONS.get(kind)
        if description is None:
            self.counts.ignore("unknown kind")
            return 0
        try:
            device = Eui64.parse(device_text)
            at = datetime.fromisoformat(at_text.replace("Z", "+00:00"))
        except (InvalidIdentity, ValueError, AttributeError):
            self.counts.ignore("unreadable")
            return 0
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        with self._uow_factory() as uow:
            record = uow.duis.device(device)
            context = uow.devices.device_context(device)
            if record is None or context is None:
                self.counts.ignore("unknown device")
                return 0
            points = [m for m in (record.mpan, record.mprn) if m]
            registered = uow.programme.in_force(points, self._clock.now().date())
            recipients: list[Eui64] = []
            for mpxn in points:
                found = registered.get(mpxn)
                if found is None:
                    continue
                recipients.append(found.supplier)
                if kind in NETWORK_KINDS:
                    recipients.append(found.network_operator)
            if not recipients and context.installation_party is not None:
                recipients.append(context.installation_party)
            unique = list(dict.fromkeys(recipients))
            counter = int(at.timestamp() * 1000)
            outgoing = [
                Outgoing(
                    r,
                    "alert",
                    f"{device.value}:{r.value}:{counter}",
                    "I0",
                    self._answers.device_alert(device, r, counter, description, at, None),
                )
                for r in unique
            ]
            uow.devices.add_outgoing(outgoing, self._clock.now())
            uow.commit()
        self.counts.passed_on += 1
        return len(outgoing)
