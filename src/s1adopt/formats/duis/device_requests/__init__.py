"""The bodies of DUIS device service requests, both ways: the service reads a request's body
element into its request values, and users' tools (the DUIS client, tests, benchmarks, demos)
build a body element, valid against the official DUIS V5.4 schema, from such values.

Request values are a plain dict of JSON-like values; times are ISO 8601 UTC texts
``YYYY-MM-DDTHH:MM:SSZ``; devices are 16 upper-case hex digits; amounts are pence and prices
hundredths of a penny per kWh. Where a body differs by fuel, its values carry
``"fuel": "electricity"`` or ``"gas"`` and ``build_body`` takes the device type (ESME, GSME).

Rules:
- ``read_values`` raises ``InvalidField`` (answered E1001) naming the field and the rule for
  anything wrong: another element than the SRV's, an element or text where none belongs, a
  missing, repeated, malformed or out-of-range value, and anything the SMETS1 equivalent cannot
  carry (it is refused, never dropped); no other exception escapes it;
- a body allowing ``ExecutionDateTime`` gives ``"executionDateTime"`` when it has one;
- ``build_body`` writes the values and nothing else the values do not say: fields the schema
  requires that the values do not carry are filled with the neutral defaults named below; it
  raises ``ValueError`` naming the key for a value it cannot carry or a key it does not know;
- times: an offset is converted to UTC, no zone is read as UTC, fractions of a second are
  dropped; amounts finer than the SMETS1 unit are refused, not rounded.

Per SRV, how the values come from the body (``build_body`` does the reverse) and, after
"build:", what it fills in:
- 4.1.1 4.1.2 4.1.3 4.3 4.13 4.15 4.18 4.11.1 4.16, 2.5 3.5 6.4.2 7.1 7.2 7.3 8.9, 6.2.1 to
  6.2.10, 7.4, 11.2: ``{}``. 8.9's ReadSecurityDetails is refused (the SMETS1 HAN log has no
  security details).
- 4.6.1 4.8.1 4.17: ``from``/``to`` = ReadLogPeriod Start/EndDateTime (``from`` not after
  ``to``); a KAPublicSecurityCredentials is refused (no encryption for unknown remote parties).
- 6.13: the same period and ``log`` = LogToRead as given.
- 1.1.1: ``bands`` = the first DayProfile's switching: for each of the 48 half-hours from 00:00
  UTC, TOUTariffAction - 1 of the switch in force (before the day's first switch, the day's last
  one); ``prices`` = the TOUPrice values in index order, x 10^(PriceScale + 4) for electricity
  (GBP to hundredths of a penny), / 10 for gas (thousandths of a penny); ``standingCharge`` =
  StandingCharge x 10^(StandingChargeScale + 2) (electricity), / 1000 (gas), pence a day.
  Refused: any DayProfile switching differently from the first (the SMETS1 equivalent applies
  one day profile every day), switches off the half-hour, block actions, BlockTariff or
  HybridTariff prices, an action naming no TOU price, a currency other than GBP, prices or
  charges not whole in the SMETS1 units, negative or above 1,000,000 (prices) or 100,000
  (charge). Week profiles, seasons and special days must name profiles the body gives and have
  no other effect; the ThresholdMatrix is not carried. Build: one day profile (DayName 1)
  switching at every change of band, one week (WeekName 1, every day DayName 1), one season
  ("all", every 1 January), no special days, block thresholds at their maximum (never reached),
  GBP; electricity prices with the smallest PriceScale >= -4 and standing charge with the
  smallest StandingChargeScale >= -2 that fit DUIS's 16-bit numbers; gas bands must all be the
  same (a gas day profile has one price all day), at most 4 prices.
- 1.2.1: ``prices`` and ``standingCharge`` from the PriceElements as in 1.1.1.
- 1.6: ``paymentMode`` ``credit`` (Credit) or ``prepayment`` (Prepayment, which must have
  SuspendDebtDisabled and SuspendDebtEmergency false and DisablementThreshold 0; build writes
  those).
- 2.1: ``prepayment`` = the six amounts (DebtRecoveryRateCap, EmergencyCreditLimit,
  EmergencyCreditThreshold, LowCreditThreshold, MaxMeterBalance, MaxCreditThreshold), pence, 0
  to 10,000,000. A non-disablement calendar that STARTs a non-disablement period on any day is
  refused (the SMETS1 equivalent has none). Build: electricity, one STOP schedule at 00:00 on
  2000-01-01 applying to no day; gas, one day profile that STOPs at 00:00, one week, one season
  from every 1 January, no special days.
- 2.2: ``utrn`` = UTRN (20 digits).
- 2.3: ``amount`` = TimeDebtRegister1 + TimeDebtRegister2 + PaymentDebtRegister (pence);
  DebtRecoveryPerPayment and every DebtRecoveryRate must be 0 (the SMETS1 equivalent adjusts
  the debt only). Build: the amount in TimeDebtRegister1, 0 elsewhere, rates DAILY with scale 0.
- 3.1: ``text`` = SupplierMessage (1 to 116 printable ASCII, spaces kept).
- 3.2: ``restrictionDateTime`` = RestrictionDateTime.
- 3.3: ``{}`` with no ESMEEventLogType or ``ESME`` (the default log), ``{"log": "ALCS"}``.
- 3.4: ``supplierName`` = SupplierName, ``supplierTelephone`` = SupplierTelephoneNumber (at
  least one digit).
- 6.4.1: ``loadLimit`` = {powerThreshold: LoadLimitPowerThreshold W, period: LoadLimitPeriod s,
  restorationPeriod: LoadLimitRestorationPeriod s}; LoadLimitSupplyState must be Unchanged
  (build writes it).
- 6.5: ``voltage`` = {extremeOver/UnderVoltageThreshold: RMSExtremeOver/UnderVoltageThreshold,
  averageRmsOver/UnderVoltageThreshold and averageRmsVoltageMeasurementPeriod: the average RMS
  settings}; poly-phase settings must be the same for the three phases. Checked, not carried:
  the extreme measurement periods, sag and swell settings (no SMETS1 counterpart, no neutral
  value) and RMSVoltageCountersNotReset. Build: single phase; periods 30 s, sag 216 V, swell
  253 V.
- 6.6: ``gasConversion`` = {calorificValue: CalorificValue x 1000, conversionFactor:
  ConversionFactor x 1,000,000}; build needs multiples of 100 and 10 (DUIS's decimal places).
- 6.7: ``gasFlow`` = {uncontrolledGasFlowRate: UncontrolledGasFlowRate / 10 (0.0001 to 0.001
  m3/h) or UncontrolledGasFlowRateDecimal x 1000, period: MeasurementPeriod s}; the supply
  depletion and tamper states must be Unchanged; StabilisationPeriod is checked, not carried.
  Build: states Unchanged, StabilisationPeriod 60 s.
- 6.8: ``billingCalendar`` = {start, periodicity (daily, weekly, monthly, quarterly,
  half-yearly, yearly)}: gas from BillingPeriodStart and Periodicity; electricity names no
  year, so start is its first billing time on or after 2026-01-01 at BillingTime (build takes
  the start's time, weekday, day (1 to 28) and month).
- 6.11: ``time`` = CurrentDateTime, ``tolerance`` = TolerancePeriod (s).
- 6.12: ``powerThresholds`` = {low: LowMediumPowerThreshold, medium: MediumHighPowerThreshold}
  (W, low not above medium). DUIS carries two thresholds: the setting's ``high`` is not given.
- 6.15.1: ``role`` = RemotePartyRole. Checked, not carried: floor sequence numbers,
  certificates, ApplyTimeBasedCPVChecks (SMETS1 devices hold the S1SP's credentials). Build: a
  placeholder DigitalSigningCertificate and path certificate, CPV checks false.
- 6.18.1: ``maxDemandPeriod`` = EndTime - StartTime (s; EndTime 00:00 is a whole day);
  StartTime must be 00:00:00Z (the SMETS1 period starts at midnight).
- 6.20.1: ``importMpxn`` = ImportMPAN or ImportMPRN, check digits verified; a
  SecondaryImportMPAN is refused (one import meter point).
- 6.22: ``alertBehaviours`` = {code: Enable} for every code of ElectricitySupplierAlerts,
  ElectricityNetworkOperatorAlerts or GasSupplierAlerts (at least one); the HAN alert, alarm,
  logging and gas event settings are refused (SMETS1 meters have none).
- 6.23: ``importMpxn`` = ImportMPxN, checked; certificates and floor sequence numbers as in
  6.15.1. Build: SupplierFloorSeqNumber 0, placeholder certificates, CPV checks false.
- 6.25: ``tamperState`` = ``locked`` (Locked) or ``unlocked`` (Unchanged).
- 7.12: ``randomisationOffsetLimit`` = RandomisedOffsetLimit (0 to 1799 s).
- 8.7.1 8.7.2 8.8.1 8.8.2: ``device`` = OtherDeviceID.
- 8.11: ``add`` = [DeviceID] for RequestType Add (else []), ``remove`` likewise for Remove; the
  AddDeviceToCHFWhitelist entry (SMETS2 join: period, install code, meter points) is checked,
  not carried. Build: exactly one device, no whitelist entry.
- 11.3: ``firmwareHash`` = FirmwareHash as 64 lower-case hex digits. The body names no version:
  the service finds the image whose hash it is (``formats.firmware``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from s1adopt.formats.duis.device_requests import (
    alerts,
    configuration,
    devices,
    examples,
    prepayment,
    readings,
    tariffs,
)
from s1adopt.formats.duis.device_requests.fields import (
    FUELS,
    NSMAP,
    SR,
    Codec,
    Node,
    Values,
    add,
    date_time,
    display,
    empty_codec,
    iso,
    no_build,
    quoted,
)
from s1adopt.formats.duis.requests import InvalidField

__all__ = ["SUPPORTED", "build_body", "device_types", "example_values", "read_values"]

_METERS = "ESME GSME"
_C = Codec
_E = examples
# fmt: off
_CODECS: dict[str, Codec] = {
    # reads
    "4.1.1": empty_codec("ReadInstantaneousImportRegisters", _METERS, True),
    "4.1.2": empty_codec("ReadInstantaneousImportTOUMatrices", _METERS, True),
    "4.1.3": empty_codec("ReadInstantaneousImportTOUWithBlocksMatrices", "ESME", True),
    "4.3": empty_codec("ReadInstantaneousPrepayValues", _METERS, True),
    "4.6.1": _C("RetrieveImportDailyReadLog", ("ReadLogPeriod", "KAPublicSecurityCredentials"),
                readings.read_log, readings.build_period, _E.log_window,
                frozenset(_METERS.split()), True),
    "4.8.1": _C("ReadActiveImportProfileData", ("ReadLogPeriod", "KAPublicSecurityCredentials"),
                readings.read_log, readings.build_period, _E.log_window,
                frozenset(_METERS.split()), True),
    "4.11.1": empty_codec("ReadTariffPrimaryElement", _METERS),
    "4.13": empty_codec("ReadPrepaymentConfiguration", _METERS, True),
    "4.15": empty_codec("ReadLoadLimitData", "ESME", True),
    "4.16": empty_codec("ReadActivePowerImport", "ESME"),
    "4.17": _C("RetrieveDailyConsumptionLog", ("ReadLogPeriod", "KAPublicSecurityCredentials"),
               readings.read_log, readings.build_period, _E.log_window,
               frozenset(_METERS.split()), True),
    "4.18": empty_codec("ReadMeterBalance", _METERS, True),
    # tariffs and prepayment
    "1.1.1": _C("UpdateImportTariffPrimaryElement", ("ElecTariffElements", "GasTariffElements",
                "PriceElements"), tariffs.read_tariff, tariffs.build_tariff, _E.tariff,
                frozenset(_METERS.split()), True, True),
    "1.2.1": _C("UpdatePricePrimaryElement", ("PriceElements",), tariffs.read_price,
                tariffs.build_price, _E.price, frozenset(_METERS.split()), True, True),
    "1.6": _C("UpdatePaymentMode", ("Credit", "Prepayment"), prepayment.read_payment_mode,
              prepayment.build_payment_mode, _E.constant({"paymentMode": "prepayment"}),
              frozenset(_METERS.split()), True),
    "2.1": _C("UpdatePrepayConfiguration", tuple(prepayment.CONFIGURATIONS.values()),
              prepayment.read_prepay_configuration, prepayment.build_prepay_configuration,
              _E.prepay_configuration, frozenset(_METERS.split()), True, True),
    "2.2": _C("TopUpDevice", ("UTRN",), prepayment.read_top_up, prepayment.build_top_up,
              _E.constant({"utrn": "73567382736482736458"}), frozenset(_METERS.split())),
    "2.3": _C("UpdateDebt", ("TimeDebtRegister1", "TimeDebtRegister2", "PaymentDebtRegister",
              "DebtRecoveryPerPayment", "ElecDebtRecovery1", "ElecDebtRecovery2",
              "GasDebtRecovery1", "GasDebtRecovery2"), prepayment.read_debt,
              prepayment.build_debt, _E.debt, frozenset(_METERS.split()), False, True),
    "2.5": empty_codec("ActivateEmergencyCredit", _METERS),
    # consumer information
    "3.1": _C("DisplayMessage", ("SupplierMessage",), configuration.read_message,
              configuration.build_message,
              _E.constant({"text": "Your new tariff starts on Monday"}),
              frozenset(_METERS.split()), True),
    "3.2": _C("RestrictAccessForChangeOfTenancy", ("RestrictionDateTime",),
              configuration.read_restriction, configuration.build_restriction, _E.restriction,
              frozenset(_METERS.split()), True),
    "3.3": _C("ClearEventLog", ("ESMEEventLogType",), configuration.read_clear_event_log,
              configuration.build_clear_event_log, _E.constant({}), frozenset(_METERS.split())),
    "3.4": _C("UpdateSupplierName", ("SupplierName", "SupplierTelephoneNumber"),
              configuration.read_supplier_name, configuration.build_supplier_name,
              _E.constant({"supplierName": "Supplier", "supplierTelephone": "0800 000 000"}),
              frozenset(_METERS.split()), True),
    "3.5": empty_codec("DisablePrivacyPIN", _METERS),
    # configuration reads
    "6.2.1": empty_codec("ReadDeviceConfigurationVoltage", "ESME"),
    "6.2.2": empty_codec("ReadDeviceConfigurationRandomisation", "ESME"),
    "6.2.3": empty_codec("ReadDeviceConfigurationBillingCalendar", _METERS),
    "6.2.4": empty_codec("ReadDeviceConfigurationIdentityExcMPxN", _METERS),
    "6.2.5": empty_codec("ReadDeviceConfigurationInstantaneousPowerThresholds", "ESME"),
    "6.2.7": empty_codec("ReadDeviceConfigurationMPxN", _METERS),
    "6.2.8": empty_codec("ReadDeviceConfigurationGas", "GSME"),
    "6.2.9": empty_codec("ReadDeviceConfigurationPaymentMode", _METERS),
    "6.2.10": empty_codec("ReadDeviceConfigurationEventAndAlertBehaviours", _METERS),
    # configuration updates
    "6.4.1": _C("UpdateDeviceConfigurationLoadLimitingGeneralSettings", ("LoadLimitPeriod",
                "LoadLimitPowerThreshold", "LoadLimitRestorationPeriod", "LoadLimitSupplyState"),
                configuration.read_load_limit, configuration.build_load_limit,
                _E.constant({"loadLimit": {"powerThreshold": 10000, "period": 60,
                                           "restorationPeriod": 60}}),
                frozenset({"ESME"}), True),
    "6.4.2": empty_codec("UpdateDeviceConfigurationLoadLimitingCounterReset", "ESME", True),
    "6.5": _C("UpdateDeviceConfigurationVoltage", ("RMSVoltageSettings",
              "SinglePhaseVoltageSettings", "PolyPhaseVoltageSettings",
              "RMSVoltageCountersNotReset"), configuration.read_voltage,
              configuration.build_voltage,
              _E.constant({"voltage": {"averageRmsOverVoltageThreshold": 253,
                                       "averageRmsUnderVoltageThreshold": 216,
                                       "extremeOverVoltageThreshold": 264,
                                       "extremeUnderVoltageThreshold": 207,
                                       "averageRmsVoltageMeasurementPeriod": 600}}),
              frozenset({"ESME"}), True),
    "6.6": _C("UpdateDeviceConfigurationGasConversion", ("CalorificValue", "ConversionFactor"),
              configuration.read_gas_conversion, configuration.build_gas_conversion,
              _E.constant({"gasConversion": {"calorificValue": 39500,
                                             "conversionFactor": 1022640}}),
              frozenset({"GSME"})),
    "6.7": _C("UpdateDeviceConfigurationGasFlow", ("UncontrolledGasFlowRate",
              "UncontrolledGasFlowRateDecimal", "SupplyDepletionState", "SupplyTamperState",
              "StabilisationPeriod", "MeasurementPeriod"), configuration.read_gas_flow,
              configuration.build_gas_flow,
              _E.constant({"gasFlow": {"uncontrolledGasFlowRate": 6000, "period": 60}}),
              frozenset({"GSME"})),
    "6.8": _C("UpdateDeviceConfigurationBillingCalendar", ("ElectricityBillingCalendar",
              "GasBillingCalendar"), configuration.read_billing_calendar,
              configuration.build_billing_calendar, _E.billing_calendar,
              frozenset(_METERS.split()), False, True),
    "6.11": _C("SynchroniseClock", ("CurrentDateTime", "TolerancePeriod"),
               configuration.read_clock, configuration.build_clock, _E.clock,
               frozenset(_METERS.split())),
    "6.12": _C("UpdateDeviceConfigurationInstantaneousPowerThreshold",
               ("LowMediumPowerThreshold", "MediumHighPowerThreshold"),
               configuration.read_power_thresholds, configuration.build_power_thresholds,
               _E.constant({"powerThresholds": {"low": 1000, "medium": 3000}}),
               frozenset({"ESME"}), True),
    "6.13": _C("ReadEventOrSecurityLog", ("ReadLogPeriod", "LogToRead"),
               readings.read_event_log, readings.build_event_log, _E.event_log,
               frozenset(_METERS.split())),
    "6.15.1": _C("UpdateSecurityCredentialsKRP", devices.KRP_CHILDREN, devices.read_krp,
                 devices.build_krp, _E.constant({"role": "Supplier"}),
                 frozenset(_METERS.split()), True),
    "6.18.1": _C("SetMaximumDemandConfigurableTimePeriod", ("MaximumDemandTimePeriodSchedule",),
                 configuration.read_max_demand_period, configuration.build_max_demand_period,
                 _E.constant({"maxDemandPeriod": 1800}), frozenset({"ESME"}), True),
    "6.20.1": _C("SetDeviceConfigurationImportMPxN", ("ImportMPANs", "ImportMPRN"),
                 configuration.read_import_mpxn, configuration.build_import_mpxn,
                 _E.import_mpxn, frozenset(_METERS.split()), True),
    "6.22": _C("ConfigureAlertBehaviour", alerts.CHILDREN, alerts.read_alert_behaviour,
               alerts.build_alert_behaviour, _E.alert_behaviour, frozenset(_METERS.split()),
               False, True),
    "6.23": _C("UpdateSecurityCredentialsCoS", devices.COS_CHILDREN, devices.read_cos,
               devices.build_cos, _E.import_mpxn, frozenset(_METERS.split()), True),
    "6.25": _C("SetElectricitySupplyTamperState", ("SupplyTamperState",),
               configuration.read_tamper_state, configuration.build_tamper_state,
               _E.constant({"tamperState": "locked"}), frozenset({"ESME"})),
    # supply
    "7.1": empty_codec("EnableSupply", "ESME"),
    "7.2": empty_codec("DisableSupply", _METERS),
    "7.3": empty_codec("ArmSupply", _METERS),
    "7.4": empty_codec("ReadSupplyStatus", _METERS),
    "7.12": _C("SetRandomisedOffsetLimit", ("RandomisedOffsetLimit",),
               configuration.read_randomisation, configuration.build_randomisation,
               _E.constant({"randomisationOffsetLimit": 900}), frozenset({"ESME"})),
    # the HAN and firmware
    "8.7.1": _C("JoinServiceCritical", ("OtherDeviceID",), devices.read_join, devices.build_join,
                _E.constant({"device": _E.EXAMPLE_HAN_DEVICE}), frozenset(_METERS.split())),
    "8.7.2": _C("JoinServiceNonCritical", ("OtherDeviceID",), devices.read_join,
                devices.build_join, _E.constant({"device": _E.EXAMPLE_HAN_DEVICE}),
                frozenset(_METERS.split())),
    "8.8.1": _C("UnjoinServiceCritical", ("OtherDeviceID",), devices.read_join,
                devices.build_join, _E.constant({"device": _E.EXAMPLE_HAN_DEVICE}),
                frozenset(_METERS.split())),
    "8.8.2": _C("UnjoinServiceNonCritical", ("OtherDeviceID",), devices.read_join,
                devices.build_join, _E.constant({"device": _E.EXAMPLE_HAN_DEVICE}),
                frozenset(_METERS.split())),
    "8.9": _C("ReadDeviceLog", ("ReadSecurityDetails",), devices.read_device_log,
              no_build, _E.constant({}), frozenset({"CHF", "GPF"}), True),
    "8.11": _C("UpdateHANDeviceLog", devices.HAN_CHILDREN, devices.read_han_log,
               devices.build_han_log,
               _E.constant({"add": [_E.EXAMPLE_HAN_DEVICE], "remove": []}),
               frozenset({"CHF"}), True),
    "11.2": empty_codec("ReadFirmwareVersion", "ESME GSME CHF GPF PPMID", True),
    "11.3": _C("ActivateFirmware", ("FirmwareHash",), devices.read_firmware,
               devices.build_firmware, _E.constant({"firmwareHash": _E.EXAMPLE_FIRMWARE_HASH}),
               frozenset({"ESME", "GSME", "CHF"}), True),
}
# fmt: on

SUPPORTED: frozenset[str] = frozenset(_CODECS)


def read_values(srv: str, body: etree._Element) -> dict[str, Any]:
    """The request values of ``srv``'s body element (the Request/Body child).

    ``InvalidField`` names the field and the rule for anything wrong, including an SRV this
    service does not read and a body element of another SRV.
    """
    codec = _CODECS.get(srv) if isinstance(srv, str) else None
    if codec is None:
        raise InvalidField(
            "ServiceReferenceVariant", f"{quoted(srv)} is not a device request this service reads"
        )
    if body.tag != SR + codec.element:
        raise InvalidField(
            codec.element, f"SRV {srv}'s body is sr:{codec.element}; found {display(body)}"
        )
    allowed = (*codec.children, "ExecutionDateTime") if codec.future_datable else codec.children
    try:
        node = Node(body, codec.element, allowed)
        values = codec.read(node)
        when = node.optional("ExecutionDateTime")
        if when is not None:
            values["executionDateTime"] = date_time(when, node.field("ExecutionDateTime"))
    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:  # a second line only
        raise InvalidField(codec.element, "cannot be read") from exc
    return values


def build_body(srv: str, values: Mapping[str, Any], device_type: str = "ESME") -> etree._Element:
    """A body element for ``srv`` (in the sr namespace) carrying exactly ``values``.

    ``device_type`` (ESME or GSME) picks the fuel where the body differs by fuel; a ``"fuel"``
    in the values must agree with it. ``ValueError`` names the key it cannot carry.
    """
    codec = _CODECS.get(srv)
    if codec is None:
        raise ValueError(f"{srv!r:.40}: not a device request SRV this module builds")
    taken = Values(values)
    fuel = ""
    if codec.fueled:
        if device_type not in FUELS:
            raise ValueError(
                f"SRV {srv}'s body differs by fuel: device_type must be ESME or GSME, "
                f"not {device_type!r:.40}"
            )
        fuel = FUELS[device_type]
        given = taken.take_optional("fuel")
        if given is not None and given != fuel:
            raise ValueError(f"fuel: {given!r:.40} does not match a {device_type}'s {fuel}")
    body = etree.Element(SR + codec.element, nsmap=NSMAP)
    if taken.has("executionDateTime"):
        if not codec.future_datable:
            raise ValueError(f"executionDateTime: SRV {srv}'s body cannot be future dated")
        add(body, "ExecutionDateTime", iso(taken.time("executionDateTime")))
    codec.build(taken, body, fuel)
    taken.finish()
    return body


def example_values(srv: str, device_type: str, now: datetime | None = None) -> dict[str, Any]:
    """Realistic values of ``srv`` for a device of ``device_type``; times derive from ``now``
    (default: the current time; a naive ``now`` is UTC), e.g. 4.8.1's profile window is the
    two days before ``now``'s day. ``ValueError`` when ``srv`` does not serve the device type.
    """
    codec = _CODECS.get(srv)
    if codec is None:
        raise ValueError(f"{srv!r:.40}: not a device request SRV this module builds")
    if device_type not in codec.device_types:
        served = ", ".join(sorted(codec.device_types))
        raise ValueError(f"SRV {srv} serves {served}, not {device_type!r:.40}")
    moment = datetime.now(UTC) if now is None else now
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return codec.example(device_type, moment.replace(microsecond=0))


def device_types(srv: str) -> frozenset[str]:
    """The device types ``srv``'s SMETS1 equivalent serves (the Equivalent Steps' targets)."""
    codec = _CODECS.get(srv)
    if codec is None:
        raise ValueError(f"{srv!r:.40}: not a device request SRV this module builds")
    return codec.device_types
