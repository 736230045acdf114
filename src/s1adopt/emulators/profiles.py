"""The SMSOs of the emulated world: who they are, which cohort they serve, how they talk.

Rules: one SMSO per cohort, each with its own head end, wire protocol and session limit;
a fleet is split between them by ``share`` (MOC about 32% of the SMETS1 population, FOC
about 42%, IOC the rest), and every device an SMSO serves has its ``device_prefix`` as the
upper 32 bits of its EUI-64.
"""

from __future__ import annotations

from dataclasses import dataclass

from s1adopt.formats.wire import binary_v1, json_v2, xml_v1

# The wire protocols of the emulated head ends.
S1_JSON_PROTOCOL = json_v2.PROTOCOL
S1_BINARY_PROTOCOL = binary_v1.PROTOCOL
S1_XML_PROTOCOL = xml_v1.PROTOCOL

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
    session_limit: int

    def file_id(self, seed: int, supplier_code: str | None = None) -> str:
        """The FileID of this SMSO's migration file for a fleet made from ``seed`` (of its
        file for one supplier, when the fleet has several files per SMSO)."""
        if supplier_code is None:
            return f"MIG-SMSO-{self.file_tag}-{seed}"
        return f"MIG-SMSO-{self.file_tag}-{supplier_code}-{seed}"


SMSO_IOC = SmsoProfile(
    name="smso-ioc",
    eui="90-B3-D5-1F-30-10-00-01",
    cohort="IOC",
    protocol=S1_JSON_PROTOCOL,
    file_tag="IOC",
    device_prefix=0x000D6F01,
    share=0.26,
    session_limit=64,
)

SMSO_MOC = SmsoProfile(
    name="smso-moc",
    eui="90-B3-D5-1F-30-10-00-02",
    cohort="MOC",
    protocol=S1_BINARY_PROTOCOL,
    file_tag="MOC",
    device_prefix=0x000D6F02,
    share=0.32,
    session_limit=32,
)

SMSO_FOC = SmsoProfile(
    name="smso-foc",
    eui="90-B3-D5-1F-30-10-00-03",
    cohort="FOC",
    protocol=S1_XML_PROTOCOL,
    file_tag="FOC",
    device_prefix=0x000D6F03,
    share=0.42,
    session_limit=48,
)

SMSO_PROFILES: tuple[SmsoProfile, ...] = (SMSO_IOC, SMSO_MOC, SMSO_FOC)


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
