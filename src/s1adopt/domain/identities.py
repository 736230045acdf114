"""Identities of parties, devices and meter points: EUI-64, MPAN core and MPRN.

Rules:
- An EUI-64 is 8 bytes. Accepted spellings: 16 hex digits, optionally separated into bytes by
  ``-``, ``:`` or spaces, in either case. It is always rendered ``XX-XX-XX-XX-XX-XX-XX-XX``.
- An MPAN core is 13 digits; the last is a check digit: the first 12 digits are weighted by the
  primes 3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43, and (sum mod 11) mod 10 is the check digit.
- An MPRN is 6 to 10 digits; its last two digits check the leading ones (see ``mprn_check``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from operator import mul

from s1adopt.domain.errors import InvalidIdentity

_EUI_SEPARATED = re.compile(r"^[0-9A-Fa-f]{2}(?:([-: ])[0-9A-Fa-f]{2})(?:\1[0-9A-Fa-f]{2}){6}$")
_EUI_PLAIN = re.compile(r"^[0-9A-Fa-f]{16}$")
_EUI_CANONICAL = re.compile(r"[0-9A-F]{2}(?:-[0-9A-F]{2}){7}")
_MPAN_WEIGHTS = (3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43)


@dataclass(frozen=True, slots=True, order=True)
class Eui64:
    """An EUI-64 in canonical form (upper-case hex bytes joined by ``-``)."""

    value: str

    @classmethod
    def parse(cls, text: str) -> Eui64:
        """Parse any accepted spelling; raise ``InvalidIdentity`` naming the problem otherwise."""
        if _EUI_CANONICAL.fullmatch(text):
            return cls(text)
        candidate = text.strip()
        if _EUI_PLAIN.match(candidate):
            digits = candidate
        elif _EUI_SEPARATED.match(candidate):
            digits = re.sub(r"[-: ]", "", candidate)
        else:
            raise InvalidIdentity(
                f"{text!r} is not an EUI-64: expected 16 hex digits, e.g. 90-B3-D5-1F-30-01-00-00"
            )
        digits = digits.upper()
        return cls("-".join(digits[i : i + 2] for i in range(0, 16, 2)))

    @classmethod
    def from_int(cls, number: int) -> Eui64:
        """The EUI-64 whose 64-bit value is ``number``."""
        if not 0 <= number < 1 << 64:
            raise InvalidIdentity(f"{number} does not fit in 64 bits")
        return cls.parse(f"{number:016X}")

    @property
    def hex(self) -> str:
        """The 16 hex digits without separators."""
        return self.value.replace("-", "")

    def __str__(self) -> str:
        return self.value


def mpan_check_digit(first_twelve: str) -> int:
    """The MPAN core check digit for its first 12 digits."""
    if len(first_twelve) != len(_MPAN_WEIGHTS):
        raise InvalidIdentity(f"{first_twelve!r}: the check digit needs exactly 12 digits")
    total: int = sum(map(mul, map(int, first_twelve), _MPAN_WEIGHTS))
    return total % 11 % 10


@dataclass(frozen=True, slots=True, order=True)
class Mpan:
    """An electricity meter point: the 13-digit MPAN core with a verified check digit."""

    core: str

    @classmethod
    def parse(cls, text: str) -> Mpan:
        """Parse an MPAN core (spaces allowed); raise ``InvalidIdentity`` when it is wrong."""
        digits = text.replace(" ", "").strip()
        if len(digits) != 13 or not digits.isdigit():
            raise InvalidIdentity(f"{text!r} is not an MPAN core: expected exactly 13 digits")
        expected = mpan_check_digit(digits[:12])
        if int(digits[12]) != expected:
            raise InvalidIdentity(
                f"MPAN {digits} fails its check digit: last digit should be {expected}"
            )
        return cls(digits)

    @classmethod
    def with_check_digit(cls, first_twelve: str) -> Mpan:
        """Complete 12 digits into a valid MPAN core."""
        return cls.parse(first_twelve + str(mpan_check_digit(first_twelve)))

    def __str__(self) -> str:
        return self.core


def mprn_check(leading: str) -> str:
    """The two check digits of an MPRN for its leading digits.

    The official algorithm is not public; this project uses a weighted modulus-11 check: each
    leading digit is multiplied by its position counted from the left (1, 2, 3, ...), the sum is
    taken modulo 11 and written as two digits (``00`` to ``10``).
    """
    total = sum(int(d) * (i + 1) for i, d in enumerate(leading))
    return f"{total % 11:02d}"


@dataclass(frozen=True, slots=True, order=True)
class Mprn:
    """A gas meter point reference number with verified check digits."""

    value: str

    @classmethod
    def parse(cls, text: str) -> Mprn:
        """Parse an MPRN; raise ``InvalidIdentity`` when it is malformed or fails its check."""
        digits = text.replace(" ", "").strip()
        if not (6 <= len(digits) <= 10) or not digits.isdigit():
            raise InvalidIdentity(f"{text!r} is not an MPRN: expected 6 to 10 digits")
        expected = mprn_check(digits[:-2])
        if digits[-2:] != expected:
            raise InvalidIdentity(
                f"MPRN {digits} fails its check digits: last two digits should be {expected}"
            )
        return cls(digits)

    @classmethod
    def with_check_digits(cls, leading: str) -> Mprn:
        """Complete the leading digits into a valid MPRN."""
        return cls.parse(leading + mprn_check(leading))

    def __str__(self) -> str:
        return self.value
