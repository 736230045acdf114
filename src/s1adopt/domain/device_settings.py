"""The settings a SMETS1 meter holds, which the S1SP reads and writes through
``read_settings`` and ``write_settings`` (the SRVs that configure a device map onto them).

Every setting has a name (as on every wire), the device types that hold it, a default (what
a device holds until a setting is written) and a validator. Values are JSON-like, as every
device operation's (``domain.operations``); times are ISO 8601 UTC texts, normalised to
``YYYY-MM-DDTHH:MM:SSZ`` (a fraction of a second is dropped); money is in pence.

Rules:
- A value is valid only in its setting's shape: an object has exactly its keys; an int is
  never a bool; each bound below is inclusive. A validator answers the normalised value or
  raises ``InvalidSetting`` naming the setting and the rule it breaks.
- Meters (ESME and GSME):
  ``supplierName`` 1-15 printable ASCII characters; ``supplierTelephone`` 1-18 digits and
  spaces with at least one digit; ``billingCalendar`` {"start": time, "periodicity": one of
  ``PERIODICITIES``}; ``paymentMode`` "credit" or "prepayment" (the meter's payment mode,
  the same state ``read_configuration`` reports); ``prepayment`` the six ``PREPAYMENT_KEYS``,
  each 0 to ``MAX_PENCE``; ``privacyPin`` a bool; ``tenancyRestrictedFrom`` a time or None
  (SRV 3.2: data before it is withheld); ``alertBehaviours`` {GBCS alert code: bool} of at
  most ``MAX_ALERT_CODES`` codes of 4 hex digits (normalised to upper case; a code absent is
  enabled) -- a write names only the codes it changes, the others keep their behaviour
  (``SettingSpec.merges``); ``importMpxn`` the meter point (the same state
  ``read_configuration`` reports as "mpxn"): an MPAN of 13 digits on an ESME, an MPRN of 6
  to 10 digits on a GSME.
- ESME only: ``voltage`` thresholds in volts 0 to ``MAX_VOLTS`` (each under-voltage
  threshold below its over-voltage threshold) and a measurement period of 1 to ``DAY`` s;
  ``randomisationOffsetLimit`` 0 to 1799 s; ``powerThresholds`` {"low", "medium"}
  in W, 0 to ``MAX_WATTS``, low <= medium (as DUIS 6.12 sets them: "low" is the boundary
  between low and medium power, "medium" the one between medium and high); ``loadLimit``
  {"powerThreshold" 0 to ``MAX_WATTS`` W, "period" 1 to ``DAY`` s, "restorationPeriod" 0
  to ``DAY`` s};
  ``loadLimitCounter`` 0 to ``MAX_COUNTER``; ``maxDemandPeriod`` 60 to ``DAY`` s;
  ``tamperState`` "unlocked" or "locked".
- GSME only: ``gasConversion`` {"calorificValue": MJ/m3 x 1000, 0 to 100_000;
  "conversionFactor": x 1_000_000, 1 to 10_000_000}; ``gasFlow``
  {"uncontrolledGasFlowRate": m3/h x 1000, 0 to 65_535; "period": 1 to 65_535 s} (the
  DUIS schema's own bounds).
- The communications hub and gas proxy hold no settings yet: ``read_settings`` on them can
  name none.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from s1adopt.domain.devices import DeviceType
from s1adopt.domain.errors import InvalidRequest
from s1adopt.domain.operations import GBCS_ALERT_CODES, AlertKind, Value


class InvalidSetting(InvalidRequest):
    """A setting that does not exist, is not the device type's, or a value breaking its rule."""

    def __init__(self, setting: str, rule: str) -> None:
        super().__init__(f"setting {setting!r} {rule}")
        self.setting, self.rule = setting, rule


Validator = Callable[[str, Value, DeviceType], Value]

DAY = 86_400
MAX_PENCE = 10_000_000
MAX_VOLTS = 1_000
MAX_WATTS = 1_000_000
MAX_COUNTER = 2**32 - 1
MAX_ALERT_CODES = 256
PERIODICITIES = ("daily", "weekly", "monthly", "quarterly", "half-yearly", "yearly")
PAYMENT_MODES = ("credit", "prepayment")
TAMPER_STATES = ("unlocked", "locked")
PREPAYMENT_KEYS = (
    "debtRecoveryRateCap",
    "emergencyCreditLimit",
    "emergencyCreditThreshold",
    "lowCreditThreshold",
    "maxMeterBalance",
    "maxCreditThreshold",
)

_METERS = frozenset({DeviceType.ESME, DeviceType.GSME})
_ESME = frozenset({DeviceType.ESME})
_GSME = frozenset({DeviceType.GSME})
_SUPPLIER_NAME = re.compile(r"[ -~]{1,15}")
_TELEPHONE = re.compile(r"[0-9 ]{1,18}")
_ALERT_CODE = re.compile(r"[0-9A-Fa-f]{4}")
_MPXN = {DeviceType.ESME: re.compile(r"[0-9]{13}"), DeviceType.GSME: re.compile(r"[0-9]{6,10}")}
_MPXN_RULE = {False: "an MPAN of 13 digits", True: "an MPRN of 6 to 10 digits"}


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One setting: where it exists, what a device holds by default and what is valid.

    ``merges``: a written value names only the entries it changes (an object merged into the
    one held) rather than replacing the whole value.
    """

    name: str
    device_types: frozenset[DeviceType]
    default: Value
    validate: Validator
    summary: str
    merges: bool = False

    def initial(self) -> Value:
        """The default, as a value of its own (changing it changes no other)."""
        return copy.deepcopy(self.default)


# -- validators ------------------------------------------------------------------------------


def _int(name: str, value: Value, low: int, high: int, what: str = "") -> int:
    label = f"{what} " if what else ""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidSetting(name, f"{label}must be a whole number from {low} to {high}")
    return value


def _choice(name: str, value: Value, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InvalidSetting(name, f"must be one of {', '.join(repr(c) for c in choices)}")
    return value


def _object(name: str, value: Value, keys: tuple[str, ...]) -> dict[str, Value]:
    if not isinstance(value, dict) or set(value) != set(keys):
        raise InvalidSetting(name, f"must be an object of exactly {', '.join(keys)}")
    return value


def normalised_time(name: str, value: Value) -> str:
    """An ISO 8601 UTC time as ``YYYY-MM-DDTHH:MM:SSZ``; ``InvalidSetting`` otherwise."""
    rule = "must be an ISO 8601 UTC time such as 2026-01-01T00:00:00Z"
    if not isinstance(value, str) or not value.isascii() or not 19 < len(value) <= 40:
        raise InvalidSetting(name, rule)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidSetting(name, rule) from None
    if parsed.tzinfo is None or parsed.utcoffset() != UTC.utcoffset(None):
        raise InvalidSetting(name, rule)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _supplier_name(name: str, value: Value, _: DeviceType) -> Value:
    if not isinstance(value, str) or _SUPPLIER_NAME.fullmatch(value) is None:
        raise InvalidSetting(name, "must be 1 to 15 printable ASCII characters")
    return value


def _telephone(name: str, value: Value, _: DeviceType) -> Value:
    if (
        not isinstance(value, str)
        or _TELEPHONE.fullmatch(value) is None
        or not any(c.isdigit() for c in value)
    ):
        raise InvalidSetting(name, "must be 1 to 18 digits and spaces, at least one a digit")
    return value


def _billing_calendar(name: str, value: Value, _: DeviceType) -> Value:
    doc = _object(name, value, ("start", "periodicity"))
    return {
        "start": normalised_time(f"{name}.start", doc["start"]),
        "periodicity": _choice(f"{name}.periodicity", doc["periodicity"], PERIODICITIES),
    }


def _payment_mode(name: str, value: Value, _: DeviceType) -> Value:
    return _choice(name, value, PAYMENT_MODES)


def _prepayment(name: str, value: Value, _: DeviceType) -> Value:
    doc = _object(name, value, PREPAYMENT_KEYS)
    return {key: _int(f"{name}.{key}", doc[key], 0, MAX_PENCE) for key in PREPAYMENT_KEYS}


def _bool(name: str, value: Value, _: DeviceType) -> Value:
    if not isinstance(value, bool):
        raise InvalidSetting(name, "must be true or false")
    return value


def _optional_time(name: str, value: Value, _: DeviceType) -> Value:
    return None if value is None else normalised_time(name, value)


def _alert_behaviours(name: str, value: Value, _: DeviceType) -> Value:
    if not isinstance(value, dict) or len(value) > MAX_ALERT_CODES:
        raise InvalidSetting(name, f"must be an object of at most {MAX_ALERT_CODES} alert codes")
    behaviours: dict[str, bool] = {}
    for code, enabled in value.items():
        if not isinstance(code, str) or _ALERT_CODE.fullmatch(code) is None:
            raise InvalidSetting(name, f"names {code!r}, not a GBCS alert code of 4 hex digits")
        if not isinstance(enabled, bool):
            raise InvalidSetting(f"{name}.{code}", "must be true (enabled) or false")
        behaviours[code.upper()] = enabled
    return behaviours


def _import_mpxn(name: str, value: Value, device_type: DeviceType) -> Value:
    pattern = _MPXN.get(device_type)
    if pattern is None or not isinstance(value, str) or pattern.fullmatch(value) is None:
        gas = device_type is DeviceType.GSME
        raise InvalidSetting(name, f"must be {_MPXN_RULE[gas]}")
    return value


_VOLTAGE_KEYS = (
    "averageRmsOverVoltageThreshold",
    "averageRmsUnderVoltageThreshold",
    "extremeOverVoltageThreshold",
    "extremeUnderVoltageThreshold",
    "averageRmsVoltageMeasurementPeriod",
)


def _voltage(name: str, value: Value, _: DeviceType) -> Value:
    doc = _object(name, value, _VOLTAGE_KEYS)
    volts = {key: _int(f"{name}.{key}", doc[key], 0, MAX_VOLTS) for key in _VOLTAGE_KEYS[:4]}
    period = _VOLTAGE_KEYS[4]
    for kind in ("averageRms", "extreme"):
        if volts[f"{kind}UnderVoltageThreshold"] >= volts[f"{kind}OverVoltageThreshold"]:
            raise InvalidSetting(name, f"{kind}UnderVoltageThreshold must be below the over one")
    return {**volts, period: _int(f"{name}.{period}", doc[period], 1, DAY)}


def _randomisation(name: str, value: Value, _: DeviceType) -> Value:
    return _int(name, value, 0, 1799)


def _power_thresholds(name: str, value: Value, _: DeviceType) -> Value:
    levels = ("low", "medium")
    doc = _object(name, value, levels)
    watts = {key: _int(f"{name}.{key}", doc[key], 0, MAX_WATTS) for key in levels}
    if not watts["low"] <= watts["medium"]:
        raise InvalidSetting(name, "must keep low <= medium")
    return watts


def _load_limit(name: str, value: Value, _: DeviceType) -> Value:
    doc = _object(name, value, ("powerThreshold", "period", "restorationPeriod"))
    return {
        "powerThreshold": _int(f"{name}.powerThreshold", doc["powerThreshold"], 0, MAX_WATTS),
        "period": _int(f"{name}.period", doc["period"], 1, DAY),
        "restorationPeriod": _int(f"{name}.restorationPeriod", doc["restorationPeriod"], 0, DAY),
    }


def _counter(name: str, value: Value, _: DeviceType) -> Value:
    return _int(name, value, 0, MAX_COUNTER)


def _max_demand_period(name: str, value: Value, _: DeviceType) -> Value:
    return _int(name, value, 60, DAY)


def _tamper_state(name: str, value: Value, _: DeviceType) -> Value:
    return _choice(name, value, TAMPER_STATES)


def _gas_conversion(name: str, value: Value, _: DeviceType) -> Value:
    doc = _object(name, value, ("calorificValue", "conversionFactor"))
    return {
        "calorificValue": _int(f"{name}.calorificValue", doc["calorificValue"], 0, 100_000),
        "conversionFactor": _int(
            f"{name}.conversionFactor", doc["conversionFactor"], 1, 10_000_000
        ),
    }


def _gas_flow(name: str, value: Value, _: DeviceType) -> Value:
    doc = _object(name, value, ("uncontrolledGasFlowRate", "period"))
    rate = "uncontrolledGasFlowRate"
    return {
        rate: _int(f"{name}.{rate}", doc[rate], 0, 65_535),
        "period": _int(f"{name}.period", doc["period"], 1, 65_535),
    }


# -- the registry ----------------------------------------------------------------------------


def _s(
    name: str,
    types: frozenset[DeviceType],
    default: Value,
    validate: Validator,
    summary: str,
    merges: bool = False,
) -> SettingSpec:
    return SettingSpec(name, types, default, validate, summary, merges)


SETTINGS: dict[str, SettingSpec] = {
    s.name: s
    for s in (
        _s("supplierName", _METERS, "Supplier", _supplier_name, "supplier name shown"),
        _s(
            "supplierTelephone",
            _METERS,
            "0800 000 000",
            _telephone,
            "supplier telephone shown",
        ),
        _s(
            "billingCalendar",
            _METERS,
            {"start": "2026-01-01T00:00:00Z", "periodicity": "monthly"},
            _billing_calendar,
            "when billing periods start and how often",
        ),
        _s("paymentMode", _METERS, "credit", _payment_mode, "credit or prepayment"),
        _s(
            "prepayment",
            _METERS,
            {
                "debtRecoveryRateCap": 0,
                "emergencyCreditLimit": 1000,
                "emergencyCreditThreshold": 500,
                "lowCreditThreshold": 500,
                "maxMeterBalance": 1_000_000,
                "maxCreditThreshold": 100_000,
            },
            _prepayment,
            "prepayment thresholds and limits, pence",
        ),
        _s("privacyPin", _METERS, True, _bool, "the consumer's privacy PIN is enabled"),
        _s(
            "tenancyRestrictedFrom",
            _METERS,
            None,
            _optional_time,
            "data before this time is withheld (change of tenancy)",
        ),
        _s(
            "alertBehaviours",
            _METERS,
            {},
            _alert_behaviours,
            "GBCS alert codes enabled (true) or disabled (false); absent = enabled",
            merges=True,
        ),
        _s("importMpxn", _METERS, None, _import_mpxn, "the import meter point (MPAN or MPRN)"),
        _s(
            "voltage",
            _ESME,
            {
                "averageRmsOverVoltageThreshold": 253,
                "averageRmsUnderVoltageThreshold": 216,
                "extremeOverVoltageThreshold": 264,
                "extremeUnderVoltageThreshold": 207,
                "averageRmsVoltageMeasurementPeriod": 600,
            },
            _voltage,
            "voltage quality thresholds (V) and measurement period (s)",
        ),
        _s(
            "randomisationOffsetLimit",
            _ESME,
            0,
            _randomisation,
            "the most a switching time is offset at random, s",
        ),
        _s(
            "powerThresholds",
            _ESME,
            {"low": 1000, "medium": 3000},
            _power_thresholds,
            "instantaneous power thresholds (low/medium and medium/high boundaries), W",
        ),
        _s(
            "loadLimit",
            _ESME,
            {"powerThreshold": 10_000, "period": 60, "restorationPeriod": 60},
            _load_limit,
            "load limiting: power threshold (W), period and restoration period (s)",
        ),
        _s("loadLimitCounter", _ESME, 0, _counter, "times the load limit was exceeded"),
        _s("maxDemandPeriod", _ESME, 1800, _max_demand_period, "maximum demand period, s"),
        _s("tamperState", _ESME, "unlocked", _tamper_state, "supply tamper state"),
        _s(
            "gasConversion",
            _GSME,
            {"calorificValue": 39_500, "conversionFactor": 1_022_640},
            _gas_conversion,
            "calorific value (MJ/m3 x 1000) and conversion factor (x 1e6)",
        ),
        _s(
            "gasFlow",
            _GSME,
            {"uncontrolledGasFlowRate": 6000, "period": 60},
            _gas_flow,
            "uncontrolled gas flow rate (m3/h x 1000) and its period (s)",
        ),
    )
}


def settings_of(device_type: DeviceType) -> tuple[str, ...]:
    """The names of the settings a device of ``device_type`` holds, in registry order."""
    return tuple(name for name, spec in SETTINGS.items() if device_type in spec.device_types)


def setting_for(name: object, device_type: DeviceType) -> SettingSpec:
    """The setting ``name`` of a ``device_type``; ``InvalidSetting`` if there is none."""
    spec = SETTINGS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise InvalidSetting(str(name)[:64], "is not a setting")
    if device_type not in spec.device_types:
        raise InvalidSetting(spec.name, f"is not a setting of the device type {device_type}")
    return spec


def check_setting(name: str, value: Value, device_type: DeviceType) -> Value:
    """The normalised ``value`` of setting ``name`` on a ``device_type``, or ``InvalidSetting``
    naming the setting and the rule it breaks."""
    return setting_for(name, device_type).validate(name, value, device_type)


def check_settings(values: Mapping[str, Value], device_type: DeviceType) -> dict[str, Value]:
    """Every value of ``values`` normalised, or ``InvalidSetting`` for the first bad one."""
    return {name: check_setting(name, value, device_type) for name, value in values.items()}


def alert_enabled(behaviours: Mapping[str, bool], kind: AlertKind) -> bool:
    """Whether a device whose ``alertBehaviours`` are ``behaviours`` sends alerts of ``kind``:
    unless its GBCS code (``operations.GBCS_ALERT_CODES``) is set to false."""
    return behaviours.get(GBCS_ALERT_CODES[kind], True)
