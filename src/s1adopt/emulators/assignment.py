"""Which supplier is responsible for each installation of a generated fleet, and which
installations its suppliers leave unauthorised.

Rules:
- Each installation draws one of the ``K`` suppliers uniformly, in reference order, from a
  seeded generator; the supplier is responsible for both its meter points.
- A ``duplicate_device`` installation still draws (so no other installation's supplier
  depends on the faults) but takes the supplier of the installation whose ESME it claims, the
  nearest earlier active healthy installation of its SMSO run: both then sit in the same
  migration file, the claimed one first, and the duplicate loses the device as expected.
- ``round(installations * rate)`` installations, chosen from all of them by selection sampling
  with a second seeded generator, are left unauthorised: with ``K >= 2`` each, on a coin, is
  either named in no authorisation file or in the file of another supplier (drawn uniformly
  among the others); with one supplier, in none.
- Both plans take one byte per installation, like the fault plan.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from s1adopt.emulators.faults import HEALTHY, FaultKind

AUTHORISED = 0  # named in its own supplier's authorisation file
NOT_AUTHORISED = 1  # named in no authorisation file
_WRONG_SUPPLIER = 2  # 2 + s: named in the authorisation file of supplier s instead
_DUPLICATE = FaultKind.DUPLICATE_DEVICE.code
MAX_SUPPLIERS_IN_PLAN = 250  # what one byte holds next to the codes above


def assign_suppliers(
    plan: bytearray, runs: Sequence[int], suppliers: int, rng: random.Random
) -> bytearray:
    """The supplier index of every installation (see the module rules)."""
    _check_count(suppliers)
    owners = bytearray(len(plan))
    start = 0
    for run in runs:
        last_healthy: int | None = None
        for index in range(start, start + run):
            drawn = rng.randrange(suppliers)
            code = plan[index]
            if code == _DUPLICATE and last_healthy is not None:
                owners[index] = owners[last_healthy]
            else:
                owners[index] = drawn
            if code == HEALTHY:
                last_healthy = index
        start += run
    return owners


def plan_authorisation(
    owners: bytearray, rate: float, suppliers: int, rng: random.Random
) -> bytearray:
    """Per installation, ``AUTHORISED``, ``NOT_AUTHORISED`` or the wrong supplier it is
    authorised by (see ``authorising_supplier``)."""
    _check_count(suppliers)
    total = len(owners)
    wanted = round(total * rate)
    plan = bytearray(total)
    chosen = 0
    # Selection sampling (Knuth's algorithm S): exactly ``wanted`` picks in one ordered pass.
    for index in range(total):
        if chosen == wanted:
            break
        if rng.random() * (total - index) < wanted - chosen:
            chosen += 1
            if suppliers >= 2 and rng.random() < 0.5:
                other = (owners[index] + 1 + rng.randrange(suppliers - 1)) % suppliers
                plan[index] = _WRONG_SUPPLIER + other
            else:
                plan[index] = NOT_AUTHORISED
    return plan


def authorising_supplier(code: int, owner: int) -> int | None:
    """The supplier whose authorisation file names the installation (None: no file)."""
    if code == AUTHORISED:
        return owner
    if code == NOT_AUTHORISED:
        return None
    return code - _WRONG_SUPPLIER


def _check_count(suppliers: int) -> None:
    if not 1 <= suppliers <= MAX_SUPPLIERS_IN_PLAN:
        raise ValueError(f"suppliers must be 1 to {MAX_SUPPLIERS_IN_PLAN}, got {suppliers}")
