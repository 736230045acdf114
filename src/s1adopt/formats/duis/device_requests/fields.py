"""The parts every device request body is made of: checked readers of DUIS elements, a taker
of request values, the builders of elements, and the one row type (``Codec``) per SRV.

Rules:
- a reader names the field it reads as a path from the body element
  (``UpdateSupplierName/SupplierName``, ``.../TOUPrice[2]``) in every ``InvalidField``;
- an element is read only if it is in the DUIS namespace and one of the names allowed where it
  stands, at most as often as allowed; an element that should hold text holds text only (no
  element, comment or processing instruction), one that should hold elements holds no text;
- a typed value (number, time, code) loses surrounding XML whitespace (space, tab, line
  feed, carriage return) and nothing else; a text is bounded before anything else is done
  with it, and a message quotes at most 40 characters of it through ``repr`` (control
  characters escaped);
- times: an ``xs:dateTime`` without a zone is read as UTC (DUIS times are UTC), one with an
  offset is converted to UTC, fractions of a second are dropped (SMETS1 devices keep time to
  the second); values carry them as ``YYYY-MM-DDTHH:MM:SSZ``;
- builders take values with ``Values``, which raises ``ValueError`` naming the key for a
  missing, mistyped or out-of-range value and for any key the body cannot carry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

from lxml import etree

from s1adopt.domain.duis import DUIS_NAMESPACE
from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.identities import Eui64, Mpan, Mprn
from s1adopt.formats.duis.requests import InvalidField

SR = "{" + DUIS_NAMESPACE + "}"
NSMAP = {"sr": DUIS_NAMESPACE}
FUELS = {"ESME": "electricity", "GSME": "gas"}
XML_SPACE = " \t\n\r"  # the whitespace XML Schema collapses; no other
T = TypeVar("T")

_QUOTE = 40
_NUMBER_LIMIT = 40  # characters of a number's text, spaces included
_TIME_LIMIT = 64
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?")
_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?")
_VALUE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")
_PRINTABLE = re.compile(r"[ -~]+")


def quoted(text: object) -> str:
    """A sender's text for a message: at most 40 characters, control characters escaped."""
    value = str(text)
    return repr(value[:_QUOTE] + ("..." if len(value) > _QUOTE else ""))


def display(element: etree._Element) -> str:
    """An element's name for a message: ``sr:Name`` in the DUIS namespace, else its Clark
    name, bounded."""
    tag = element.tag
    if not isinstance(tag, str):
        return "a comment or processing instruction"
    name = "sr:" + tag[len(SR) :] if tag.startswith(SR) else tag
    return quoted(name)


class Node:
    """A DUIS element being read: its field path and its element children by local name."""

    __slots__ = ("_children", "element", "path")

    def __init__(self, element: etree._Element, path: str, allowed: Collection[str]) -> None:
        self.element = element
        self.path = path
        if (element.text or "").strip(XML_SPACE):
            raise InvalidField(path, "must hold elements, not text")
        children: dict[str, list[etree._Element]] = {}
        for child in element:
            if (child.tail or "").strip(XML_SPACE):
                raise InvalidField(path, "must hold elements, not text")
            tag = child.tag
            if not isinstance(tag, str):
                continue  # a comment or processing instruction between elements
            name = tag[len(SR) :] if tag.startswith(SR) else None
            if name is None or name not in allowed:
                raise InvalidField(path, f"{display(child)} is not expected here")
            children.setdefault(name, []).append(child)
        self._children = children

    def field(self, name: str, index: int | None = None) -> str:
        """The path of a child, with its 1-based position when it may repeat."""
        return f"{self.path}/{name}" if index is None else f"{self.path}/{name}[{index}]"

    def has(self, name: str) -> bool:
        """Whether a child of this name is present."""
        return name in self._children

    def optional(self, name: str) -> etree._Element | None:
        """The child of this name, or None; more than one is refused."""
        found = self._children.get(name)
        if not found:
            return None
        if len(found) > 1:
            raise InvalidField(self.field(name), "appears more than once")
        return found[0]

    def one(self, name: str) -> etree._Element:
        """The one child of this name."""
        element = self.optional(name)
        if element is None:
            raise InvalidField(self.field(name), "is missing")
        return element

    def many(self, name: str, least: int, most: int) -> list[etree._Element]:
        """The children of this name, ``least`` to ``most`` of them."""
        found = self._children.get(name, [])
        if not least <= len(found) <= most:
            raise InvalidField(
                self.field(name), f"appears {len(found)} times; {_count(least, most)} expected"
            )
        return found

    def node(self, name: str, allowed: Collection[str]) -> Node:
        """The one child of this name, to read further."""
        return Node(self.one(name), self.field(name), allowed)

    def nodes(self, name: str, least: int, most: int, allowed: Collection[str]) -> list[Node]:
        """The children of this name, each to read further, with their positions in paths."""
        return [
            Node(element, self.field(name, index), allowed)
            for index, element in enumerate(self.many(name, least, most), 1)
        ]

    def one_of(self, *names: str) -> str:
        """The name of the one child present among ``names``."""
        given = [name for name in names if name in self._children]
        if len(given) != 1:
            raise InvalidField(self.path, f"must hold exactly one of {', '.join(names)}")
        return given[0]

    def text(self, name: str, most: int, least: int = 1) -> str:
        """A required child's text as given (``xs:string``: spaces kept)."""
        return text(self.one(name), self.field(name), most, least)

    def integer(self, name: str, low: int, high: int) -> int:
        """A required child's whole number in ``low..high``."""
        return integer(self.one(name), self.field(name), low, high)

    def choice(self, name: str, options: Mapping[str, T]) -> T:
        """A required child's enumerated value, translated by ``options``."""
        return choice(self.one(name), self.field(name), options)

    def date_time(self, name: str) -> str:
        """A required child's ``xs:dateTime`` as an ISO 8601 UTC text."""
        return date_time(self.one(name), self.field(name))

    def empty(self, name: str) -> None:
        """A required child that must be empty (``NoType``)."""
        Node(self.one(name), self.field(name), ())


def _count(least: int, most: int) -> str:
    return f"exactly {least}" if least == most else f"{least} to {most}"


def raw_text(element: etree._Element, field: str, most: int) -> str:
    """The text of an element that holds text only, at most ``most`` characters."""
    if len(element):
        raise InvalidField(field, "must hold text only")
    value = element.text or ""
    if len(value) > most:
        raise InvalidField(field, f"is {len(value):,} characters long; at most {most} expected")
    return value


def text(element: etree._Element, field: str, most: int, least: int = 1) -> str:
    """A text of ``least`` to ``most`` printable ASCII characters, spaces kept."""
    value = raw_text(element, field, most)
    if len(value) < least:
        raise InvalidField(field, f"must be {least} to {most} characters long")
    if value and _PRINTABLE.fullmatch(value) is None:
        raise InvalidField(field, f"{quoted(value)} holds characters other than printable ASCII")
    return value


def integer(element: etree._Element, field: str, low: int, high: int) -> int:
    """A whole number in ``low..high``."""
    value = raw_text(element, field, _NUMBER_LIMIT).strip(XML_SPACE)
    if _INTEGER.fullmatch(value) is None:
        raise InvalidField(field, f"{quoted(value)} is not a whole number")
    number = int(value)
    if not low <= number <= high:
        raise InvalidField(field, f"{number} is out of range; {low} to {high} expected")
    return number


def attribute_integer(element: etree._Element, field: str, name: str, low: int, high: int) -> int:
    """A whole-number attribute in ``low..high``."""
    value = element.get(name)
    if value is None:
        raise InvalidField(field, f"has no {name} attribute")
    value = value.strip(XML_SPACE)
    if len(value) > _NUMBER_LIMIT or _INTEGER.fullmatch(value) is None:
        raise InvalidField(field, f"its {name} {quoted(value)} is not a whole number")
    number = int(value)
    if not low <= number <= high:
        raise InvalidField(field, f"its {name} {number} is out of range; {low} to {high} expected")
    return number


def scaled_decimal(element: etree._Element, field: str, places: int, high: int) -> int:
    """A non-negative decimal times ``10**places``, which must be a whole number up to
    ``high`` (the unit of the SMETS1 setting)."""
    value = raw_text(element, field, _NUMBER_LIMIT).strip(XML_SPACE)
    match = _DECIMAL.fullmatch(value)
    if match is None or not (match[2] or match[3]):
        raise InvalidField(field, f"{quoted(value)} is not a decimal number")
    sign, whole, fraction = match[1], match[2] or "0", (match[3] or "").rstrip("0")
    if len(fraction) > places:
        raise InvalidField(
            field, f"{value} has more than {places} decimal places, the SMETS1 setting's precision"
        )
    number = int(whole + fraction.ljust(places, "0"))
    if sign == "-" and number:
        raise InvalidField(field, f"{value} is negative")
    if number > high:
        raise InvalidField(field, f"{value} is out of range")
    return number


def boolean(element: etree._Element, field: str) -> bool:
    """An ``xs:boolean``."""
    value = raw_text(element, field, _NUMBER_LIMIT).strip(XML_SPACE)
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise InvalidField(field, f"{quoted(value)} is not true or false")


def choice(element: etree._Element, field: str, options: Mapping[str, T]) -> T:
    """One of an enumeration's texts, translated by ``options``."""
    value = raw_text(element, field, 100).strip(XML_SPACE)
    if value not in options:
        raise InvalidField(field, f"{quoted(value)} is not one of {', '.join(options)}")
    return options[value]


def _zone(text: str | None, field: str) -> timezone:
    if text is None or text == "Z":
        return UTC
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 14 or minutes > 59 or (hours == 14 and minutes):
        raise InvalidField(field, f"{quoted(text)} is not a time zone offset")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if text[0] == "-" else offset)


def date_time(element: etree._Element, field: str) -> str:
    """An ``xs:dateTime`` as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    value = raw_text(element, field, _TIME_LIMIT).strip(XML_SPACE)
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        raise InvalidField(
            field, f"{quoted(value)} is not a date and time (YYYY-MM-DDThh:mm:ss with Z)"
        )
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
        zone = _zone(match[7], field)
        moment = datetime(year, month, day, hour, minute, second, tzinfo=zone).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidField(field, f"{quoted(value)} is not a valid date and time") from exc
    return iso(moment)


def time_of_day(element: etree._Element, field: str) -> int:
    """An ``xs:time`` as seconds after midnight UTC."""
    value = raw_text(element, field, _TIME_LIMIT).strip(XML_SPACE)
    match = _TIME.fullmatch(value)
    if match is None:
        raise InvalidField(field, f"{quoted(value)} is not a time of day (hh:mm:ss with Z)")
    hours, minutes, seconds = (int(part) for part in match.groups()[:3])
    if hours > 23 or minutes > 59 or seconds > 59:
        raise InvalidField(field, f"{quoted(value)} is not a valid time of day")
    offset = _zone(match[4], field).utcoffset(None)
    shift = 0 if offset is None else int(offset.total_seconds())
    return (hours * 3600 + minutes * 60 + seconds - shift) % 86400


def eui(element: etree._Element, field: str) -> str:
    """An EUI-64 as 16 upper-case hex digits."""
    value = raw_text(element, field, _TIME_LIMIT).strip(XML_SPACE)
    try:
        return Eui64.parse(value).hex
    except InvalidIdentity as exc:
        raise InvalidField(field, f"{quoted(value)} is not an EUI-64") from exc


def mpxn(element: etree._Element, field: str) -> str:
    """An import meter point: an MPAN core (13 digits) or an MPRN (6 to 10), checked."""
    value = raw_text(element, field, _NUMBER_LIMIT).strip(XML_SPACE)
    try:
        if len(value) == 13:
            return Mpan.parse(value).core
        return Mprn.parse(value).value
    except InvalidIdentity as exc:
        raise InvalidField(field, f"not an MPAN core or an MPRN: {exc}") from exc


def hex_bytes(element: etree._Element, field: str, least: int, most: int) -> str:
    """An ``xs:hexBinary`` of ``least`` to ``most`` bytes, as lower-case hex."""
    value = raw_text(element, field, 2 * most + _NUMBER_LIMIT).strip(XML_SPACE)
    if _HEX.fullmatch(value) is None or not least <= len(value) // 2 <= most:
        raise InvalidField(field, f"must be {_count(least, most)} bytes in hex")
    return value.lower()


def base64_text(element: etree._Element, field: str, most: int) -> None:
    """An ``xs:base64Binary`` (a certificate) of at most ``most`` characters, checked only."""
    value = raw_text(element, field, most)
    if _BASE64.fullmatch(value) is None:
        raise InvalidField(field, "is not base64")


def indexed(nodes: list[etree._Element], field: str, most: int) -> list[etree._Element]:
    """Elements with an ``index`` attribute, in index order; the indexes must run from 1
    without gaps."""
    by_index: dict[int, etree._Element] = {}
    for position, element in enumerate(nodes, 1):
        index = attribute_integer(element, f"{field}[{position}]", "index", 1, most)
        if index in by_index:
            raise InvalidField(f"{field}[{position}]", f"index {index} is given twice")
        by_index[index] = element
    if sorted(by_index) != list(range(1, len(by_index) + 1)):
        raise InvalidField(field, f"the indexes must run from 1 to {len(by_index)} without gaps")
    return [by_index[index] for index in range(1, len(by_index) + 1)]


# --- values and builders --------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """A UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


def clock(seconds: int) -> str:
    """Seconds after midnight as an ``xs:time`` in UTC."""
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"


def parse_iso(text: str, key: str) -> datetime:
    """A value's time (``YYYY-MM-DDTHH:MM:SSZ``) as an aware UTC datetime."""
    if not isinstance(text, str) or _VALUE_TIME.fullmatch(text) is None:
        raise ValueError(f"{key}: {quoted(text)} is not a time written YYYY-MM-DDTHH:MM:SSZ")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"{key}: {quoted(text)} is not a valid time") from exc


def add(
    parent: etree._Element, name: str, value: object = None, index: int | None = None
) -> etree._Element:
    """A DUIS child element, with a text and an ``index`` attribute when given."""
    child = etree.SubElement(parent, SR + name)
    if index is not None:
        child.set("index", str(index))
    if value is not None:
        child.text = str(value)
    return child


class Values:
    """Request values taken one by one while a body is built; ``finish`` refuses the rest."""

    __slots__ = ("_prefix", "_values")

    def __init__(self, values: Mapping[str, Any], prefix: str = "") -> None:
        if not isinstance(values, Mapping):
            raise ValueError(f"{prefix or 'values'}: a mapping of request values is expected")
        self._values = dict(values)
        self._prefix = prefix

    def _key(self, key: str) -> str:
        return self._prefix + key

    def has(self, key: str) -> bool:
        """Whether the key is given."""
        return key in self._values

    def take(self, key: str) -> Any:
        """The value of a required key."""
        if key not in self._values:
            raise ValueError(f"{self._key(key)}: missing")
        return self._values.pop(key)

    def take_optional(self, key: str) -> Any:
        """The value of an optional key, or None."""
        return self._values.pop(key, None)

    def integer(self, key: str, low: int, high: int) -> int:
        """A whole number in ``low..high``."""
        value = self.take(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{self._key(key)}: {quoted(value)} is not a whole number")
        if not low <= value <= high:
            raise ValueError(f"{self._key(key)}: {value} is out of range; {low} to {high} expected")
        return value

    def text(self, key: str, pattern: re.Pattern[str], rule: str) -> str:
        """A text matching ``pattern``; ``rule`` says what is expected."""
        value = self.take(key)
        if not isinstance(value, str) or pattern.fullmatch(value) is None:
            raise ValueError(f"{self._key(key)}: {quoted(value)} is not {rule}")
        return value

    def one_of(self, key: str, options: Mapping[str, T]) -> T:
        """One of the texts of ``options``, translated by it."""
        value = self.take(key)
        if not isinstance(value, str) or value not in options:
            raise ValueError(
                f"{self._key(key)}: {quoted(value)} is not one of {', '.join(options)}"
            )
        return options[value]

    def time(self, key: str) -> datetime:
        """A time written ``YYYY-MM-DDTHH:MM:SSZ``."""
        return parse_iso(self.take(key), self._key(key))

    def mapping(self, key: str) -> Values:
        """A nested mapping, itself taken key by key."""
        return Values(self.take(key), self._key(key) + ".")

    def integers(self, key: str, least: int, most: int, low: int, high: int) -> list[int]:
        """A list of ``least`` to ``most`` whole numbers, each in ``low..high``."""
        value = self.take(key)
        name = self._key(key)
        if not isinstance(value, list | tuple) or not least <= len(value) <= most:
            raise ValueError(f"{name}: a list of {_count(least, most)} whole numbers is expected")
        for position, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, int) or not low <= item <= high:
                raise ValueError(f"{name}[{position}]: {quoted(item)} is not {low} to {high}")
        return list(value)

    def finish(self) -> None:
        """Refuse the keys no builder took: the body cannot carry them."""
        if self._values:
            keys = ", ".join(sorted(self._key(str(key)) for key in self._values))
            raise ValueError(f"{keys}: the body cannot carry these values")


Reader = Callable[[Node], dict[str, Any]]
Builder = Callable[[Values, etree._Element, str], None]
Example = Callable[[str, datetime], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Codec:
    """How one SRV's body is read into request values and built from them."""

    element: str  # the body element's local name
    children: tuple[str, ...]  # the child names it may hold (ExecutionDateTime apart)
    read: Reader
    build: Builder  # appends the children to the body element; the fuel ("" when not fueled)
    example: Example  # (device type, now) -> values
    device_types: frozenset[str]
    future_datable: bool = False  # the body may carry an ExecutionDateTime
    fueled: bool = False  # the body differs by fuel: the values carry "fuel"


def _no_values(node: Node) -> dict[str, Any]:
    return {}


def no_build(values: Values, body: etree._Element, fuel: str) -> None:
    """The builder of a body that carries nothing."""
    return None


def _no_example(device_type: str, now: datetime) -> dict[str, Any]:
    return {}


def empty_codec(element: str, device_types: str, future_datable: bool = False) -> Codec:
    """A body that carries nothing but, perhaps, an ExecutionDateTime: values ``{}``."""
    return Codec(
        element,
        (),
        _no_values,
        no_build,
        _no_example,
        frozenset(device_types.split()),
        future_datable,
    )
