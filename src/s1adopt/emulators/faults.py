"""Faults planted in a generated fleet, and the migration outcome each must produce.

Rules:
- ``round(installations * fault_rate)`` installations are faulty, chosen with the seeded
  generator; each has exactly one fault, the kinds assigned round-robin in reference order over
  ``FAULT_KINDS`` (so every kind appears once there are at least ten faults).
- Then ``round(installations * dormant_rate)`` of the healthy installations (at most all of
  them) are chosen, with a second seeded generator, to be dormant: healthy, but their devices
  answer only firmware operations until upgraded. Their plan byte is ``DORMANT``.
- A ``duplicate_device`` installation claims the ESME of the nearest earlier healthy
  installation of its SMSO file, which keeps its device; where no earlier healthy installation
  exists the kind is swapped with a later faulty installation's, or, failing that (almost every
  installation faulty), replaced by the next kind of the list.
- The plan is one byte per installation (0 = healthy), so it stays small for 20 million.
"""

from __future__ import annotations

import random
from enum import StrEnum

from s1adopt.domain.failures import (
    COMMISSIONED_OUTCOME,
    ELECTRICITY_ONLY_OUTCOME,
    FailureReason,
)

HEALTHY = 0
DORMANT = 255  # a healthy installation gone dormant (installation type Dormant)


class FaultKind(StrEnum):
    """A fault planted in one installation (in the file, in the emulated devices, or both)."""

    NO_ANSWER = "no_answer"  # the ESME never answers through the head end
    FIRMWARE_MISMATCH = "firmware_mismatch"  # the ESME reports another firmware than the file
    CREDENTIAL_MISMATCH = "credential_mismatch"  # the file's ESME credential is not the device's
    BAD_MPAN = "bad_mpan"  # the MPAN fails its check digit
    NOT_ELIGIBLE = "not_eligible"  # the ESME model is not on the eligible products list
    MALFORMED_DEVICE_ID = "malformed_device_id"  # the ESME's ID in the file is not an EUI-64
    DUPLICATE_DEVICE = "duplicate_device"  # lists an earlier installation's ESME as its own
    HAN_FAILURE = "han_failure"  # the gas side (GPF, GSME) is unreachable over the HAN: GT01
    SLOW = "slow"  # the ESME answers, but slowly
    GARBLED_ONCE = "garbled_once"  # the ESME's first answer is garbled on the wire

    @property
    def outcome(self) -> str:
        """The outcome the service must report for an installation with this fault."""
        return _OUTCOMES[self]

    @property
    def code(self) -> int:
        """The byte that stands for this kind in a fault plan."""
        return FAULT_KINDS.index(self) + 1


FAULT_KINDS: tuple[FaultKind, ...] = tuple(FaultKind)

_OUTCOMES: dict[FaultKind, str] = {
    FaultKind.NO_ANSWER: FailureReason.DEVICE_NO_RESPONSE.value,
    FaultKind.FIRMWARE_MISMATCH: FailureReason.FIRMWARE_MISMATCH.value,
    FaultKind.CREDENTIAL_MISMATCH: FailureReason.CREDENTIAL_MISMATCH.value,
    FaultKind.BAD_MPAN: FailureReason.INVALID_MPAN.value,
    FaultKind.NOT_ELIGIBLE: FailureReason.PRODUCT_NOT_ELIGIBLE.value,
    FaultKind.MALFORMED_DEVICE_ID: FailureReason.INVALID_DEVICE_ID.value,
    FaultKind.DUPLICATE_DEVICE: FailureReason.DUPLICATE_DEVICE.value,
    FaultKind.HAN_FAILURE: ELECTRICITY_ONLY_OUTCOME,
    FaultKind.SLOW: COMMISSIONED_OUTCOME,
    FaultKind.GARBLED_ONCE: COMMISSIONED_OUTCOME,
}

_DUPLICATE = FaultKind.DUPLICATE_DEVICE.code


def fault_of(code: int) -> FaultKind | None:
    """The fault kind a plan byte stands for (None when the installation is healthy)."""
    return None if code in (HEALTHY, DORMANT) else FAULT_KINDS[code - 1]


def outcome_of(code: int) -> str:
    """The outcome the service must reach for an installation with plan byte ``code``."""
    kind = fault_of(code)
    return COMMISSIONED_OUTCOME if kind is None else kind.outcome


def plan_faults(
    installations: int,
    fault_rate: float,
    rng: random.Random,
    runs: list[int],
    dormant_rate: float = 0.0,
    dormant_rng: random.Random | None = None,
) -> bytearray:
    """The fault plan: one byte per installation, ``FaultKind.code``, ``DORMANT`` or 0 for
    healthy.

    ``runs`` are the installation counts of the SMSO files, in order; a duplicate only ever
    refers to an active healthy installation of its own file.
    """
    wanted = round(installations * fault_rate)
    plan = bytearray(installations)
    # Selection sampling (Knuth's algorithm S): exactly ``wanted`` picks in one ordered pass,
    # without a list of the chosen indices.
    chosen = 0
    for index in range(installations):
        if chosen == wanted:
            break
        if rng.random() * (installations - index) < wanted - chosen:
            plan[index] = FAULT_KINDS[chosen % len(FAULT_KINDS)].code
            chosen += 1
    if dormant_rate > 0:
        if dormant_rng is None:
            raise ValueError("a dormant rate needs its own seeded generator (dormant_rng)")
        _plan_dormant(plan, round(installations * dormant_rate), dormant_rng)
    start = 0
    for run in runs:
        _place_duplicates(plan, start, start + run)
        start += run
    return plan


def _plan_dormant(plan: bytearray, wanted: int, rng: random.Random) -> None:
    """Mark ``wanted`` healthy installations (at most all of them) dormant, by selection
    sampling over the healthy ones."""
    healthy = plan.count(HEALTHY)
    wanted = min(wanted, healthy)
    chosen = seen = 0
    for index, code in enumerate(plan):
        if chosen == wanted:
            break
        if code != HEALTHY:
            continue
        if rng.random() * (healthy - seen) < wanted - chosen:
            plan[index] = DORMANT
            chosen += 1
        seen += 1


def _place_duplicates(plan: bytearray, start: int, end: int) -> None:
    """Move duplicates that precede the file's first healthy installation after it."""
    first_healthy = plan.find(HEALTHY, start, end)
    stop = end if first_healthy < 0 else first_healthy
    swap_from = stop
    for index in range(start, stop):
        if plan[index] != _DUPLICATE:
            continue
        while swap_from < end and plan[swap_from] in (HEALTHY, DORMANT, _DUPLICATE):
            swap_from += 1
        if swap_from < end:
            plan[index], plan[swap_from] = plan[swap_from], _DUPLICATE
            swap_from += 1
        else:
            plan[index] = FAULT_KINDS[_DUPLICATE % len(FAULT_KINDS)].code
