"""MMC (Message Mapping Catalogue V5.4) payloads of SMETS1 responses and alerts.

A SMETS1 response carries, in ``SMETS1Response/Body/ResponseMessage`` (type
``ra:ResponsePayload``), an ``ra:SMETSData`` holding the SRV's ``...Rsp`` element, and on
failure an ``ra:DebugInfo/SMETS1Debug/SMETS1Response`` naming the failed step; an alert carries
``ra:DeviceAlertContent``. Every element is in the MMC namespace (prefix ``ra``): the MMC schema
is ``elementFormDefault="qualified"``.

Rules:
- the values are the device's answers, converted exactly; nothing is invented, rounded or cut
  (texts excepted: log meanings, alert descriptions and error messages are made XML-safe and
  cut to their field). An answer lacking what the Rsp needs, or holding a value the MMC cannot
  carry exactly, raises ``ValueError`` naming the SRV and the problem (the service answers it
  as an error); optional MMC fields the device does not give are left out;
- a Rsp holds ``MessageSuccess="true"`` on success and ``"false"`` on failure;
- lists are bounded as the schema bounds them (profile 19,056 entries, daily read log 31,
  daily consumption 731 days, event log 100 entries): a longer answer raises ``ValueError``.

Units and conversions (device -> MMC):
- electricity energy: Wh -> Wh, unchanged (the MMC's ``ActiveEnergyUnit`` is Wh, its register
  values integers): registers (4.1.1), TOU registers (4.1.2, 4.1.3), daily reads (4.6.1),
  profile ``PrimaryValue`` (4.8.1) and daily consumption (4.17);
- gas volume: litres -> m3 with exactly three decimals (1234 L -> ``1.234``), the MMC's gas
  ``Unit`` being m3 and its gas values decimals: 4.1.1, 4.1.2, 4.6.1, 4.8.1, 4.17;
- power: W -> W (4.16, ``Unit`` ``W``; 6.2.5; 4.15's ``LoadLimitPowerThreshold``);
  voltage: V -> V (6.2.1); periods: seconds -> seconds;
- money without a unit in the MMC (balances, debt, prepayment thresholds: 4.3, 4.13, 4.18):
  pence -> pence, as the project reads DUIS requests' money;
- ESME tariff (4.11.1): GBP with the schema's scales: prices (hundredths of a penny per kWh)
  with ``PriceScale`` -4, the standing charge (pence per day) with ``StandingChargeScale`` -2;
  a value over the 16-bit ``PriceType`` moves its trailing zeros into the scale (exactly) or
  is refused;
- GSME tariff (4.11.1): millipence, as DUIS writes gas prices (no scale field): TOU prices x10,
  standing charge x1000;
- gas settings (6.2.8): calorific value (MJ/m3 x1000) -> MJ/m3 with three decimals; conversion
  factor (x1,000,000) -> six decimals; uncontrolled gas flow rate (m3/h x1000) -> m3/h with
  three decimals;
- times: ISO 8601 -> UTC with ``Z``; a profile entry's ``Timestamp`` is the interval's own
  stamp (its start or its end, by the model's rule, as the device gave it); a day's consumption
  (4.17) is stamped with the midnight that closed the day; billing calendar days of the week
  are numbered 1 (Monday) to 7.
The per-SRV choices are stated in ``readings``, ``billing``, ``configuration`` and ``device``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

from lxml import etree

from s1adopt.formats.duis.mmc.build import (
    ELECTRICITY,
    GAS,
    Reader,
    RenderContext,
    element,
    sub,
    utc_text,
    xml_text,
)
from s1adopt.formats.duis.mmc.catalogue import CATALOGUE, MmcResponse, OnFailure

__all__ = [
    "RESPONSE_ELEMENTS",
    "RenderContext",
    "alert_payload",
    "failure_payload",
    "response_payload",
]

RESPONSE_ELEMENTS: Mapping[str, str] = MappingProxyType(
    {srv: row.element for srv, row in CATALOGUE.items()}
)
MAX_ERROR_TEXT = 250  # ra:StatusSMETS1/Error
MAX_ALERT_DESCRIPTION = 250  # ra:DeviceAlertContentType/AlertDescription
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_ALERT_BRANCHES = {
    ELECTRICITY: "ElectricitySupplierAlertEventSettings",
    GAS: "GasSupplierAlertEventSettings",
}
_METER_BRANCHES = {ELECTRICITY: "Electricity", GAS: "Gas"}


def response_payload(
    ctx: RenderContext, answers: Sequence[Mapping[str, Any]]
) -> list[etree._Element]:
    """The children of a successful SMETS1 response's ``Body/ResponseMessage``: ``ra:SMETSData``
    holding the SRV's Rsp (``MessageSuccess="true"``) built from the steps' answers, in order.

    ``ValueError`` names the problem when the SRV has no MMC response here or an answer lacks
    (or cannot carry) what the Rsp needs.
    """
    row = _row(ctx.srv)
    smets = element("SMETSData")
    rsp = sub(smets, row.element, MessageSuccess="true")
    row.render(Reader(ctx, answers), rsp)
    return [smets]


def failure_payload(
    ctx: RenderContext, position: int, code: int, message: str
) -> list[etree._Element]:
    """The children of a failed SMETS1 response's ``Body/ResponseMessage``: ``ra:SMETSData``
    holding the SRV's Rsp with ``MessageSuccess="false"`` (empty, or as little as the schema
    requires), then ``ra:DebugInfo/SMETS1Debug/SMETS1Response`` with the failure's
    ``ResponseCode`` and ``Position`` (the failed step, from 1) and ``Error`` (the message,
    XML-safe, cut to 250 characters).

    Where the schema requires a meter's branch and the device is no meter, ``SMETSData`` is
    left out (it is optional) and the debug information alone reports the failure.
    """
    row = _row(ctx.srv)
    if isinstance(position, bool) or not isinstance(position, int) or position < 1:
        raise ValueError(f"the failed step's position counts from 1, not {position!r}")
    if isinstance(code, bool) or not isinstance(code, int):
        raise ValueError(f"a SMETS1 response code is an integer, not {code!r}")
    payload = []
    smets = _failed_rsp(ctx, row, code)
    if smets is not None:
        payload.append(smets)
    debug = element("DebugInfo")
    status = sub(
        sub(debug, "SMETS1Debug"), "SMETS1Response", ResponseCode=str(code), Position=str(position)
    )
    sub(status, "Error", xml_text(message, MAX_ERROR_TEXT))
    payload.append(debug)
    return payload


def alert_payload(description: str, at: datetime, code: str | None = None) -> list[etree._Element]:
    """The children of an S1SP's ``DeviceAlertMessage`` (``ra:DeviceAlertMessageType``):
    ``ra:DeviceAlertContent`` with the GBCS alert code (hex, when given), the description
    (XML-safe, cut to 250 characters) and the time of the alert (timezone-aware, written in UTC).
    """
    content = element("DeviceAlertContent")
    if code is not None:
        if _HEX.fullmatch(code) is None:
            raise ValueError(f"a GBCS alert code is hex digits in pairs, e.g. 8F35, not {code!r}")
        sub(content, "GBCSHexAlertCode", code.upper())
    sub(content, "AlertDescription", xml_text(description, MAX_ALERT_DESCRIPTION))
    sub(content, "Timestamp", utc_text(at))
    return [content]


def _row(srv: str) -> MmcResponse:
    row = CATALOGUE.get(srv)
    if row is None:
        raise ValueError(f"SRV {srv} has no SMETS1 MMC response here")
    return row


def _failed_rsp(ctx: RenderContext, row: MmcResponse, code: int) -> etree._Element | None:
    smets = element("SMETSData")
    rsp = sub(smets, row.element, MessageSuccess="false")
    kind = row.on_failure
    if kind in (OnFailure.JOIN_STATUS, OnFailure.UNJOIN_STATUS):
        status = sub(rsp, kind.value, ResponseCode=str(code))
        sub(status, "ASN1Status", "notKnown")
    elif kind is not OnFailure.NOTHING:
        branches = _METER_BRANCHES if kind is OnFailure.METER_BRANCH else _ALERT_BRANCHES
        branch = branches.get(ctx.device_type)
        if branch is None:
            return None
        sub(rsp, branch)
    return smets
