"""The SMETS1 device models (products) per cohort, with their documented behaviours: the
S1SR's "variations to Equivalent Steps" the S1SP follows, and the products the emulated
world runs.

Rules:
- Every cohort (IOC, MOC, FOC) has its own products: a CHF, a GPF, two ESME and two GSME
  models of two manufacturers, an IHD and a PPMID. No model is shared between cohorts.
- A model's ``firmware`` is its one eligible release (on the Eligible Product Combinations
  list); ``dormant_firmware`` is the older release a dormant installation still runs. Both
  are written in the model's ``FirmwareFormat``.
- ``ModelBehaviour`` records the model's variations (the S1SR "variations to Equivalent
  Steps"): which end of a half-hour the profile stamps, operations it does not support,
  settings (``domain.device_settings``) it does not have, its number of time-of-use
  registers, its firmware version format and its answer delay.
- Every cohort has, for each of ESME and GSME, a model that supports each operation and
  each setting of the type, so every service request can be carried out in every cohort on
  some model.
- A device whose model is not in the table (a prototype) gets a generic model of its type:
  standard behaviour (every operation and setting of its type), any firmware format.
- ``unsupported_reason`` answers, before anything is sent, whether a model can carry out an
  operation on given settings (the S1SP refuses what it cannot).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from s1adopt.domain.device_settings import SETTINGS
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.operations import CATALOGUE, DeviceOperation

D = DeviceOperation


class FirmwareFormat(StrEnum):
    """How a model writes its firmware versions (major, minor, patch)."""

    DOTTED = "dotted"  # 1.7.2
    PADDED = "padded"  # V01.07.02
    HEX = "hex"  # 0x0172: two hex digits of major, one each of minor and patch
    ANY = "any"  # a model outside the table: any non-empty text

    def render(self, major: int, minor: int, patch: int) -> str:
        """The version text of ``major.minor.patch`` in this format."""
        if self is FirmwareFormat.PADDED:
            return f"V{major:02d}.{minor:02d}.{patch:02d}"
        if self is FirmwareFormat.HEX:
            return f"0x{major:02X}{minor:X}{patch:X}"
        return f"{major}.{minor}.{patch}"

    def parse(self, text: str) -> tuple[int, int, int] | None:
        """``(major, minor, patch)`` of a version in this format, or None if it is not one."""
        match = _PATTERNS[self].fullmatch(text)
        if match is None:
            return None
        if self is FirmwareFormat.ANY:
            return (0, 0, 0)
        base = 16 if self is FirmwareFormat.HEX else 10
        major, minor, patch = (int(group, base) for group in match.groups())
        return major, minor, patch

    def bumped(self, text: str) -> str:
        """Another plausible release of ``text``: its patch number plus one."""
        parts = self.parse(text)
        if parts is None or self is FirmwareFormat.ANY:
            return f"{text}-r2"
        major, minor, patch = parts
        limit = 15 if self is FirmwareFormat.HEX else 99
        return self.render(major, minor, (patch + 1) % (limit + 1))


_PATTERNS: dict[FirmwareFormat, re.Pattern[str]] = {
    FirmwareFormat.DOTTED: re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})"),
    FirmwareFormat.PADDED: re.compile(r"V(\d{2})\.(\d{2})\.(\d{2})"),
    FirmwareFormat.HEX: re.compile(r"0x([0-9A-F]{2})([0-9A-F])([0-9A-F])"),
    FirmwareFormat.ANY: re.compile(r"\S.{0,63}"),
}


@dataclass(frozen=True, slots=True)
class ModelBehaviour:
    """A model's departures from the standard behaviour.

    ``profile_stamp``: "start" (SMETS1: a half-hour interval is stamped at its start) or
    "end" (as SMETS2); ``unsupported``: operations the model answers NOT_SUPPORTED;
    ``tou_registers``: time-of-use registers of a meter (0 for other devices);
    ``answer_delay``: seconds the device takes to answer over the WAN;
    ``unsupported_settings``: settings of its type (``device_settings.SETTINGS``) the model
    does not have (reading or writing them is NOT_SUPPORTED).
    """

    profile_stamp: str
    unsupported: frozenset[DeviceOperation]
    tou_registers: int
    firmware_format: FirmwareFormat
    answer_delay: float
    unsupported_settings: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DeviceModel:
    """One product of the emulated world, shared by every device of that model."""

    cohort: str
    device_type: DeviceType
    manufacturer: str
    model: str
    firmware: str | None  # the eligible release; None for Type 2 devices
    dormant_firmware: str | None  # the older release dormant installations run
    behaviour: ModelBehaviour


def _behaviour(
    stamp: str = "end",
    unsupported: tuple[DeviceOperation, ...] = (),
    tou: int = 0,
    fmt: FirmwareFormat = FirmwareFormat.DOTTED,
    delay: float = 0.001,
    lacks: tuple[str, ...] = (),
) -> ModelBehaviour:
    return ModelBehaviour(stamp, frozenset(unsupported), tou, fmt, delay, frozenset(lacks))


def _model(
    cohort: str,
    kind: DeviceType,
    manufacturer: str,
    model: str,
    versions: tuple[tuple[int, int, int], tuple[int, int, int]] | None,
    behaviour: ModelBehaviour,
) -> DeviceModel:
    if versions is None:
        return DeviceModel(cohort, kind, manufacturer, model, None, None, behaviour)
    fmt = behaviour.firmware_format
    eligible, dormant = (fmt.render(*v) for v in versions)
    return DeviceModel(cohort, kind, manufacturer, model, eligible, dormant, behaviour)


_DOT, _PAD, _HEX = FirmwareFormat.DOTTED, FirmwareFormat.PADDED, FirmwareFormat.HEX
C, E, GP, G, P, T2 = (
    DeviceType.CHF,
    DeviceType.ESME,
    DeviceType.GPF,
    DeviceType.GSME,
    DeviceType.PPMID,
    DeviceType.IHD,
)

# The model table. Versions: (eligible, dormant). Delays in seconds.
# fmt: off
MODELS: tuple[DeviceModel, ...] = (
    # IOC: the initial cohort (head end smso-ioc, JSON over HTTP).
    _model("IOC", C, "Northwind Comms", "NW-CH1", ((2, 4, 1), (2, 3, 0)), _behaviour()),
    _model("IOC", GP, "Northwind Comms", "NW-GPF1", ((2, 4, 1), (2, 3, 0)), _behaviour()),
    _model(
        "IOC", E, "Aurora Metering", "AM-E310", ((1, 7, 2), (1, 6, 0)),
        _behaviour("start", tou=4, delay=0.002),
    ),
    _model(
        "IOC", E, "Brightwell", "BW-SP1", ((5, 0, 3), (4, 9, 1)),
        _behaviour("end", (D.ARM_SUPPLY,), tou=8, lacks=("loadLimit", "loadLimitCounter")),
    ),
    _model(
        "IOC", G, "Aurora Metering", "AM-G210", ((1, 3, 0), (1, 2, 4)),
        _behaviour("start", (D.READ_SECURITY_LOG,), tou=4, delay=0.003),
    ),
    _model("IOC", G, "Brightwell", "BW-GS2", ((2, 1, 0), (2, 0, 7)), _behaviour("end", tou=4)),
    _model("IOC", P, "Corvid", "CV-PP1", ((0, 9, 8), (0, 9, 5)), _behaviour()),
    _model("IOC", T2, "Corvid", "CV-IHD3", None, _behaviour(delay=0.0)),
    # MOC: the middle cohort (head end smso-moc, binary frames over TCP).
    _model("MOC", C, "Keystone Comms", "KC-HUB2", ((3, 1, 4), (3, 0, 9)), _behaviour(fmt=_PAD)),
    _model("MOC", GP, "Keystone Comms", "KC-GPF2", ((3, 1, 4), (3, 0, 9)), _behaviour(fmt=_PAD)),
    _model(
        "MOC", E, "Securus Metering", "SM-Liberty100", ((1, 7, 2), (1, 5, 0)),
        _behaviour("start", tou=8, fmt=_PAD, delay=0.002),
    ),
    _model(
        "MOC", E, "Larkspur & Gale", "LG-E470", ((2, 3, 0), (2, 1, 6)),
        _behaviour("end", (D.ARM_SUPPLY,), tou=4, fmt=_PAD, lacks=("tamperState",)),
    ),
    _model(
        "MOC", G, "Securus Metering", "SM-G4", ((1, 2, 0), (1, 1, 3)),
        _behaviour("start", (D.READ_SECURITY_LOG,), tou=4, fmt=_PAD),
    ),
    _model(
        "MOC", G, "Larkspur & Gale", "LG-G350", ((2, 0, 5), (1, 9, 8)),
        _behaviour("end", tou=4, fmt=_PAD, delay=0.003, lacks=("gasFlow",)),
    ),
    _model("MOC", P, "Halcyon Devices", "HD-PPM2", ((0, 9, 12), (0, 9, 3)), _behaviour(fmt=_PAD)),
    _model("MOC", T2, "Halcyon Devices", "HD-IHD5", None, _behaviour(delay=0.0)),
    # FOC: the final cohort, EDMI-like meters among them (head end smso-foc, XML over HTTP).
    _model("FOC", C, "Tidewater Comms", "TW-CH3", ((2, 4, 1), (2, 3, 6)), _behaviour(fmt=_HEX)),
    _model("FOC", GP, "Tidewater Comms", "TW-GPF3", ((2, 4, 1), (2, 3, 6)), _behaviour(fmt=_HEX)),
    _model(
        "FOC", E, "EDM Instruments", "EDM-Atlas-Mk10A", ((1, 7, 2), (1, 6, 0)),
        _behaviour(
            "start", (D.ARM_SUPPLY,), tou=8, fmt=_HEX, delay=0.02,
            lacks=("randomisationOffsetLimit",),
        ),
    ),
    _model(
        "FOC", E, "Orchard Meters", "OM-E2", ((5, 0, 3), (5, 0, 1)),
        _behaviour("end", tou=4, fmt=_HEX),
    ),
    _model(
        "FOC", G, "EDM Instruments", "EDM-G6", ((1, 3, 0), (1, 2, 2)),
        _behaviour("start", (D.READ_SECURITY_LOG,), tou=4, fmt=_HEX, delay=0.005),
    ),
    _model("FOC", G, "Orchard Meters", "OM-G1", ((2, 1, 0), (2, 0, 9)), _behaviour("end", tou=4)),
    _model("FOC", P, "Tidewater Comms", "TW-PP1", ((0, 9, 8), (0, 9, 2)), _behaviour(fmt=_HEX)),
    _model("FOC", T2, "Orchard Meters", "OM-IHD1", None, _behaviour(delay=0.0)),
)
# fmt: on

COHORTS: tuple[str, ...] = ("IOC", "MOC", "FOC")
_BY_KEY: dict[tuple[str, str, str], DeviceModel] = {
    (m.device_type.value, m.manufacturer, m.model): m for m in MODELS
}


def cohort_models(cohort: str) -> dict[DeviceType, tuple[DeviceModel, ...]]:
    """The models of a cohort by device type, in table order; ``ValueError`` if unknown."""
    if cohort not in COHORTS:
        raise ValueError(f"unknown cohort {cohort!r} (known: {', '.join(COHORTS)})")
    by_type: dict[DeviceType, tuple[DeviceModel, ...]] = {}
    for model in MODELS:
        if model.cohort == cohort:
            by_type[model.device_type] = (*by_type.get(model.device_type, ()), model)
    return by_type


def model_for(device_type: str, manufacturer: str, model: str) -> DeviceModel:
    """The table's model, or the generic model of a product outside the table."""
    found = _BY_KEY.get((device_type, manufacturer, model))
    return found if found is not None else _generic(device_type, manufacturer, model)


@cache
def _generic(device_type: str, manufacturer: str, model: str) -> DeviceModel:
    kind = DeviceType(device_type)
    behaviour = _behaviour(tou=4 if kind.is_meter else 0, fmt=FirmwareFormat.ANY)
    return DeviceModel("", kind, manufacturer, model, None, None, behaviour)


def supports_operation(model: DeviceModel, operation: DeviceOperation) -> bool:
    """Whether ``operation`` applies to the model's device type and the model does it."""
    behaviour = model.behaviour
    applies = model.device_type in CATALOGUE[operation].applies_to
    return applies and operation not in behaviour.unsupported


def supports_setting(model: DeviceModel, name: str) -> bool:
    """Whether setting ``name`` exists on the model's device type and the model has it."""
    spec = SETTINGS.get(name)
    known = spec is not None and model.device_type in spec.device_types
    return known and name not in model.behaviour.unsupported_settings


def unsupported_reason(
    model: DeviceModel, operation: DeviceOperation, settings: Iterable[str] = ()
) -> str | None:
    """Why the model cannot carry out ``operation`` on ``settings`` (its variations to
    Equivalent Steps), or None if it can: the operation must apply to its type and be
    supported, and every setting named must be one its type has and the model supports."""
    name = f"{model.manufacturer} {model.model}"
    if model.device_type not in CATALOGUE[operation].applies_to:
        return f"{operation} does not apply to a {model.device_type}"
    if operation in model.behaviour.unsupported:
        return f"{name} does not support {operation}"
    lacking = [s for s in settings if not supports_setting(model, s)]
    if lacking:
        return f"{name} ({model.device_type}) does not support the setting {', '.join(lacking)}"
    return None
