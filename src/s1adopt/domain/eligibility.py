"""The Eligible Product Combinations list (EPCL): which device products may be migrated."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from s1adopt.domain.devices import DeviceType

_TYPE2 = frozenset(kind for kind in DeviceType if kind.is_type2)


@dataclass(frozen=True, slots=True)
class Product:
    """A device product: type, manufacturer, model and firmware version as tested by DCC."""

    device_type: DeviceType
    manufacturer: str
    model: str
    firmware_version: str | None  # None for Type 2 devices, whose firmware is not tracked


class EligibleProducts:
    """The set of products DCC has tested and accepts for migration.

    Rule (this project's simplification of the EPCL, whose combinations also name the
    communications provider): an installation is eligible when each of its devices is an
    eligible product; for Type 2 devices the firmware version is not compared.
    """

    def __init__(self, products: Iterable[Product]) -> None:
        self._products = frozenset(
            Product(p.device_type, p.manufacturer, p.model, None) if p.device_type.is_type2 else p
            for p in products
        )
        # Keyed by the member itself: a StrEnum member hashes and compares as its value, and
        # lookups here run for every device of every migration file.
        self._keys = frozenset(
            (p.device_type, p.manufacturer, p.model, p.firmware_version) for p in self._products
        )
        versions: dict[tuple[DeviceType, str, str], list[str | None]] = {}
        for p in self._products:
            versions.setdefault((p.device_type, p.manufacturer, p.model), []).append(
                p.firmware_version
            )
        self._targets = {model: max(listed, key=_version_key) for model, listed in versions.items()}

    def is_eligible(
        self, device_type: DeviceType, manufacturer: str, model: str, firmware: str | None
    ) -> bool:
        """Whether the product is on the list (the firmware of Type 2 devices is ignored)."""
        if device_type in _TYPE2:
            firmware = None
        return (device_type, manufacturer, model, firmware) in self._keys

    def upgrade_target(self, device_type: DeviceType, manufacturer: str, model: str) -> str | None:
        """The firmware version a device of this model must run to be eligible (the last one
        listed for it), or None when the model is not on the list at all."""
        return self._targets.get((device_type, manufacturer, model))

    def __contains__(self, product: object) -> bool:
        if not isinstance(product, Product):
            return False
        return self.is_eligible(
            product.device_type, product.manufacturer, product.model, product.firmware_version
        )

    def __iter__(self) -> Iterator[Product]:
        return iter(sorted(self._products, key=lambda p: (p.device_type, p.model)))

    def __len__(self) -> int:
        return len(self._products)


def _version_key(version: str | None) -> tuple[str, ...]:
    """Orders versions like 1.7.2 < 1.10.0 by comparing numeric parts as padded text."""
    if version is None:
        return ()
    return tuple(part.zfill(8) for part in version.replace("-", ".").split("."))
