"""A wrapper that keeps secret bytes out of logs, reprs and reports."""

from __future__ import annotations

import hmac


class Secret:
    """Secret bytes (a device credential, a key). ``repr`` and ``str`` never show the value.

    Rule: the only way to the bytes is ``reveal()``, called where they are used on the wire or
    sealed for storage.
    """

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        if not isinstance(value, bytes | bytearray):
            raise TypeError("a Secret holds bytes")
        self._value = bytes(value)

    def reveal(self) -> bytes:
        """The secret bytes; do not log or persist them unencrypted."""
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(("Secret", len(self._value)))
