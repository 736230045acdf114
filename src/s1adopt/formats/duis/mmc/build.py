"""What every MMC renderer shares: the render context, reading the answers, writing elements.

Rules:
- every element is ``ra:`` (the MMC schema is ``elementFormDefault="qualified"``, so its local
  elements are in its namespace too);
- an answer that lacks what a renderer needs, or holds a value of the wrong kind or outside
  what the schema can carry, raises ``ValueError`` naming the SRV, the field and the problem:
  nothing is guessed, rounded or cut, and no invalid document is built;
- numbers are ints (never bools); times are ISO 8601 UTC and are written back in UTC with
  ``Z``; decimals are written from integers by moving the decimal point, so they are exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from s1adopt.domain.duis import MMC_NAMESPACE
from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.identities import Eui64

RA = "{" + MMC_NAMESPACE + "}"
NSMAP = {"ra": MMC_NAMESPACE}
ELECTRICITY, GAS = "ESME", "GSME"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
Answer = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RenderContext:
    """What a renderer knows besides the device's answers."""

    srv: str  # e.g. "4.1.1"
    device_type: str  # "ESME", "GSME", "CHF", "GPF", "PPMID", ...
    values: Mapping[str, Any]  # the request's values (SPEC's table)
    tou_registers: int  # the model's number of time-of-use registers
    profile_stamp: str  # "start" or "end": the model's half-hour interval stamp rule
    at: datetime  # when the S1SP builds the response (timezone-aware)


# --- writing ------------------------------------------------------------------------------------


def element(name: str, **attributes: str) -> etree._Element:
    """A free-standing ``ra:`` element (declaring the prefix)."""
    return etree.Element(RA + name, attributes, nsmap=NSMAP)


def sub(
    parent: etree._Element, name: str, text: str | None = None, **attributes: str
) -> etree._Element:
    """A new ``ra:`` child of ``parent`` with optional text and attributes."""
    child = etree.SubElement(parent, RA + name, attributes)
    if text is not None:
        child.text = text
    return child


def xml_text(text: str, limit: int) -> str:
    """``text`` without characters XML cannot hold, cut to ``limit`` characters (with "...")."""
    cleaned = _NOT_XML.sub("?", text).strip() or "-"
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 3] + "..."
    return cleaned


def utc_text(moment: datetime) -> str:
    """A timezone-aware time in UTC with ``Z`` (milliseconds only when it has a fraction)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an MMC time must be timezone-aware")
    utc = moment.astimezone(UTC)
    if utc.microsecond:
        return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"
    return f"{utc:%Y-%m-%dT%H:%M:%S}Z"


def decimal_text(value: int, places: int) -> str:
    """``value / 10**places`` written exactly with ``places`` decimals (1234, 3 -> 1.234)."""
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), 10**places)
    return f"{sign}{whole}.{fraction:0{places}d}" if places else f"{sign}{whole}"


def litres_as_m3(litres: int) -> str:
    """Litres as cubic metres with three decimals (exact: 1 m3 = 1000 L)."""
    return decimal_text(litres, 3)


def scaled(values: Sequence[int], exponent: int, bound: int) -> tuple[list[int], int]:
    """``values`` (each ``v * 10**exponent`` of a unit) written with one shared scale so that
    every one fits ``bound``: trailing zeros move into the scale, exactly, or ``ValueError``."""
    current = list(values)
    while any(abs(v) > bound for v in current):
        if any(v % 10 for v in current):
            raise ValueError(f"{list(values)} cannot be written exactly within {bound}")
        current = [v // 10 for v in current]
        exponent += 1
    return current, exponent


# --- reading ------------------------------------------------------------------------------------


class Reader:
    """Reads the answers of one SRV, naming the SRV and the field in every problem."""

    def __init__(self, ctx: RenderContext, answers: Sequence[Answer]) -> None:
        self.ctx = ctx
        self.answers = answers

    def fail(self, problem: str) -> ValueError:
        return ValueError(f"SRV {self.ctx.srv}: {problem}")

    def first(self) -> Answer:
        """The first step's answer."""
        if not self.answers:
            raise self.fail("the device gave no answer")
        answer = self.answers[0]
        if not isinstance(answer, Mapping):
            raise self.fail(f"an answer must be an object, not {type(answer).__name__}")
        return answer

    def every(self, key: str) -> Iterator[Mapping[str, Any]]:
        """The items of the list ``key`` of every answer, in order (a read split into steps)."""
        if not self.answers:
            raise self.fail("the device gave no answer")
        for answer in self.answers:
            if not isinstance(answer, Mapping):
                raise self.fail(f"an answer must be an object, not {type(answer).__name__}")
            items = field(self, answer, key, list)
            for item in items:
                if not isinstance(item, Mapping):
                    raise self.fail(f"every item of {key!r} must be an object")
                yield item

    def setting(self, name: str) -> Any:
        """The value of setting ``name`` in the answers of ``read_settings``."""
        for answer in self.answers:
            settings = answer.get("settings") if isinstance(answer, Mapping) else None
            if isinstance(settings, Mapping) and name in settings:
                return settings[name]
        raise self.fail(f"the answer lacks the setting {name!r}")

    def meter(self) -> str:
        """The device type when it is a meter (the MMC branches Electricity and Gas)."""
        if self.ctx.device_type not in (ELECTRICITY, GAS):
            raise self.fail(f"has no MMC form for a {self.ctx.device_type}, only for meters")
        return self.ctx.device_type

    def unit(self, answer: Answer) -> str:
        """The meter's unit in ``answer`` (Wh for an ESME, L for a GSME), checked."""
        expected = "Wh" if self.meter() == ELECTRICITY else "L"
        found = answer.get("unit", expected)
        if found != expected:
            raise self.fail(f"a {self.ctx.device_type} answers in {expected}, not {found!r}")
        return expected


def field(reader: Reader, answer: Mapping[str, Any], key: str, kind: type[Any]) -> Any:
    """``answer[key]``, of ``kind``, or ``ValueError`` naming what is wrong."""
    if key not in answer:
        raise reader.fail(f"the answer lacks {key!r}")
    value = answer[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise reader.fail(f"{key!r} must be an integer, not {value!r}")
    if not isinstance(value, kind):
        raise reader.fail(f"{key!r} must be a {kind.__name__}, not {type(value).__name__}")
    return value


def integer(reader: Reader, answer: Mapping[str, Any], key: str, low: int | None = None) -> int:
    """An integer field, at least ``low`` when given."""
    value: int = field(reader, answer, key, int)
    if low is not None and value < low:
        raise reader.fail(f"{key!r} must be at least {low}, not {value}")
    return value


def moment(reader: Reader, answer: Mapping[str, Any], key: str) -> str:
    """An ISO 8601 time field written back in UTC with ``Z``."""
    text: str = field(reader, answer, key, str)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise reader.fail(f"{key!r} is not an ISO 8601 time: {text!r}") from None
    if parsed.tzinfo is None:
        raise reader.fail(f"{key!r} has no time zone: {text!r}")
    return utc_text(parsed)


def plain(reader: Reader, answer: Mapping[str, Any], key: str) -> str:
    """A text field that XML can hold as it is (an identifier: never altered)."""
    text: str = field(reader, answer, key, str)
    if _NOT_XML.search(text):
        raise reader.fail(f"{key!r} holds characters XML cannot carry")
    return text


def eui(reader: Reader, answer: Mapping[str, Any], key: str) -> str:
    """A device identifier field as the MMC writes it (``XX-XX-...``)."""
    text: str = field(reader, answer, key, str)
    try:
        return Eui64.parse(text).value
    except InvalidIdentity as exc:
        raise reader.fail(f"{key!r}: {exc}") from None


def bounded(reader: Reader, items: Sequence[Any], what: str, limit: int) -> None:
    """``ValueError`` when an MMC list would hold more than its schema allows."""
    if len(items) > limit:
        raise reader.fail(f"{len(items)} {what}; the MMC response holds at most {limit}")
