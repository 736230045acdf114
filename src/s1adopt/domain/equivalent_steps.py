"""SMETS1 Equivalent Steps: what each DUIS device request becomes on a SMETS1 device.

A DUIS service request is written for a SMETS2 device; the S1SP carries it out on a SMETS1
device as the steps of ``domain.operations`` that the device's own model understands. Each
row of ``EQUIVALENT_STEPS`` states, for one service reference variant (SRV):

- the device types it may target (others are refused with E11 before anything is sent);
- the steps, in order, built from the request's values (``formats.duis.device_requests``
  reads them) and what the S1SP adds (its own time, the installation's devices);
- the settings (``domain.device_settings``) it reads or writes, so that a model without one
  is refused before the device sees anything;
- whether carrying it out twice is harmless (``repeatable``): after a crash with the device's
  answer unknown, a repeatable request is carried out again, any other is answered as of
  unknown outcome and never repeated;
- how the steps' answers combine into the answers the response is built from (``merge``).

Rules the rows follow:
- a profile read longer than the device's limit (``MAX_PROFILE_DAYS``) is split into reads of
  at most that many days, in order, and their intervals joined; every interval is stamped as
  the model stamps it (start or end of its half-hour: a variation of the S1SR), never
  restamped;
- event and security log reads ask the device for its newest ``LOG_READ_LIMIT`` entries and
  keep those within the request's period;
- the clock is set to the S1SP's own time (DCC's reliable time), not the user's;
- a top-up's credit comes from its UTRN (``utrn_credit``); join and unjoin (8.7, 8.8) are
  carried out on the installation's communications hub, which holds the SMETS1 HAN;
- 6.15.1 and 6.23 replace the device's credential: the S1SP makes the new one and installs it
  sealed under the current one (``REPLACE_CREDENTIAL`` with parameters the service adds).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from s1adopt.domain.device_models import DeviceModel
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.operations import DeviceOperation, Params

D = DeviceOperation
Values = Mapping[str, Any]
Answer = dict[str, Any]

MAX_PROFILE_DAYS = 31  # what one SMETS1 profile read may span
MAX_DAILY_LOG_DAYS = 31  # midnights a daily read log response holds (4.6.1, 4.17)
LOG_READ_LIMIT = 100  # entries a log read asks for
UTRN_CREDIT_DIGITS = 5  # the last digits of a UTRN: the pence it carries (stand-in)
MAX_TOP_UP_PENCE = 10**UTRN_CREDIT_DIGITS - 1

_E, _G = DeviceType.ESME, DeviceType.GSME
METERS = frozenset({_E, _G})
ESME_ONLY = frozenset({_E})
GSME_ONLY = frozenset({_G})
HUBS = frozenset({DeviceType.CHF, DeviceType.GPF})
WAN = frozenset({_E, _G, DeviceType.CHF, DeviceType.GPF, DeviceType.PPMID})


class StepTarget(StrEnum):
    """Which device a step is carried out on."""

    DEVICE = "device"  # the request's target
    HUB = "hub"  # the communications hub (CHF) of the target's installation


class StepsRefused(Exception):
    """The request cannot be carried out on this device (answered E11 before any traffic)."""


@dataclass(frozen=True, slots=True)
class StepInputs:
    """What the S1SP adds to a request's values when it plans the steps."""

    now: datetime
    device_type: DeviceType
    known_devices: Mapping[str, str] = field(default_factory=dict)  # hex -> device type


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """One device operation to carry out."""

    operation: DeviceOperation
    params: Params
    target: StepTarget = StepTarget.DEVICE


Planner = Callable[[Values, StepInputs], tuple[PlannedStep, ...]]
Merger = Callable[[Values, list[Answer]], list[Answer]]


def _keep(_: Values, answers: list[Answer]) -> list[Answer]:
    return answers


@dataclass(frozen=True, slots=True)
class EquivalentSteps:
    """One row: an SRV's equivalent on SMETS1 devices (see the module rules)."""

    srv: str
    device_types: frozenset[DeviceType]
    plan: Planner
    operations: frozenset[DeviceOperation]  # every operation the plan may use
    settings: frozenset[str] = frozenset()
    repeatable: bool = True
    merge: Merger = _keep
    on_hub: bool = False

    def refusal(self, device_type: DeviceType, model: DeviceModel | None) -> str | None:
        """Why this SRV cannot be carried out on such a device, or None when it can."""
        if device_type not in self.device_types:
            allowed = ", ".join(sorted(t.value for t in self.device_types))
            return f"SRV {self.srv} is for {allowed}, not for a {device_type.value}"
        if model is None or self.on_hub:
            return None
        behaviour = model.behaviour
        missing = sorted(op.value for op in self.operations & behaviour.unsupported)
        if missing:
            return (
                f"{model.manufacturer} {model.model} does not support {', '.join(missing)} "
                f"(a variation of its Equivalent Steps): SRV {self.srv} cannot be carried out"
            )
        lacking = sorted(self.settings & behaviour.unsupported_settings)
        if lacking:
            return (
                f"{model.manufacturer} {model.model} has no {', '.join(lacking)} setting "
                f"(a variation of its Equivalent Steps): SRV {self.srv} cannot be carried out"
            )
        return None


# --- helpers for the rows -----------------------------------------------------------------------


def time_text(moment: datetime) -> str:
    """A time as the device operations write it: ISO 8601 UTC with ``Z``, whole seconds."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """An ISO 8601 time of the request values (``StepsRefused`` if it is not one)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError) as exc:
        raise StepsRefused(f"{text!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utrn_credit(utrn: str) -> int:
    """The credit (pence) a UTRN carries: its last ``UTRN_CREDIT_DIGITS`` digits.

    The project's stand-in for the supplier's encrypted token, which in the real service only
    the meter can open: any 20-digit UTRN a supplier's system makes (DCC's example among them)
    is a top-up of 1 to ``MAX_TOP_UP_PENCE`` pence; one ending in 00000 carries nothing and is
    refused (``StepsRefused``), as is one that is not 20 digits.
    """
    if len(utrn) != 20 or not utrn.isdigit():
        raise StepsRefused("a UTRN is 20 digits")
    credit = int(utrn[-UTRN_CREDIT_DIGITS:])
    if not 1 <= credit <= MAX_TOP_UP_PENCE:
        raise StepsRefused(
            f"UTRN {utrn} carries {credit} pence; a top-up is 1 to {MAX_TOP_UP_PENCE} pence"
        )
    return credit


def _one(op: DeviceOperation, params: Params | None = None) -> Planner:
    fixed = dict(params or {})

    def plan(_: Values, __: StepInputs) -> tuple[PlannedStep, ...]:
        return (PlannedStep(op, dict(fixed)),)

    return plan


def _read_settings(*names: str) -> Planner:
    return _one(D.READ_SETTINGS, {"names": list(names)})


def _write_from(*names: str, fixed: Mapping[str, Any] | None = None) -> Planner:
    """Write the settings the request's values name (and ``fixed`` ones)."""

    def plan(values: Values, _: StepInputs) -> tuple[PlannedStep, ...]:
        settings = {n: values[n] for n in names if n in values}
        settings.update(fixed or {})
        if not settings:
            raise StepsRefused(f"the request carries none of {', '.join(names)}")
        return (PlannedStep(D.WRITE_SETTINGS, {"settings": settings}),)

    return plan


def _period(values: Values) -> tuple[datetime, datetime]:
    start, end = parse_time(str(values.get("from"))), parse_time(str(values.get("to")))
    if start >= end:
        raise StepsRefused("the period's start must come before its end")
    return start, end


def _profile(values: Values, _: StepInputs) -> tuple[PlannedStep, ...]:
    start, end = _period(values)
    steps: list[PlannedStep] = []
    while start < end:
        stop = min(end, start + timedelta(days=MAX_PROFILE_DAYS))
        steps.append(PlannedStep(D.READ_PROFILE, {"from": time_text(start), "to": time_text(stop)}))
        start = stop
    return tuple(steps)


def _join_profile(_: Values, answers: list[Answer]) -> list[Answer]:
    if len(answers) <= 1:
        return answers
    intervals = [i for a in answers for i in a.get("intervals", [])]
    return [{**answers[0], "intervals": intervals}]


def _daily_log(values: Values, _: StepInputs) -> tuple[PlannedStep, ...]:
    start, end = _period(values)
    if end - start > timedelta(days=MAX_DAILY_LOG_DAYS - 1):
        raise StepsRefused(
            f"a daily read log holds at most {MAX_DAILY_LOG_DAYS} midnights: ask for a period "
            f"of at most {MAX_DAILY_LOG_DAYS - 1} days"
        )
    return (PlannedStep(D.READ_DAILY_LOG, {"from": time_text(start), "to": time_text(end)}),)


_SECURITY_LOGS = frozenset({"Security", "GSMESecurity"})
_EVENT_LOGS = frozenset({"Event", "GSMEEvent", "PowerEvent"})


def _log(values: Values, _: StepInputs) -> tuple[PlannedStep, ...]:
    which = values.get("log")
    if which in _SECURITY_LOGS:
        op = D.READ_SECURITY_LOG
    elif which in _EVENT_LOGS:
        op = D.READ_EVENT_LOG
    else:
        raise StepsRefused(f"log {which!r} has no SMETS1 equivalent (no auxiliary load log)")
    return (PlannedStep(op, {"limit": LOG_READ_LIMIT}),)


def _log_in_period(values: Values, answers: list[Answer]) -> list[Answer]:
    start, end = _period(values)
    kept = [
        e
        for a in answers
        for e in a.get("events", [])
        if start <= parse_time(str(e.get("time"))) <= end
    ]
    return [{"events": kept}]


def _tariff(values: Values, _: StepInputs) -> tuple[PlannedStep, ...]:
    steps = [PlannedStep(D.UPDATE_TARIFF, {"bands": values["bands"], "prices": values["prices"]})]
    if "standingCharge" in values:
        steps.append(
            PlannedStep(
                D.UPDATE_PRICE,
                {"prices": values["prices"], "standingCharge": values["standingCharge"]},
            )
        )
    return tuple(steps)


def _price(values: Values, _: StepInputs) -> tuple[PlannedStep, ...]:
    return (
        PlannedStep(
            D.UPDATE_PRICE,
            {"prices": values["prices"], "standingCharge": values["standingCharge"]},
        ),
    )


def _top_up(values: Values, _: StepInputs) -> tuple[PlannedStep, ...]:
    utrn = str(values.get("utrn", ""))
    return (PlannedStep(D.TOP_UP, {"amount": utrn_credit(utrn), "utrn": utrn}),)


def _debt(values: Values, _: StepInputs) -> tuple[PlannedStep, ...]:
    return (PlannedStep(D.ADJUST_DEBT, {"amount": int(values["amount"])}),)


def _message(values: Values, _: StepInputs) -> tuple[PlannedStep, ...]:
    return (PlannedStep(D.DISPLAY_MESSAGE, {"text": str(values["text"])}),)


def _clock(_: Values, inputs: StepInputs) -> tuple[PlannedStep, ...]:
    return (PlannedStep(D.SYNCHRONISE_CLOCK, {"time": time_text(inputs.now)}),)


def _credential(_: Values, __: StepInputs) -> tuple[PlannedStep, ...]:
    return (PlannedStep(D.REPLACE_CREDENTIAL, {}),)  # the service seals the new credential


def _tenancy(values: Values, _: StepInputs) -> tuple[PlannedStep, ...]:
    moment = time_text(parse_time(str(values.get("restrictionDateTime"))))
    return (PlannedStep(D.WRITE_SETTINGS, {"settings": {"tenancyRestrictedFrom": moment}}),)


def _han_member(values: Values, inputs: StepInputs, op: DeviceOperation) -> PlannedStep:
    other = str(values.get("device", "")).replace("-", "").upper()
    if op is D.UNJOIN_DEVICE:
        return PlannedStep(op, {"device": other}, StepTarget.HUB)
    kind = inputs.known_devices.get(other)
    if kind is None:
        raise StepsRefused(f"device {other} is not in the inventory; pre-notify it (12.2) first")
    if kind not in ("IHD", "PPMID"):
        raise StepsRefused(f"device {other} is a {kind}; only an IHD or a PPMID joins the HAN")
    return PlannedStep(op, {"device": other, "deviceType": kind}, StepTarget.HUB)


def _join(values: Values, inputs: StepInputs) -> tuple[PlannedStep, ...]:
    return (_han_member(values, inputs, D.JOIN_DEVICE),)


def _unjoin(values: Values, inputs: StepInputs) -> tuple[PlannedStep, ...]:
    return (_han_member(values, inputs, D.UNJOIN_DEVICE),)


def _han_log(values: Values, inputs: StepInputs) -> tuple[PlannedStep, ...]:
    steps = [_han_member({"device": d}, inputs, D.JOIN_DEVICE) for d in values.get("add", [])]
    steps += [_han_member({"device": d}, inputs, D.UNJOIN_DEVICE) for d in values.get("remove", [])]
    if not steps:
        raise StepsRefused("the request adds and removes no device")
    return tuple(PlannedStep(s.operation, s.params, StepTarget.DEVICE) for s in steps)


def _transfer(values: Values, _: StepInputs) -> tuple[PlannedStep, ...]:
    params = {"version": str(values["version"]), "imageHash": str(values["imageHash"])}
    return (PlannedStep(D.UPDATE_FIRMWARE, params),)


def _activate(values: Values, _: StepInputs) -> tuple[PlannedStep, ...]:
    return (PlannedStep(D.ACTIVATE_FIRMWARE, {"version": str(values["version"])}),)


def _row(
    srv: str,
    types: frozenset[DeviceType],
    plan: Planner,
    operations: Sequence[DeviceOperation],
    *,
    settings: Sequence[str] = (),
    repeatable: bool = True,
    merge: Merger = _keep,
    on_hub: bool = False,
) -> EquivalentSteps:
    return EquivalentSteps(
        srv,
        types,
        plan,
        frozenset(operations),
        frozenset(settings),
        repeatable,
        merge,
        on_hub,
    )


def _read(srv: str, types: frozenset[DeviceType], op: DeviceOperation) -> EquivalentSteps:
    return _row(srv, types, _one(op), (op,))


def _settings_read(srv: str, types: frozenset[DeviceType], *names: str) -> EquivalentSteps:
    return _row(srv, types, _read_settings(*names), (D.READ_SETTINGS,), settings=names)


def _settings_write(
    srv: str, types: frozenset[DeviceType], *names: str, fixed: Mapping[str, Any] | None = None
) -> EquivalentSteps:
    written = (*names, *(fixed or {}))
    return _row(srv, types, _write_from(*names, fixed=fixed), (D.WRITE_SETTINGS,), settings=written)


def _command(
    srv: str, types: frozenset[DeviceType], op: DeviceOperation, repeatable: bool = True
) -> EquivalentSteps:
    return _row(srv, types, _one(op), (op,), repeatable=repeatable)


_PREPAY_AND_BALANCE: Planner = lambda _v, _i: (  # noqa: E731 - a two-step plan
    PlannedStep(D.READ_SETTINGS, {"names": ["prepayment"]}),
    PlannedStep(D.READ_BALANCE, {}),
)

# fmt: off
_ROWS: tuple[EquivalentSteps, ...] = (
    # reads (4.x)
    _read("4.1.1", METERS, D.READ_INSTANTANEOUS),
    _read("4.1.2", METERS, D.READ_INSTANTANEOUS),
    _read("4.1.3", ESME_ONLY, D.READ_INSTANTANEOUS),
    _read("4.3", METERS, D.READ_BALANCE),
    _row("4.6.1", METERS, _daily_log, (D.READ_DAILY_LOG,)),
    _row("4.8.1", METERS, _profile, (D.READ_PROFILE,), merge=_join_profile),
    _read("4.11.1", METERS, D.READ_CONFIGURATION),
    _row("4.13", METERS, _PREPAY_AND_BALANCE, (D.READ_SETTINGS, D.READ_BALANCE),
         settings=("prepayment",)),
    _settings_read("4.15", ESME_ONLY, "loadLimit", "loadLimitCounter"),
    _read("4.16", ESME_ONLY, D.READ_INSTANTANEOUS),
    _row("4.17", METERS, _daily_log, (D.READ_DAILY_LOG,)),
    _read("4.18", METERS, D.READ_BALANCE),
    # tariffs and prices (1.x)
    _row("1.1.1", METERS, _tariff, (D.UPDATE_TARIFF, D.UPDATE_PRICE)),
    _row("1.2.1", METERS, _price, (D.UPDATE_PRICE,)),
    _settings_write("1.6", METERS, "paymentMode"),
    # prepayment and debt (2.x)
    _settings_write("2.1", METERS, "prepayment"),
    _row("2.2", METERS, _top_up, (D.TOP_UP,), repeatable=False),
    _row("2.3", METERS, _debt, (D.ADJUST_DEBT,), repeatable=False),
    _command("2.5", METERS, D.ACTIVATE_EMERGENCY_CREDIT),
    # consumer-facing (3.x)
    _row("3.1", METERS, _message, (D.DISPLAY_MESSAGE,)),
    _row("3.2", METERS, _tenancy, (D.WRITE_SETTINGS,), settings=("tenancyRestrictedFrom",)),
    _command("3.3", METERS, D.CLEAR_EVENT_LOG),
    _settings_write("3.4", METERS, "supplierName", "supplierTelephone"),
    _settings_write("3.5", METERS, fixed={"privacyPin": False}),
    # configuration reads (6.2.x)
    _settings_read("6.2.1", ESME_ONLY, "voltage"),
    _settings_read("6.2.2", ESME_ONLY, "randomisationOffsetLimit"),
    _settings_read("6.2.3", METERS, "billingCalendar"),
    _read("6.2.4", METERS, D.READ_IDENTITY),
    _settings_read("6.2.5", ESME_ONLY, "powerThresholds"),
    _read("6.2.7", METERS, D.READ_CONFIGURATION),
    _settings_read("6.2.8", GSME_ONLY, "gasConversion", "gasFlow"),
    _settings_read("6.2.9", METERS, "paymentMode", "prepayment"),
    _settings_read("6.2.10", METERS, "alertBehaviours"),
    # configuration and security (6.x)
    _settings_write("6.4.1", ESME_ONLY, "loadLimit"),
    _settings_write("6.4.2", ESME_ONLY, fixed={"loadLimitCounter": 0}),
    _settings_write("6.5", ESME_ONLY, "voltage"),
    _settings_write("6.6", GSME_ONLY, "gasConversion"),
    _settings_write("6.7", GSME_ONLY, "gasFlow"),
    _settings_write("6.8", METERS, "billingCalendar"),
    _row("6.11", METERS, _clock, (D.SYNCHRONISE_CLOCK,)),
    _settings_write("6.12", ESME_ONLY, "powerThresholds"),
    _row("6.13", METERS, _log, (D.READ_EVENT_LOG, D.READ_SECURITY_LOG), merge=_log_in_period),
    _row("6.15.1", METERS, _credential, (D.REPLACE_CREDENTIAL,), repeatable=False),
    _settings_write("6.18.1", ESME_ONLY, "maxDemandPeriod"),
    _settings_write("6.20.1", METERS, "importMpxn"),
    _settings_write("6.22", METERS, "alertBehaviours"),
    _row("6.23", METERS, _credential, (D.REPLACE_CREDENTIAL,), repeatable=False),
    _settings_write("6.25", ESME_ONLY, "tamperState"),
    # supply (7.x)
    _command("7.1", ESME_ONLY, D.ENABLE_SUPPLY),
    _command("7.2", METERS, D.DISABLE_SUPPLY),
    _command("7.3", METERS, D.ARM_SUPPLY),
    _read("7.4", METERS, D.READ_CONFIGURATION),
    _settings_write("7.12", ESME_ONLY, "randomisationOffsetLimit"),
    # the HAN (8.x)
    _row("8.7.1", METERS, _join, (D.JOIN_DEVICE,), on_hub=True),
    _row("8.7.2", METERS, _join, (D.JOIN_DEVICE,), on_hub=True),
    _row("8.8.1", METERS, _unjoin, (D.UNJOIN_DEVICE,), on_hub=True),
    _row("8.8.2", METERS, _unjoin, (D.UNJOIN_DEVICE,), on_hub=True),
    _read("8.9", HUBS, D.READ_HAN_LOG),
    _row("8.11", frozenset({DeviceType.CHF}), _han_log, (D.JOIN_DEVICE, D.UNJOIN_DEVICE)),
    # firmware (11.x; 11.1 is a non-device request carried out on each device it names)
    _row("11.1", WAN, _transfer, (D.UPDATE_FIRMWARE,)),
    _read("11.2", WAN, D.READ_IDENTITY),
    _row("11.3", METERS | frozenset({DeviceType.CHF}), _activate, (D.ACTIVATE_FIRMWARE,)),
)
# fmt: on

EQUIVALENT_STEPS: dict[str, EquivalentSteps] = {row.srv: row for row in _ROWS}


def steps_for(srv: str) -> EquivalentSteps | None:
    """The SRV's Equivalent Steps, or None when the service has none for it."""
    return EQUIVALENT_STEPS.get(srv)
