"""The catalogue of DUIS service request variants (SRVs): one row per SRV, and the rules
derived from the rows.

The rows state the public facts of the DUIS service request matrix (critical, on demand, the
future-dated response pattern, DCC scheduled, non-device, eligible user roles) and the local
names of the DUIS V5.4 ``Request/Body`` choice elements that carry each SRV. The catalogue
drives parsing, access checks, routing and rendering: adding a variant is adding a row.

Where the project departs from the public matrix it says so here:
- 6.20.1 and 6.20.2 belong to service reference ``6.20`` (the matrix prints ``6.2``, a
  decimal-number truncation: the schema's ServiceReference enumeration has ``6.20``, and
  ``6.2`` is Read Device Configuration).
- 4.10 Read Network Data accepts ``RecordNetworkDataGAS`` beside ``ReadNetworkData``; that
  element is also the body of 14.1 Record Network Data (GAS).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from s1adopt.domain.duis import CommandVariant
from s1adopt.domain.parties import Role

SIGNED_PRE_COMMAND = "SignedPreCommand"  # the body of command variants 5, 6 and 7

# Command variants of each kind of request (DUIS): a non-critical device request is sent,
# returned for local delivery, or both; a critical one is first transformed (4) and then its
# signed pre-command sent on the same three ways (5, 6, 7); a non-device request is answered
# synchronously (8).
DEVICE_REQUEST_VARIANTS = frozenset(
    {CommandVariant.SEND, CommandVariant.LOCAL, CommandVariant.SEND_AND_LOCAL}
)
SIGNED_PRE_COMMAND_VARIANTS = frozenset(
    {
        CommandVariant.SIGNED_SEND,
        CommandVariant.SIGNED_LOCAL,
        CommandVariant.SIGNED_SEND_AND_LOCAL,
    }
)
CRITICAL_REQUEST_VARIANTS = frozenset({CommandVariant.TRANSFORM}) | SIGNED_PRE_COMMAND_VARIANTS
NON_DEVICE_REQUEST_VARIANTS = frozenset({CommandVariant.NON_DEVICE})


class FutureDatedResponsePattern(StrEnum):
    """Who holds a future-dated request until its execution date, and so who answers then."""

    NONE = "none"  # the request cannot be future dated
    DEVICE = "Device"  # the device holds the command and reports when it runs it
    DSP = "DSP"  # the DSP holds the request and sends it to the device on the date
    DSP_AND_DEVICE = "DSP & Device"  # both, for different parts of the request


@dataclass(frozen=True, slots=True)
class ServiceRequestVariant:
    """One DUIS service request variant with its fixed properties."""

    variant: str  # the SRV, e.g. "4.1.1"
    service_reference: str  # e.g. "4.1"
    name: str  # e.g. "Read Instantaneous Import Registers"
    critical: bool  # needs the user's signed pre-command and the DCO's check
    on_demand: bool  # may be sent for immediate execution
    future_dated_response: FutureDatedResponsePattern
    dcc_scheduled: bool  # a DCC schedule (5.1 Create Schedule) may run it
    non_device: bool  # answered by DCC itself, not by a device
    eligible_roles: frozenset[Role]  # the user roles that may send it
    body_elements: tuple[str, ...]  # local names of the Request/Body elements that carry it

    @property
    def command_variants(self) -> frozenset[CommandVariant]:
        """The command variants this SRV may be sent with: a non-device request only 8; a
        critical device request 4 (transform) and 5, 6, 7 (its signed pre-command sent, returned
        for local delivery, or both); any other device request 1, 2, 3."""
        if self.non_device:
            return NON_DEVICE_REQUEST_VARIANTS
        if self.critical:
            return CRITICAL_REQUEST_VARIANTS
        return DEVICE_REQUEST_VARIANTS

    @property
    def future_datable(self) -> bool:
        """A request may carry an execution date in the future unless its pattern is none."""
        return self.future_dated_response is not FutureDatedResponsePattern.NONE


def body_allowed(
    srv: ServiceRequestVariant, command_variant: CommandVariant, element_local_name: str
) -> bool:
    """Whether a request for ``srv`` with ``command_variant`` may carry a body element of this
    local name: a signed pre-command (variants 5, 6, 7) carries ``SignedPreCommand``, and only
    for a critical SRV; any other variant carries one of the SRV's own body elements. Whether
    the variant suits the SRV at all is ``command_variants``' rule."""
    if command_variant in SIGNED_PRE_COMMAND_VARIANTS:
        return srv.critical and element_local_name == SIGNED_PRE_COMMAND
    return element_local_name in srv.body_elements


def eligible(srv: ServiceRequestVariant, roles: Iterable[Role]) -> bool:
    """A user may send ``srv`` when at least one of its roles is eligible for it; an SRV the
    matrix gives no eligible role (7.16, 8.5, 8.6) admits no user."""
    return not srv.eligible_roles.isdisjoint(roles)


def lookup(srv_text: str) -> ServiceRequestVariant | None:
    """The catalogue's SRV written ``srv_text`` (e.g. ``"4.1.1"``, surrounding whitespace
    ignored), or None when DUIS has no such variant."""
    return _BY_VARIANT.get(srv_text.strip())


def by_body_element(element_local_name: str) -> tuple[ServiceRequestVariant, ...]:
    """The SRVs, in matrix order, whose requests carry a body element of this local name
    (``SignedPreCommand`` names none: it carries any critical SRV after its transform)."""
    return _BY_BODY_ELEMENT.get(element_local_name, ())


_FLAGS = re.compile(r"^[C-][O-][S-][N-]$")
_F = FutureDatedResponsePattern


def _srv(
    variant: str,
    reference: str,
    flags: str,
    future_dated: FutureDatedResponsePattern,
    roles: str,
    name: str,
    *body_elements: str,
) -> ServiceRequestVariant:
    """One row; ``flags`` is four letters: C critical, O on demand, S DCC scheduled,
    N non-device, with ``-`` for no."""
    if not _FLAGS.match(flags):
        raise ValueError(f"SRV {variant}: flags {flags!r} are not four of C/O/S/N or '-'")
    if not body_elements:
        raise ValueError(f"SRV {variant}: names no body element")
    return ServiceRequestVariant(
        variant=variant,
        service_reference=reference,
        name=name,
        critical=flags[0] == "C",
        on_demand=flags[1] == "O",
        future_dated_response=future_dated,
        dcc_scheduled=flags[2] == "S",
        non_device=flags[3] == "N",
        eligible_roles=frozenset(Role(code) for code in roles.split()),
        body_elements=body_elements,
    )


# The catalogue, in the order of the public matrix.
# Flags: C critical, O on demand, S DCC scheduled, N non-device ('-' for no).
# fmt: off
CATALOGUE: tuple[ServiceRequestVariant, ...] = (
    #    SRV       ref.    flags   future dated       eligible roles
    #    name, body element(s)
    _srv("1.1.1",  "1.1",  "CO--", _F.DEVICE,         "IS GS",
         "Update Import Tariff (Primary Element)", "UpdateImportTariffPrimaryElement"),
    _srv("1.1.2",  "1.1",  "CO--", _F.DEVICE,         "IS",
         "Update Import Tariff (Secondary Element)", "UpdateImportTariffSecondaryElement"),
    _srv("1.2.1",  "1.2",  "CO--", _F.DEVICE,         "IS GS",
         "Update Price (Primary Element)", "UpdatePricePrimaryElement"),
    _srv("1.2.2",  "1.2",  "CO--", _F.DEVICE,         "IS",
         "Update Price (Secondary Element)", "UpdatePriceSecondaryElement"),
    _srv("1.5",    "1.5",  "CO--", _F.NONE,           "IS GS",
         "Update Meter Balance", "UpdateMeterBalance"),
    _srv("1.6",    "1.6",  "CO--", _F.DEVICE,         "IS GS",
         "Update Payment Mode", "UpdatePaymentMode"),
    _srv("1.7",    "1.7",  "CO--", _F.NONE,           "IS",
         "Reset Tariff Block Counter Matrix", "ResetTariffBlockCounterMatrix"),
    _srv("2.1",    "2.1",  "CO--", _F.DEVICE,         "IS GS",
         "Update Prepay Configuration", "UpdatePrepayConfiguration"),
    _srv("2.2",    "2.2",  "-O--", _F.NONE,           "IS GS",
         "Top Up Device", "TopUpDevice"),
    _srv("2.3",    "2.3",  "CO--", _F.NONE,           "IS GS",
         "Update Debt", "UpdateDebt"),
    _srv("2.5",    "2.5",  "CO--", _F.NONE,           "IS GS",
         "Activate Emergency Credit", "ActivateEmergencyCredit"),
    _srv("3.1",    "3.1",  "-O--", _F.DSP,            "IS GS",
         "Display Message", "DisplayMessage"),
    _srv("3.2",    "3.2",  "-O--", _F.DSP,            "IS GS",
         "Restrict Access For Change Of Tenancy", "RestrictAccessForChangeOfTenancy"),
    _srv("3.3",    "3.3",  "-O--", _F.NONE,           "IS GS",
         "Clear Event Log", "ClearEventLog"),
    _srv("3.4",    "3.4",  "-O--", _F.DSP,            "IS GS",
         "Update Supplier Name", "UpdateSupplierName"),
    _srv("3.5",    "3.5",  "-O--", _F.NONE,           "IS GS",
         "Disable Privacy PIN", "DisablePrivacyPIN"),
    _srv("4.1.1",  "4.1",  "-O--", _F.DSP,            "IS GS ED GT",
         "Read Instantaneous Import Registers", "ReadInstantaneousImportRegisters"),
    _srv("4.1.2",  "4.1",  "-O--", _F.DSP,            "IS GS ED GT",
         "Read Instantaneous Import TOU Matrices", "ReadInstantaneousImportTOUMatrices"),
    _srv("4.1.3",  "4.1",  "-O--", _F.DSP,            "IS ED",
         "Read Instantaneous Import TOU With Blocks Matrices",
         "ReadInstantaneousImportTOUWithBlocksMatrices"),
    _srv("4.1.4",  "4.1",  "-O--", _F.DSP,            "GS",
         "Read Instantaneous Import Block Counters", "ReadInstantaneousImportBlockCounters"),
    _srv("4.2",    "4.2",  "-O--", _F.DSP,            "ES ED",
         "Read Instantaneous Export Registers", "ReadInstantaneousExportRegisters"),
    _srv("4.3",    "4.3",  "-O--", _F.DSP,            "IS GS",
         "Read Instantaneous Prepay Values", "ReadInstantaneousPrepayValues"),
    _srv("4.4.2",  "4.4",  "-O--", _F.DSP,            "IS GS",
         "Retrieve Change Of Mode / Tariff Triggered Billing Data Log",
         "RetrieveCoMOrTariffTriggeredBillingDataLog"),
    _srv("4.4.3",  "4.4",  "-O--", _F.DSP,            "IS GS",
         "Retrieve Billing Calendar Triggered Billing Data Log",
         "RetrieveBillingCalendarTriggeredBillingDataLog"),
    _srv("4.4.4",  "4.4",  "-O--", _F.DSP,            "IS GS",
         "Retrieve Billing Data Log (Payment Based Debt Payments)",
         "RetrieveBillingDataLogDebtPayments"),
    _srv("4.4.5",  "4.4",  "-O--", _F.DSP,            "IS GS",
         "Retrieve Billing Data Log (Prepayment Credits)",
         "RetrieveBillingDataLogPrepaymentCredits"),
    _srv("4.6.1",  "4.6",  "-OS-", _F.DSP,            "IS GS",
         "Retrieve Import Daily Read Log", "RetrieveImportDailyReadLog"),
    _srv("4.6.2",  "4.6",  "-OS-", _F.DSP,            "ES",
         "Retrieve Export Daily Read Log", "RetrieveExportDailyReadLog"),
    _srv("4.8.1",  "4.8",  "-OS-", _F.DSP,            "IS GS ED GT OU",
         "Read Active Import Profile Data", "ReadActiveImportProfileData"),
    _srv("4.8.2",  "4.8",  "-OS-", _F.DSP,            "IS ED OU",
         "Read Reactive Import Profile Data", "ReadReactiveImportProfileData"),
    _srv("4.8.3",  "4.8",  "-OS-", _F.DSP,            "ES ED OU",
         "Read Export Profile Data", "ReadExportProfileData"),
    _srv("4.10",   "4.10", "-OS-", _F.DSP,            "IS GS ED GT",
         "Read Network Data", "ReadNetworkData", "RecordNetworkDataGAS"),
    _srv("4.11.1", "4.11", "-O--", _F.NONE,           "IS GS OU",
         "Read Tariff (Primary Element)", "ReadTariffPrimaryElement"),
    _srv("4.11.2", "4.11", "-O--", _F.NONE,           "IS OU",
         "Read Tariff (Secondary Element)", "ReadTariffSecondaryElement"),
    _srv("4.12.1", "4.12", "-OS-", _F.DSP,            "IS ED",
         "Read Maximum Demand Import Registers", "ReadMaximumDemandImportRegisters"),
    _srv("4.12.2", "4.12", "-OS-", _F.DSP,            "ES ED",
         "Read Maximum Demand Export Registers", "ReadMaximumDemandExportRegisters"),
    _srv("4.13",   "4.13", "-O--", _F.DSP,            "IS GS",
         "Read Prepayment Configuration", "ReadPrepaymentConfiguration"),
    _srv("4.14",   "4.14", "-OS-", _F.DSP,            "IS GS",
         "Read Prepayment Daily Read Log", "ReadPrepaymentDailyReadLog"),
    _srv("4.15",   "4.15", "-OS-", _F.DSP,            "IS ED",
         "Read Load Limit Data", "ReadLoadLimitData"),
    _srv("4.16",   "4.16", "-OS-", _F.NONE,           "IS ED",
         "Read Active Power Import", "ReadActivePowerImport"),
    _srv("4.17",   "4.17", "-OS-", _F.DSP,            "IS GS ED GT OU",
         "Retrieve Daily Consumption Log", "RetrieveDailyConsumptionLog"),
    _srv("4.18",   "4.18", "-O--", _F.DSP,            "IS GS",
         "Read Meter Balance", "ReadMeterBalance"),
    _srv("5.1",    "5.1",  "---N", _F.NONE,           "IS ES GS ED GT OU",
         "Create Schedule", "CreateSchedule"),
    _srv("5.2",    "5.2",  "---N", _F.NONE,           "IS ES GS ED GT OU",
         "Read Schedule", "ReadSchedule"),
    _srv("5.3",    "5.3",  "---N", _F.NONE,           "IS ES GS ED GT OU",
         "Delete Schedule", "DeleteSchedule"),
    _srv("6.2.1",  "6.2",  "-O--", _F.NONE,           "IS ED RSA",
         "Read Device Configuration (Voltage)", "ReadDeviceConfigurationVoltage"),
    _srv("6.2.2",  "6.2",  "-O--", _F.NONE,           "IS ED RSA",
         "Read Device Configuration (Randomisation)", "ReadDeviceConfigurationRandomisation"),
    _srv("6.2.3",  "6.2",  "-O--", _F.NONE,           "IS GS RSA",
         "Read Device Configuration (Billing Calendar)", "ReadDeviceConfigurationBillingCalendar"),
    _srv("6.2.4",  "6.2",  "-O--", _F.NONE,           "IS ES GS ED GT OU RSA",
         "Read Device Configuration (Identity Exc MPxN)", "ReadDeviceConfigurationIdentityExcMPxN"),
    _srv("6.2.5",  "6.2",  "-O--", _F.NONE,           "IS RSA",
         "Read Device Configuration (Instantaneous Power Thresholds)",
         "ReadDeviceConfigurationInstantaneousPowerThresholds"),
    _srv("6.2.7",  "6.2",  "-O--", _F.NONE,           "IS ES GS ED GT OU RSA",
         "Read Device Configuration (MPxN)", "ReadDeviceConfigurationMPxN"),
    _srv("6.2.8",  "6.2",  "-O--", _F.NONE,           "GS GT RSA",
         "Read Device Configuration (Gas)", "ReadDeviceConfigurationGas"),
    _srv("6.2.9",  "6.2",  "-O--", _F.NONE,           "IS GS RSA",
         "Read Device Configuration (Payment Mode)", "ReadDeviceConfigurationPaymentMode"),
    _srv("6.2.10", "6.2",  "-O--", _F.NONE,           "IS GS ED",
         "Read Device Configuration (Event and Alert Behaviours)",
         "ReadDeviceConfigurationEventAndAlertBehaviours"),
    _srv("6.4.1",  "6.4",  "CO--", _F.DEVICE,         "IS",
         "Update Device Configuration (Load Limiting General Settings)",
         "UpdateDeviceConfigurationLoadLimitingGeneralSettings"),
    _srv("6.4.2",  "6.4",  "-O--", _F.DSP,            "IS",
         "Update Device Configuration (Load Limiting Counter Reset)",
         "UpdateDeviceConfigurationLoadLimitingCounterReset"),
    _srv("6.5",    "6.5",  "-O--", _F.DSP,            "ED",
         "Update Device Configuration (Voltage)", "UpdateDeviceConfigurationVoltage"),
    _srv("6.6",    "6.6",  "CO--", _F.NONE,           "GS",
         "Update Device Configuration (Gas Conversion)", "UpdateDeviceConfigurationGasConversion"),
    _srv("6.7",    "6.7",  "CO--", _F.NONE,           "GS",
         "Update Device Configuration (Gas Flow)", "UpdateDeviceConfigurationGasFlow"),
    _srv("6.8",    "6.8",  "CO--", _F.NONE,           "IS GS",
         "Update Device Configuration (Billing Calendar)",
         "UpdateDeviceConfigurationBillingCalendar"),
    _srv("6.11",   "6.11", "CO--", _F.NONE,           "IS GS",
         "Synchronise Clock", "SynchroniseClock"),
    _srv("6.12",   "6.12", "-O--", _F.DSP,            "IS",
         "Update Device Configuration (Instantaneous Power Threshold)",
         "UpdateDeviceConfigurationInstantaneousPowerThreshold"),
    _srv("6.13",   "6.13", "-O--", _F.NONE,           "IS GS ED GT RSA",
         "Read Event Or Security Log", "ReadEventOrSecurityLog"),
    _srv("6.14.1", "6.14", "CO--", _F.NONE,           "IS",
         "Update Device Configuration (Auxiliary Load Control Description)",
         "UpdateDeviceConfigurationALCDescriptions"),
    _srv("6.14.2", "6.14", "CO--", _F.DEVICE,         "IS",
         "Update Device Configuration (Auxiliary Load Control Scheduler)",
         "UpdateDeviceConfigurationALCScheduler"),
    _srv("6.14.3", "6.14", "CO--", _F.DEVICE,         "IS",
         "Update Device Configuration (Auxiliary Controller Scheduler)",
         "UpdateDeviceConfigurationAuxiliaryControllerScheduler"),
    _srv("6.15.1", "6.15", "CO--", _F.DEVICE,         "IS GS ED GT",
         "Update Security Credentials (KRP)", "UpdateSecurityCredentialsKRP"),
    _srv("6.15.2", "6.15", "CO--", _F.NONE,           "IS GS",
         "Update Security Credentials (Device)", "UpdateSecurityCredentialsDevice"),
    _srv("6.17",   "6.17", "CO--", _F.NONE,           "IS GS",
         "Issue Security Credentials", "IssueSecurityCredentials"),
    _srv("6.18.1", "6.18", "-O--", _F.DSP,            "ED",
         "Set Maximum Demand Configurable Time Period", "SetMaximumDemandConfigurableTimePeriod"),
    _srv("6.18.2", "6.18", "-O--", _F.DSP,            "ED",
         "Reset Maximum Demand Registers", "ResetMaximumDemandRegisters"),
    _srv("6.20.1", "6.20", "-O--", _F.DSP,            "IS GS",
         "Set Device Configuration (Import MPxN)", "SetDeviceConfigurationImportMPxN"),
    _srv("6.20.2", "6.20", "-O--", _F.DSP,            "ES",
         "Set Device Configuration (Export MPAN)", "SetDeviceConfigurationExportMPAN"),
    _srv("6.21",   "6.21", "-O--", _F.DSP,            "IS GS",
         "Request Handover Of DCC Controlled Device", "RequestHandoverOfDCCControlledDevice"),
    _srv("6.22",   "6.22", "-O--", _F.NONE,           "IS GS ED",
         "Configure Alert Behaviour", "ConfigureAlertBehaviour"),
    _srv("6.23",   "6.23", "-O--", _F.DSP_AND_DEVICE, "IS GS",
         "Update Security Credentials (CoS)", "UpdateSecurityCredentialsCoS"),
    _srv("6.24.1", "6.24", "-O--", _F.NONE,           "IS GS ED GT",
         "Retrieve Device Security Credentials (KRP)", "RetrieveDeviceSecurityCredentialsKRP"),
    _srv("6.24.2", "6.24", "CO--", _F.NONE,           "IS GS",
         "Retrieve Device Security Credentials (Device)",
         "RetrieveDeviceSecurityCredentialsDevice"),
    _srv("6.25",   "6.25", "CO--", _F.NONE,           "IS",
         "Set Electricity Supply Tamper State", "SetElectricitySupplyTamperState"),
    _srv("6.26",   "6.26", "CO--", _F.NONE,           "IS",
         "Update Device Configuration (daily resetting of Tariff Block Counter Matrix)",
         "UpdateDeviceConfigurationDailyResettingOfTariffBlockCounterMatrix"),
    _srv("6.27",   "6.27", "-O--", _F.DSP,            "ED",
         "Update Device Configuration (RMS Voltage Counter Reset)",
         "UpdateDeviceConfigurationRMSVoltageCounterReset"),
    _srv("6.28",   "6.28", "-O--", _F.NONE,           "IS GS",
         "Set CHF Sub GHz Configuration", "SetCHFSubGHzConfiguration"),
    _srv("6.29",   "6.29", "-O--", _F.NONE,           "IS GS",
         "Request CHF Sub GHz Channel Scan", "RequestCHFSubGHzChannelScan"),
    _srv("6.30",   "6.30", "-O--", _F.NONE,           "IS GS RSA",
         "Read CHF Sub GHz Configuration", "ReadCHFSubGHzConfiguration"),
    _srv("6.31",   "6.31", "-O--", _F.NONE,           "IS GS RSA",
         "Read CHF Sub GHz Channel", "ReadCHFSubGHzChannel"),
    _srv("6.32",   "6.32", "-O--", _F.NONE,           "IS GS RSA",
         "Read CHF Sub GHz Channel Log", "ReadCHFSubGHzChannelLog"),
    _srv("7.1",    "7.1",  "CO--", _F.NONE,           "IS",
         "Enable Supply", "EnableSupply"),
    _srv("7.2",    "7.2",  "CO--", _F.NONE,           "IS GS",
         "Disable Supply", "DisableSupply"),
    _srv("7.3",    "7.3",  "CO--", _F.NONE,           "IS GS",
         "Arm Supply", "ArmSupply"),
    _srv("7.4",    "7.4",  "-O--", _F.NONE,           "IS ES GS ED GT RSA",
         "Read Supply Status", "ReadSupplyStatus"),
    _srv("7.5",    "7.5",  "CO--", _F.NONE,           "IS",
         "Activate Auxiliary Load", "ActivateAuxiliaryLoad"),
    _srv("7.6",    "7.6",  "CO--", _F.NONE,           "IS",
         "Deactivate Auxiliary Load", "DeactivateAuxiliaryLoad"),
    _srv("7.7",    "7.7",  "-O--", _F.DSP,            "IS ED OU",
         "Read Auxiliary Load Switch Data", "ReadALCSData"),
    _srv("7.8",    "7.8",  "CO--", _F.NONE,           "IS",
         "Reset Auxiliary Load", "ResetAuxiliaryLoad"),
    _srv("7.9",    "7.9",  "-O--", _F.DSP,            "IS",
         "Add Auxiliary Load To Boost Button", "AddAuxiliaryLoadToBoostButton"),
    _srv("7.10",   "7.10", "-O--", _F.DSP,            "IS",
         "Remove Auxiliary Load From Boost Button", "RemoveAuxiliaryLoadFromBoostButton"),
    _srv("7.11",   "7.11", "-O--", _F.DSP,            "IS OU",
         "Read Boost Button Details", "ReadBoostButtonDetails"),
    _srv("7.12",   "7.12", "CO--", _F.NONE,           "IS",
         "Set Randomised Offset Limit", "SetRandomisedOffsetLimit"),
    _srv("7.13",   "7.13", "CO--", _F.NONE,           "IS",
         "Set Auxiliary Controller State", "SetAuxiliaryControllerState"),
    _srv("7.14",   "7.14", "-O--", _F.DSP,            "IS ED OU",
         "Read Auxiliary Controller Configuration Data",
         "ReadAuxiliaryControllerConfigurationData"),
    _srv("7.15",   "7.15", "-O--", _F.DSP,            "IS ED OU",
         "Read Auxiliary Controller Operational Data", "ReadAuxiliaryControllerOperationalData"),
    _srv("7.16",   "7.16", "CO--", _F.NONE,           "",
         "Limit APC Level", "LimitAPCLevel"),
    _srv("8.1.1",  "8.1",  "CO--", _F.NONE,           "IS GS",
         "Commission Device", "CommissionDeviceSynchroniseClock"),
    _srv("8.2",    "8.2",  "---N", _F.NONE,           "IS ES GS ED GT OU RSA",
         "Read Inventory (Current and Future Suppliers may use this Service Request)",
         "ReadInventory"),
    _srv("8.3",    "8.3",  "---N", _F.NONE,           "IS GS",
         "Decommission Device", "DecommissionDevice"),
    _srv("8.4",    "8.4",  "---N", _F.NONE,           "IS ES GS ED GT OU RSA",
         "Update Inventory", "UpdateInventory"),
    _srv("8.5",    "8.5",  "----", _F.DSP,            "",
         "Service Opt Out", "ServiceOptOut"),
    _srv("8.6",    "8.6",  "---N", _F.NONE,           "",
         "Service Opt In", "ServiceOptIn"),
    _srv("8.7.1",  "8.7",  "CO--", _F.NONE,           "IS GS",
         "Join Service (Critical)", "JoinServiceCritical"),
    _srv("8.7.2",  "8.7",  "-O--", _F.NONE,           "IS GS OU",
         "Join Service (Non-Critical)", "JoinServiceNonCritical"),
    _srv("8.8.1",  "8.8",  "CO--", _F.NONE,           "IS GS",
         "Unjoin Service (Critical)", "UnjoinServiceCritical"),
    _srv("8.8.2",  "8.8",  "-O--", _F.NONE,           "IS GS OU",
         "Unjoin Service (Non-Critical)", "UnjoinServiceNonCritical"),
    _srv("8.9",    "8.9",  "-O--", _F.DSP,            "IS GS OU",
         "Read Device Log", "ReadDeviceLog"),
    _srv("8.11",   "8.11", "-O--", _F.DSP,            "IS GS OU",
         "Update HAN Device Log", "UpdateHANDeviceLog"),
    _srv("8.12.1", "8.12", "-O--", _F.NONE,           "IS GS",
         "Restore HAN Device Log", "RestoreHANDeviceLog"),
    _srv("8.12.2", "8.12", "-O--", _F.NONE,           "IS GS",
         "Restore Gas Proxy Function Device Log", "RestoreGPFDeviceLog"),
    _srv("8.13",   "8.13", "---N", _F.NONE,           "IS GS",
         "Return Local Command Response", "ReturnLocalCommandResponse"),
    _srv("8.14.1", "8.14", "---N", _F.NONE,           "IS GS",
         "Communications Hub Status Update- Install Success", "CHFInstallSuccessSMWAN"),
    _srv("8.14.2", "8.14", "---N", _F.NONE,           "IS GS",
         "Communications Hub Status Update - Install No SM WAN", "CHFInstallSuccessNoSMWAN"),
    _srv("8.14.3", "8.14", "---N", _F.NONE,           "IS GS",
         "Communications Hub Status Update. – Fault Return", "CHFFaultReturn"),
    _srv("8.14.4", "8.14", "---N", _F.NONE,           "IS GS",
         "Communications Hub Status Update – No Fault Return", "CHFNoFaultReturn"),
    _srv("9.1",    "9.1",  "-O--", _F.NONE,           "OU",
         "Request Customer Identification Number", "RequestCustomerIdentificationNumber"),
    _srv("11.1",   "11.1", "---N", _F.NONE,           "IS GS",
         "Update Firmware", "UpdateFirmware"),
    _srv("11.2",   "11.2", "-O--", _F.DSP,            "IS ES GS ED GT OU RSA",
         "Read Firmware Version", "ReadFirmwareVersion"),
    _srv("11.3",   "11.3", "CO--", _F.DEVICE,         "IS GS",
         "Activate Firmware", "ActivateFirmware"),
    _srv("11.4",   "11.4", "---N", _F.NONE,           "IS GS",
         "Update PPMID Firmware", "UpdatePPMIDFirmware"),
    _srv("12.1",   "12.1", "---N", _F.NONE,           "IS ES GS ED GT OU RSA",
         "Request WAN Matrix", "RequestWANMatrix"),
    _srv("12.2",   "12.2", "---N", _F.NONE,           "IS ES GS ED GT OU RSA",
         "Device Pre-notification", "DevicePrenotification"),
    _srv("14.1",   "14.1", "-OS-", _F.NONE,           "GT",
         "Record Network Data (GAS)", "RecordNetworkDataGAS"),
)
# fmt: on


def _index_by_variant(rows: tuple[ServiceRequestVariant, ...]) -> dict[str, ServiceRequestVariant]:
    index: dict[str, ServiceRequestVariant] = {}
    for row in rows:
        if row.variant in index:
            raise ValueError(f"SRV {row.variant} appears twice in the catalogue")
        index[row.variant] = row
    return index


def _index_by_body_element(
    rows: tuple[ServiceRequestVariant, ...],
) -> dict[str, tuple[ServiceRequestVariant, ...]]:
    index: dict[str, tuple[ServiceRequestVariant, ...]] = {}
    for row in rows:
        for element in row.body_elements:
            index[element] = (*index.get(element, ()), row)
    return index


_BY_VARIANT = _index_by_variant(CATALOGUE)
_BY_BODY_ELEMENT = _index_by_body_element(CATALOGUE)
