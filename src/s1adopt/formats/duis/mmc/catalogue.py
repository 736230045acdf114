"""The MMC response of each SRV the SMETS1 device service carries out: its Rsp element, its
renderer, and what the Rsp holds when the request failed.

Rules:
- one row per SRV; a write or command whose Rsp has no content is rendered empty once the
  device has answered (its answer carries nothing the MMC reports);
- a failed request's Rsp is empty where the schema allows it; where the schema requires a
  branch (Electricity or Gas) it holds the device's branch, empty; where it requires a status
  (join, unjoin) the status is ``notKnown`` with the failure's code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from lxml import etree

from s1adopt.formats.duis.mmc import billing, configuration, device, readings
from s1adopt.formats.duis.mmc.build import Reader

Renderer = Callable[[Reader, etree._Element], None]


class OnFailure(Enum):
    """What a failed request's Rsp must hold to be valid."""

    NOTHING = "nothing"
    METER_BRANCH = "meter branch"  # an empty Electricity or Gas
    ALERT_BRANCH = "alert branch"  # an empty supplier alert settings element of the meter
    JOIN_STATUS = "joinResponseCode"
    UNJOIN_STATUS = "unjoinResponseCode"


@dataclass(frozen=True, slots=True)
class MmcResponse:
    """One SRV's MMC response."""

    element: str  # the Rsp's local name inside SMETSData
    render: Renderer
    on_failure: OnFailure = OnFailure.NOTHING


def acknowledged(r: Reader, _: etree._Element) -> None:
    """A write or command: the device answered, and the Rsp reports nothing more."""
    r.first()


def _ack(element: str) -> MmcResponse:
    return MmcResponse(element, acknowledged)


_F = OnFailure
# fmt: off
CATALOGUE: dict[str, MmcResponse] = {
    "4.1.1": MmcResponse("ReadInstantaneousImportRegistersRsp", readings.import_registers,
                         _F.METER_BRANCH),
    "4.1.2": MmcResponse("ReadInstantaneousImportTOUMatricesRsp", readings.tou_matrices,
                         _F.METER_BRANCH),
    "4.1.3": MmcResponse("ReadInstantaneousImportTOUWithBlocksMatricesRsp",
                         readings.tou_with_blocks),
    "4.3": MmcResponse("ReadInstantaneousPrepayValuesRsp", billing.prepay_values),
    "4.6.1": MmcResponse("RetrieveImportDailyReadLogRsp", readings.daily_read_log),
    "4.8.1": MmcResponse("ReadActiveImportProfileDataRsp", readings.profile),
    "4.11.1": MmcResponse("ReadTariffPrimaryElementRsp", billing.tariff, _F.METER_BRANCH),
    "4.13": MmcResponse("ReadPrepaymentConfigurationRsp", billing.prepayment_configuration),
    "4.15": MmcResponse("ReadLoadLimitDataRsp", configuration.load_limit),
    "4.16": MmcResponse("ReadActivePowerImportRsp", readings.active_power),
    "4.17": MmcResponse("RetrieveDailyConsumptionLogRsp", readings.daily_consumption,
                        _F.METER_BRANCH),
    "4.18": MmcResponse("ReadMeterBalanceRsp", billing.meter_balance),
    "1.1.1": _ack("UpdateImportTariffPrimaryElementRsp"),
    "1.2.1": _ack("UpdatePricePrimaryElementRsp"),
    "1.6": _ack("UpdatePaymentModeRsp"),
    "2.1": _ack("UpdatePrepayConfigurationRsp"),
    "2.2": _ack("TopUpDeviceRsp"),
    "2.3": _ack("UpdateDebtRsp"),
    "2.5": _ack("ActivateEmergencyCreditRsp"),
    "3.1": _ack("DisplayMessageRsp"),
    "3.2": _ack("RestrictAccessForChangeOfTenancyRsp"),
    "3.3": _ack("ClearEventLogRsp"),
    "3.4": _ack("UpdateSupplierNameRsp"),
    "3.5": _ack("DisablePrivacyPINRsp"),
    "6.2.1": MmcResponse("ReadDeviceConfigurationVoltageRsp", configuration.voltage),
    "6.2.2": MmcResponse("ReadDeviceConfigurationRandomisationRsp", configuration.randomisation),
    "6.2.3": MmcResponse("ReadDeviceConfigurationDataBillingCalendarRsp",
                         configuration.billing_calendar),
    "6.2.4": MmcResponse("ReadDeviceConfigurationIdentityExcMPxNRsp", device.identity),
    "6.2.5": MmcResponse("ReadDeviceConfigurationInstantaneousPowerThresholdsRsp",
                         configuration.power_thresholds),
    "6.2.7": MmcResponse("ReadDeviceConfigurationMPxNRsp", device.meter_point),
    "6.2.8": MmcResponse("ReadDeviceConfigurationGasRsp", configuration.gas_configuration),
    "6.2.9": MmcResponse("ReadDeviceConfigurationPaymentModeRsp", configuration.payment_mode),
    "6.2.10": MmcResponse("ReadDeviceConfigurationEventAndAlertBehavioursRsp",
                          configuration.alert_behaviours, _F.ALERT_BRANCH),
    "6.4.1": _ack("UpdateDeviceConfigurationLoadLimitingGeneralSettingsRsp"),
    "6.4.2": _ack("UpdateDeviceConfigurationLoadLimitingCounterResetRsp"),
    "6.5": _ack("UpdateDeviceConfigurationVoltageRsp"),
    "6.6": _ack("UpdateDeviceConfigurationGasConversionRsp"),
    "6.7": _ack("UpdateDeviceConfigurationGasFlowRsp"),
    "6.8": _ack("UpdateDeviceConfigurationBillingCalendarRsp"),
    "6.11": MmcResponse("SynchroniseClockRsp", device.clock),
    "6.12": _ack("UpdateDeviceConfigurationInstantaneousPowerThresholdRsp"),
    "6.13": MmcResponse("ReadEventOrSecurityLogRsp", device.event_log),
    "6.15.1": _ack("UpdateSecurityCredentialsKRPRsp"),
    "6.18.1": _ack("SetMaximumDemandConfigurableTimePeriodRsp"),
    "6.20.1": _ack("SetDeviceConfigurationImportMPxNRsp"),
    "6.22": _ack("ConfigureAlertBehaviourRsp"),
    "6.23": _ack("UpdateSecurityCredentialsCoSRsp"),
    "6.25": _ack("SetElectricitySupplyTamperStateRsp"),
    "7.1": _ack("EnableSupplyRsp"),
    "7.2": _ack("DisableSupplyRsp"),
    "7.3": _ack("ArmSupplyRsp"),
    "7.4": MmcResponse("ReadSupplyStatusRsp", device.supply_status),
    "7.12": _ack("SetRandomisedOffsetLimitRsp"),
    "8.7.1": MmcResponse("JoinServiceCriticalRsp", device.joined, _F.JOIN_STATUS),
    "8.7.2": MmcResponse("JoinServiceNonCriticalRsp", device.joined, _F.JOIN_STATUS),
    "8.8.1": MmcResponse("UnjoinServiceCriticalRsp", device.unjoined, _F.UNJOIN_STATUS),
    "8.8.2": MmcResponse("UnjoinServiceNonCriticalRsp", device.unjoined, _F.UNJOIN_STATUS),
    "8.9": MmcResponse("ReadDeviceLogRsp", device.han_log),
    "8.11": _ack("UpdateHANDeviceLogRsp"),
    "11.2": MmcResponse("ReadFirmwareVersionRsp", device.firmware_version),
    "11.3": MmcResponse("ActivateFirmwareRsp", device.firmware_activated),
}
# fmt: on
