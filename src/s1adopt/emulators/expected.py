"""``expected.json`` of a generated fleet: the outcome the service must reach per installation.

Format: ``{"seed", "fault_rate", "dormant_rate", "total", "cohorts": {cohort: count},
"outcomes": {outcome: count} (only outcomes that occur), "suppliers": {supplier EUI-64:
installations it is responsible for}, "unauthorised": [references, sorted] (installations no
authorisation of their responsible supplier names; empty when none), "installations":
{reference: outcome}}``, written as the fleet streams out. Dormant installations must end
``commissioned`` (after their firmware upgrade); a ``han_failure`` installation
``commissioned_electricity_only`` (GT01). ``installations`` holds the outcome each
installation reaches when migrated (``s1adopt migrate``, which does not look at
authorisations), unauthorised ones included.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from s1adopt.domain.failures import COMMISSIONED_OUTCOME
from s1adopt.emulators.faults import DORMANT, FAULT_KINDS, HEALTHY

EXPECTED_NAME = "expected.json"


def outcome_counts(plan: bytearray) -> dict[str, int]:
    """Per outcome, how many installations of a fault plan must end with it (non-zero only)."""
    counts = {COMMISSIONED_OUTCOME: plan.count(HEALTHY) + plan.count(DORMANT)}
    for kind in FAULT_KINDS:
        counts[kind.outcome] = counts.get(kind.outcome, 0) + plan.count(kind.code)
    return {outcome: count for outcome, count in counts.items() if count}


class ExpectedWriter:
    """Writes ``expected.json`` one installation at a time."""

    def __init__(
        self,
        out: TextIO,
        *,
        seed: int,
        fault_rate: float,
        dormant_rate: float,
        total: int,
        cohorts: dict[str, int],
        outcomes: dict[str, int],
        suppliers: dict[str, int],
        unauthorised: Iterable[str],
    ) -> None:
        self._out, self._first = out, True
        out.write(
            "{\n"
            f'  "seed": {json.dumps(seed)},\n'
            f'  "fault_rate": {json.dumps(fault_rate)},\n'
            f'  "dormant_rate": {json.dumps(dormant_rate)},\n'
            f'  "total": {json.dumps(total)},\n'
            f'  "cohorts": {json.dumps(cohorts)},\n'
            f'  "outcomes": {json.dumps(outcomes)},\n'
            f'  "suppliers": {json.dumps(suppliers)},\n'
            '  "unauthorised": ['
        )
        first = True
        for reference in unauthorised:  # streamed: it may hold a million references
            out.write(("\n    " if first else ",\n    ") + json.dumps(reference))
            first = False
        out.write("],\n" if first else "\n  ],\n")
        out.write('  "installations": {')

    def add(self, reference: str, outcome: str) -> None:
        """Record the outcome expected for one installation."""
        separator = "\n" if self._first else ",\n"
        self._first = False
        self._out.write(f"{separator}    {json.dumps(reference)}: {json.dumps(outcome)}")

    def finish(self) -> None:
        """Close the JSON document."""
        self._out.write("\n  }\n}\n" if not self._first else "}\n}\n")
