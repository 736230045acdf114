"""Reading the Eligible Product Combinations list from JSON."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from s1adopt.domain.devices import DeviceType
from s1adopt.domain.eligibility import EligibleProducts, Product
from s1adopt.domain.errors import ConfigurationError

MAX_BYTES = 16 * 1024 * 1024


def load_eligible_products(path: Path | None = None) -> EligibleProducts:
    """The list at ``path``, or the one shipped with the service when ``path`` is None."""
    try:
        if path is None:
            text = resources.files("s1adopt.formats.data").joinpath("eligible-products.json")
            raw = text.read_bytes()
        else:
            if path.stat().st_size > MAX_BYTES:
                raise ConfigurationError(f"{path}: eligible products list larger than 16 MiB")
            raw = path.read_bytes()
        doc = json.loads(raw)
        return EligibleProducts(
            Product(
                DeviceType(p["deviceType"]),
                str(p["manufacturer"]),
                str(p["model"]),
                None if p.get("firmware") is None else str(p["firmware"]),
            )
            for p in doc["products"]
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        where = path or "built-in list"
        raise ConfigurationError(f"eligible products list {where} is unreadable: {exc}") from exc
