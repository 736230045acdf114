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


_IMAGE_PREFIX = "s1adopt-emulated-firmware|"
MAX_IMAGE_BYTES = 10 * 1024 * 1024


def emulated_image(manufacturer: str, model: str, version: str) -> bytes:
    """The emulated firmware image of a model's version: its SHA-256 is
    ``firmware_image_hash(manufacturer, model, version)``."""
    return f"{_IMAGE_PREFIX}{manufacturer}|{model}|{version}".encode()


def identify_image(image: bytes) -> tuple[str, str, str] | None:
    """(manufacturer, model, version) an image names in its header, or None when it is not
    an image the service can identify (the emulated world's images name all three)."""
    if len(image) > MAX_IMAGE_BYTES or not image.startswith(_IMAGE_PREFIX.encode()):
        return None
    try:
        text = image.decode()
    except UnicodeDecodeError:
        return None
    parts = text[len(_IMAGE_PREFIX) :].split("|")
    if len(parts) != 3 or not all(0 < len(p) <= 64 for p in parts):
        return None
    return parts[0], parts[1], parts[2]


def image_hash(image: bytes) -> str:
    """SHA-256 (hex) of an image."""
    return hashlib.sha256(image).hexdigest()
