"""The Dual Control Organisation's rules for critical commands.

The DCO is independent of the users and of the S1SP: it sees every critical command before a
device does and refuses those its rules forbid; what it approves it countersigns with its own
key, and the S1SP sends nothing critical that lacks a valid countersignature.

Rules (``DcoRules`` holds the limits):
- mass disconnection: a user may interrupt supplies (7.2 Disable Supply, 7.3 Arm Supply) at
  most ``interruptions_per_hour`` times in any rolling hour;
- debt: one Update Debt (2.3) adjusts by at most ``max_debt_adjustment`` pence either way;
- prices: no unit price (1.1.1, 1.2.1) above ``max_unit_price`` (hundredths of a penny per
  kWh) and no standing charge above ``max_standing_charge`` (pence per day);
- anything else critical passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

INTERRUPTIONS = ("7.2", "7.3")


@dataclass(frozen=True, slots=True)
class DcoRules:
    """The DCO's limits (see the module rules)."""

    interruptions_per_hour: int = 50
    max_debt_adjustment: int = 50_000  # pence
    max_unit_price: int = 10_000  # hundredths of a penny per kWh: 100 p/kWh
    max_standing_charge: int = 500  # pence per day


def refusal(
    rules: DcoRules, srv: str, values: Mapping[str, Any], interruptions_in_last_hour: int
) -> str | None:
    """Why the DCO refuses this critical command, or None when it approves it."""
    if srv in INTERRUPTIONS and interruptions_in_last_hour >= rules.interruptions_per_hour:
        return (
            f"{interruptions_in_last_hour} supply interruptions by this user in the last hour: "
            f"the limit is {rules.interruptions_per_hour}"
        )
    if srv == "2.3":
        amount = int(values.get("amount", 0))
        if abs(amount) > rules.max_debt_adjustment:
            return (
                f"a debt adjustment of {amount} pence exceeds the limit of "
                f"{rules.max_debt_adjustment}"
            )
    if srv in ("1.1.1", "1.2.1"):
        prices = [int(p) for p in values.get("prices", [])]
        if prices and max(prices) > rules.max_unit_price:
            return f"a unit price of {max(prices)} exceeds the limit of {rules.max_unit_price}"
        standing = values.get("standingCharge")
        if standing is not None and int(standing) > rules.max_standing_charge:
            return (
                f"a standing charge of {standing} pence a day exceeds the limit of "
                f"{rules.max_standing_charge}"
            )
    return None
