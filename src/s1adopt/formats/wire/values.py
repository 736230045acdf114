"""What every head-end protocol carries, and the rules its values obey on every wire.

Rules (checked on encode and decode alike, so no codec can carry what another cannot):
- a device is 16 hexadecimal digits; an operation 1 to 64 characters of ``a-z``, ``0-9``
  and ``_``; a nonce and a tag 1 to 128 printable ASCII characters;
- a value is ``None``, a bool, an int in the signed 64-bit range, a finite float, a string
  (valid Unicode, no lone surrogates), a list of values, or an object whose keys are strings
  of 1 to 256 characters without control characters or characters XML cannot carry; values
  nest at most ``MAX_DEPTH`` deep;
- anything else is a ``WireDecodeError``. Decoders check what they decode; encoders trust
  their input, so whoever hands values to an encoder checks them first with ``check_value``
  (the adapters their parameters, the front ends the core's results).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from s1adopt.formats.device_auth import ErrorCode

MAX_DEPTH = 32
MAX_KEY_CHARS = 256
MAX_MESSAGE_CHARS = 1024
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
Result = dict[str, Any]

_DEVICE = re.compile(r"[0-9A-Fa-f]{16}")
_OPERATION = re.compile(r"[a-z0-9_]{1,64}")
_TOKEN = re.compile(r"[\x21-\x7e]{1,128}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters XML 1.0 cannot carry at all (its Char production, inverted).
XML_UNSAFE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class WireDecodeError(ValueError):
    """Bytes that are not a well-formed message of the protocol (or break its limits)."""


@dataclass(frozen=True, slots=True)
class WireRequest:
    """One device operation as every protocol carries it."""

    device_hex: str
    operation: str
    params: Result
    nonce: str
    tag: str


@dataclass(frozen=True, slots=True)
class WireError:
    """A head end's refusal of one operation."""

    code: ErrorCode
    message: str


Answer = Result | WireError


def checked_request(
    device_hex: object, operation: object, params: object, nonce: object, tag: object
) -> WireRequest:
    """A ``WireRequest`` from decoded fields, or ``WireDecodeError`` naming the bad one."""
    fields = (("device", device_hex, _DEVICE), ("operation", operation, _OPERATION))
    for name, value, pattern in (*fields, ("nonce", nonce, _TOKEN), ("tag", tag, _TOKEN)):
        if not isinstance(value, str) or pattern.fullmatch(value) is None:
            raise WireDecodeError(f"field {name!r} is missing or malformed")
    return WireRequest(str(device_hex), str(operation), check_object(params), str(nonce), str(tag))


def checked_error(code: object, message: object) -> WireError:
    """A ``WireError`` from decoded fields; an unknown code is a ``WireDecodeError``."""
    if not isinstance(code, str) or not isinstance(message, str):
        raise WireDecodeError("an error needs a code and a message")
    try:
        return WireError(ErrorCode(code), message[:MAX_MESSAGE_CHARS])
    except ValueError:
        raise WireDecodeError(f"unknown error code {code[:32]!r}") from None


def check_object(value: object) -> Result:
    """``value`` if it is an object of valid values; else ``WireDecodeError``."""
    if not isinstance(value, dict):
        raise WireDecodeError("expected an object")
    check_value(value)
    return value


def check_value(value: object, depth: int = 0) -> None:
    """Raise ``WireDecodeError`` unless ``value`` is a value every protocol carries exactly."""
    if depth > MAX_DEPTH:
        raise WireDecodeError(f"values nest deeper than {MAX_DEPTH}")
    kind = type(value)
    if kind is str:
        if not value.isascii():  # type: ignore[attr-defined]
            check_text(value)  # type: ignore[arg-type]
    elif kind is dict:
        for key, item in value.items():  # type: ignore[attr-defined]
            if not _plain_key(key):
                check_key(key)
            if type(item) in _PLAIN:
                continue
            check_value(item, depth + 1)
    elif kind is list:
        for item in value:  # type: ignore[attr-defined]
            if type(item) in _PLAIN:
                continue
            check_value(item, depth + 1)
    elif kind is int:
        if not INT_MIN <= value <= INT_MAX:  # type: ignore[operator]
            raise WireDecodeError("an integer is out of the signed 64-bit range")
    elif kind is float:
        if not math.isfinite(value):  # type: ignore[arg-type]
            raise WireDecodeError("a number is not finite")
    elif value is not None and kind is not bool:
        _check_subclass(value, depth)


def _check_subclass(value: object, depth: int) -> None:
    """Subclasses of the carried types (``StrEnum``, ``IntEnum``) travel as their base."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        check_value(str(value) if isinstance(value, str) else int(value), depth)
    else:
        raise WireDecodeError(f"a value of type {type(value).__name__} is not carried")


_PLAIN = frozenset({bool, type(None)})  # values that need no further look


def _plain_key(key: object) -> bool:
    """A common key: short printable ASCII, needing no closer look."""
    return (
        type(key) is str and 0 < len(key) <= MAX_KEY_CHARS and key.isascii() and key.isprintable()
    )


def check_key(key: object) -> str:
    """An object key: 1 to ``MAX_KEY_CHARS`` XML characters, valid Unicode, no controls."""
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS:
        raise WireDecodeError("an object key must be a string of 1 to 256 characters")
    if _CONTROL.search(key) or XML_UNSAFE.search(key):
        raise WireDecodeError("an object key holds a control or non-XML character")
    check_text(key)
    return key


def check_text(text: str) -> None:
    """Valid Unicode: encodable as UTF-8 (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise WireDecodeError("a string is not valid Unicode") from None
