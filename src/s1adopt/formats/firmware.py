"""Firmware images of the emulated world, identified by their SHA-256.

The service has no manufacturers' image store yet; both the emulated devices and the
migration pipeline identify the image of a (manufacturer, model, version) by this digest.
"""

from __future__ import annotations

import hashlib


def firmware_image_hash(manufacturer: str, model: str, version: str) -> str:
    """SHA-256 (hex) of the emulated firmware image of a model's version."""
    text = f"s1adopt-emulated-firmware|{manufacturer}|{model}|{version}"
    return hashlib.sha256(text.encode()).hexdigest()
