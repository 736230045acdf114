"""Checking an operation's parameters against the catalogue's kinds.

Rules: every parameter the catalogue lists must be present with its kind, and no other may
be; ``int`` excludes booleans; a ``time`` is an ISO 8601 UTC text (turned into seconds
since the epoch); texts are at most ``MAX_TEXT`` characters, lists and objects at most
``MAX_LIST`` items; an ``object``'s keys are texts and its values are left to the
operation to check. A violation is BAD_REQUEST naming the field.
"""

from __future__ import annotations

from typing import Any

from s1adopt.domain.operations import OperationSpec
from s1adopt.emulators.world.clock import parse_time
from s1adopt.emulators.world.core_api import CoreRefusal
from s1adopt.formats.device_auth import ErrorCode

MAX_TEXT = 4096
MAX_LIST = 64
MAX_INT = 2**53


def bad_request(name: str, problem: str) -> CoreRefusal:
    """The refusal of a bad field."""
    return CoreRefusal(ErrorCode.BAD_REQUEST, f"field {name!r} {problem}")


def checked_params(spec: OperationSpec, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters with times as seconds; ``CoreRefusal(BAD_REQUEST)`` naming a bad field."""
    if not isinstance(params, dict):
        raise CoreRefusal(ErrorCode.BAD_REQUEST, "the parameters must be an object")
    for name in params:
        if name not in spec.params:
            raise bad_request(str(name), f"is not a parameter of {spec.operation}")
    return {name: _value(name, kind, params.get(name)) for name, kind in spec.params.items()}


def _value(name: str, kind: str, value: object) -> Any:
    if value is None:
        raise bad_request(name, "is missing")
    if kind == "int":
        return _int(name, value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad_request(name, "must be true or false")
        return value
    if kind in ("str", "time"):
        text = _text(name, value)
        if kind == "str":
            return text
        try:
            return parse_time(text)
        except ValueError as exc:
            raise bad_request(name, f"must be an ISO 8601 UTC time ({exc})") from None
    if kind in ("list[int]", "list[str]"):
        if not isinstance(value, list) or len(value) > MAX_LIST:
            raise bad_request(name, f"must be a list of at most {MAX_LIST} items")
        item = _int if kind == "list[int]" else _text
        return [item(name, v) for v in value]
    if kind == "object":
        if not isinstance(value, dict) or len(value) > MAX_LIST:
            raise bad_request(name, f"must be an object of at most {MAX_LIST} entries")
        for key in value:
            _text(name, key)
        return value
    raise bad_request(name, f"has a kind this head end does not know ({kind})")


def _int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_INT:
        raise bad_request(name, "must be a whole number")
    return value


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise bad_request(name, f"must be a text of at most {MAX_TEXT} characters")
    return value
