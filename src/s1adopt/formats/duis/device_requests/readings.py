"""The log reads (4.6.1, 4.8.1, 4.17 and 6.13): a period, and for 6.13 the log to read.

Rules: the period is ``from``/``to`` (ReadLogPeriod's StartDateTime/EndDateTime), ``from`` not
after ``to``. A KAPublicSecurityCredentials (a certificate to encrypt the response to an
unknown remote party) is refused: the SMETS1 service does not encrypt responses to it.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from s1adopt.formats.duis.device_requests.fields import Node, Values, add, iso
from s1adopt.formats.duis.requests import InvalidField

LOGS = {name: name for name in ("Event", "ALCSEvent", "PowerEvent", "Security")} | {
    name: name for name in ("GSMEEvent", "GSMESecurity")
}


def read_period(node: Node) -> dict[str, Any]:
    """ReadLogPeriod as ``from`` and ``to``."""
    period = node.node("ReadLogPeriod", ("StartDateTime", "EndDateTime"))
    start, end = period.date_time("StartDateTime"), period.date_time("EndDateTime")
    if start > end:  # same fixed-width UTC texts: text order is time order
        raise InvalidField(period.field("StartDateTime"), "must not be after EndDateTime")
    return {"from": start, "to": end}


def read_log(node: Node) -> dict[str, Any]:
    """4.6.1, 4.8.1, 4.17: the period; no unknown remote party's certificate."""
    values = read_period(node)
    if node.has("KAPublicSecurityCredentials"):
        raise InvalidField(
            node.field("KAPublicSecurityCredentials"),
            "the SMETS1 service does not encrypt responses for an unknown remote party",
        )
    return values


def build_period(values: Values, body: etree._Element, fuel: str) -> None:
    """ReadLogPeriod from ``from`` and ``to``."""
    start, end = values.time("from"), values.time("to")
    if start > end:
        raise ValueError("from: must not be after to")
    period = add(body, "ReadLogPeriod")
    add(period, "StartDateTime", iso(start))
    add(period, "EndDateTime", iso(end))


def read_event_log(node: Node) -> dict[str, Any]:
    """6.13: the period and LogToRead as given."""
    return {**read_period(node), "log": node.choice("LogToRead", LOGS)}


def build_event_log(values: Values, body: etree._Element, fuel: str) -> None:
    """6.13."""
    build_period(values, body, fuel)
    add(body, "LogToRead", values.one_of("log", LOGS))
