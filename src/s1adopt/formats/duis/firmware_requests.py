"""The body of 11.1 Update Firmware: the image, its version label and the devices.

Rules: the image is base64 of at most ``MAX_IMAGE_BYTES`` bytes; the version label is 1 to 8
characters (DUIS's bound: a SMETS1 image names its full version itself); the device list is
1 to ``MAX_DEVICES`` EUI-64s separated by whitespace, each once. A field that is wrong
raises ``InvalidField`` naming it. ``update_firmware_body`` builds the body for users' tools.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from s1adopt.domain.duis import DUIS_NAMESPACE
from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.identities import Eui64
from s1adopt.formats.duis.requests import InvalidField
from s1adopt.formats.firmware import MAX_IMAGE_BYTES

_NS = "{" + DUIS_NAMESPACE + "}"
MAX_DEVICES = 50_000


@dataclass(frozen=True, slots=True)
class FirmwareUpdate:
    """What an Update Firmware (11.1) asks for."""

    image: bytes
    version_label: str
    devices: tuple[Eui64, ...]


def read_update_firmware(body: etree._Element) -> FirmwareUpdate:
    """The update an UpdateFirmware body asks for (``InvalidField`` names what is wrong)."""
    where = "UpdateFirmware"
    if body.tag != _NS + where:
        raise InvalidField(where, "expected an UpdateFirmware element")
    fields = {
        c.tag[len(_NS) :]: c for c in body if isinstance(c.tag, str) and c.tag.startswith(_NS)
    }
    image_text = "".join((_field(fields, where, "FirmwareImage").text or "").split())
    if len(image_text) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise InvalidField(f"{where}/FirmwareImage", f"an image is at most {MAX_IMAGE_BYTES} bytes")
    try:
        image = base64.b64decode(image_text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidField(f"{where}/FirmwareImage", "is not base64") from exc
    if not image:
        raise InvalidField(f"{where}/FirmwareImage", "is empty")
    label = (_field(fields, where, "FirmwareVersion").text or "").strip()
    if not 1 <= len(label) <= 8:
        raise InvalidField(f"{where}/FirmwareVersion", "must be 1 to 8 characters")
    listed = (_field(fields, where, "DeviceIDList").text or "").split()
    if not 1 <= len(listed) <= MAX_DEVICES:
        raise InvalidField(f"{where}/DeviceIDList", f"must name 1 to {MAX_DEVICES} devices")
    devices: list[Eui64] = []
    for text in listed:
        try:
            device = Eui64.parse(text)
        except InvalidIdentity as exc:
            raise InvalidField(f"{where}/DeviceIDList", str(exc)) from exc
        if device in devices:
            raise InvalidField(f"{where}/DeviceIDList", f"names {device} twice")
        devices.append(device)
    return FirmwareUpdate(image, label, tuple(devices))


def update_firmware_body(
    image: bytes, version_label: str, devices: Sequence[Eui64]
) -> etree._Element:
    """An UpdateFirmware body (for users' tools)."""
    root = etree.Element(_NS + "UpdateFirmware", nsmap={"sr": DUIS_NAMESPACE})
    etree.SubElement(root, _NS + "FirmwareImage").text = base64.b64encode(image).decode()
    etree.SubElement(root, _NS + "FirmwareVersion").text = version_label[:8]
    etree.SubElement(root, _NS + "DeviceIDList").text = " ".join(d.value for d in devices)
    return root


def _field(fields: dict[str, etree._Element], where: str, name: str) -> etree._Element:
    element = fields.get(name)
    if element is None or len(element):
        raise InvalidField(f"{where}/{name}", "is missing or holds elements")
    return element
