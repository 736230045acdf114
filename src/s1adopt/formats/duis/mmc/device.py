"""Renderers of what any device answers: identity, meter point, clock, logs, supply, HAN and
firmware.

Rules:
- identifiers are written as the MMC's EUI (``XX-XX-...``); a text longer than its MMC field
  (a model name over 8 characters, a firmware version over 8 in 11.3's optional field) is left
  out rather than cut, since a cut identifier would name something else;
- a log entry's meaning is the device's kind of event and its other information the device's
  detail, each made XML-safe and cut to the MMC's 200 characters (texts, not readings);
- the success of a join, unjoin or firmware activation is the ASN.1 status ``success`` (0);
- an 8.9 device log lists the devices with their types; an IHD is a ``Type2`` device.
"""

from __future__ import annotations

from lxml import etree

from s1adopt.formats.duis.mmc.build import (
    ELECTRICITY,
    Reader,
    bounded,
    eui,
    field,
    moment,
    plain,
    sub,
    xml_text,
)

MAX_LOG_ENTRIES = 100
MAX_MODEL_TYPE = 8
MAX_MANUFACTURER = 32
MAX_MPAN = 13
MAX_MPRN = 10
MAX_FIRMWARE_VERSION = 8  # ra:FirmwareVersion, in 11.3
MAX_LOG_TEXT = 200
_SUPPLY = {"enabled": "Enabled", "disabled": "Disabled", "armed": "Armed"}
_HAN_TYPES = {
    "ESME": "ESME",
    "GSME": "GSME",
    "GPF": "GPF",
    "CHF": "CHF",
    "HCALCS": "HCALCS",
    "PPMID": "PPMID",
    "IHD": "Type2",
    "Type2": "Type2",
}


def identity(r: Reader, rsp: etree._Element) -> None:
    """6.2.4: device identifier, model and manufacturer."""
    answer = r.first()
    sub(rsp, "DeviceIdentifier", eui(r, answer, "deviceId"))
    model = plain(r, answer, "model")
    if 0 < len(model) <= MAX_MODEL_TYPE:
        sub(rsp, "ModelType", model)
    manufacturer = plain(r, answer, "manufacturer")
    if 0 < len(manufacturer) <= MAX_MANUFACTURER:
        sub(rsp, "ManufacturerIdentifier", manufacturer)


def meter_point(r: Reader, rsp: etree._Element) -> None:
    """6.2.7: the import MPAN of an ESME, the MPRN of a GSME (none when the device holds none)."""
    answer = r.first()
    if "mpxn" not in answer:
        raise r.fail("the answer lacks 'mpxn'")
    mpxn = answer["mpxn"]
    electricity = r.meter() == ELECTRICITY
    branch = sub(rsp, "Electricity" if electricity else "Gas")
    if mpxn is None or mpxn == "":
        return
    if not isinstance(mpxn, str) or not mpxn.isascii() or not mpxn.isdigit():
        raise r.fail(f"'mpxn' must be digits, not {mpxn!r}")
    limit = MAX_MPAN if electricity else MAX_MPRN
    if len(mpxn) > limit:
        raise r.fail(f"'mpxn' {mpxn} is longer than the MMC's {limit} digits")
    sub(branch, "ImportMPAN" if electricity else "MPRN", mpxn)


def clock(r: Reader, rsp: etree._Element) -> None:
    """6.11: the time the device's clock was set to."""
    sub(rsp, "DeviceTime", moment(r, r.first(), "time"))


def event_log(r: Reader, rsp: etree._Element) -> None:
    """6.13: the event or security log entries in the period, as the device gave them."""
    entries = list(r.every("events"))
    bounded(r, entries, "log entries", MAX_LOG_ENTRIES)
    log = sub(rsp, "Log")
    for event in entries:
        entry = sub(log, "LogEntry")
        sub(entry, "Timestamp", moment(r, event, "time"))
        sub(entry, "LogMeaning", xml_text(field(r, event, "kind", str), MAX_LOG_TEXT))
        detail = event.get("detail")
        if detail is not None and not isinstance(detail, str):
            raise r.fail(f"'detail' must be a str, not {type(detail).__name__}")
        if detail:
            sub(entry, "OtherInformationLogMeaning", xml_text(detail, MAX_LOG_TEXT))


def supply_status(r: Reader, rsp: etree._Element) -> None:
    """7.4: the supply state."""
    r.meter()
    state = field(r, r.first(), "supply", str)
    if state not in _SUPPLY:
        raise r.fail(f"unknown supply state {state!r}")
    sub(rsp, "SupplyState", _SUPPLY[state])


def joined(r: Reader, rsp: etree._Element) -> None:
    """8.7.1, 8.7.2: the hub joined the device."""
    field(r, r.first(), "joined", str)
    _success(sub(rsp, "joinResponseCode"))


def unjoined(r: Reader, rsp: etree._Element) -> None:
    """8.8.1, 8.8.2: the hub removed the device."""
    field(r, r.first(), "unjoined", str)
    _success(sub(rsp, "unjoinResponseCode"))


def han_log(r: Reader, rsp: etree._Element) -> None:
    """8.9: the devices on the hub's HAN and their types."""
    devices = list(r.every("devices"))
    log = sub(rsp, "DeviceLogEntries")
    for device in devices:
        kind = field(r, device, "deviceType", str)
        if kind not in _HAN_TYPES:
            raise r.fail(f"device type {kind!r} has no MMC device log form")
        entry = sub(log, "LogEntry")
        sub(entry, "DeviceID", eui(r, device, "device"))
        sub(entry, "DeviceType", _HAN_TYPES[kind])


def firmware_version(r: Reader, rsp: etree._Element) -> None:
    """11.2: the firmware version the device runs (none for a device without one)."""
    answer = r.first()
    if "firmware" not in answer:
        raise r.fail("the answer lacks 'firmware'")
    if answer["firmware"] is None:
        return
    version = plain(r, answer, "firmware")
    if version:
        sub(rsp, "FirmwareVersion", version)


def firmware_activated(r: Reader, rsp: etree._Element) -> None:
    """11.3: the image was activated; its version when it fits the MMC's field."""
    version = plain(r, r.first(), "firmware")
    _success(sub(rsp, "ActivateImageResponseCode"))
    if 0 < len(version) <= MAX_FIRMWARE_VERSION:
        sub(rsp, "FirmwareVersion", version)


def _success(status: etree._Element) -> None:
    status.set("ResponseCode", "0")
    sub(status, "ASN1Status", "success")
