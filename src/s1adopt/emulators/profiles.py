"""The SMSOs of the emulated world: who they are, which cohort they serve, how they talk.

A later issue adds the MOC and FOC head ends with their own protocols: each is one more
``SmsoProfile`` in ``SMSO_PROFILES``.
"""

from __future__ import annotations

from dataclasses import dataclass

from s1adopt.formats.headend_wire import PROTOCOL as S1_JSON_PROTOCOL

RESPONSIBLE_SUPPLIER = "90-B3-D5-1F-30-01-00-00"
SCHEMA_VERSION = "1.0"
# A fixed creation time keeps generated files identical for the same seed.
CREATED_AT = "2026-01-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class SmsoProfile:
    """One emulated SMSO and its head end.

    ``share`` is its weight when the fleet is split between SMSOs; ``device_prefix`` is the
    upper 32 bits of the EUI-64 of every device it serves, so device IDs never collide
    between SMSOs.
    """

    name: str
    eui: str
    cohort: str
    protocol: str
    file_tag: str
    device_prefix: int
    share: float

    def file_id(self, seed: int) -> str:
        """The FileID of this SMSO's migration file for a fleet made from ``seed``."""
        return f"MIG-SMSO-{self.file_tag}-{seed}"


SMSO_IOC = SmsoProfile(
    name="smso-ioc",
    eui="90-B3-D5-1F-30-10-00-01",
    cohort="IOC",
    protocol=S1_JSON_PROTOCOL,
    file_tag="IOC",
    device_prefix=0x000D6F01,
    share=1.0,
)

SMSO_PROFILES: tuple[SmsoProfile, ...] = (SMSO_IOC,)


def split_installations(total: int, profiles: tuple[SmsoProfile, ...]) -> list[int]:
    """How many of ``total`` installations each SMSO gets: by share, largest remainder.

    Rule: the counts add up to ``total`` exactly and follow the profiles' order, so each SMSO
    owns one contiguous run of installation references.
    """
    weight = sum(p.share for p in profiles)
    if not profiles or weight <= 0:
        raise ValueError("at least one SMSO profile with a positive share is needed")
    exact = [total * p.share / weight for p in profiles]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(profiles)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts
