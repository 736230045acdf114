"""The communications hub's home area network (HAN): joining and removing IHDs and PPMIDs,
and the HAN device log of a hub or gas proxy.

Rules: a device is on a CHF's (or GPF's) HAN if it was joined through this CHF, or if the
fleet installed it with the CHF (or GPF: its ``associated`` device), and it was not removed
since. ``device`` is any spelling of an EUI-64 and ``deviceType`` is IHD or PPMID
(BAD_REQUEST otherwise); a type that contradicts the device this head end knows, joining a
member, or removing a device that is not one is REJECTED. ``read_han_log`` answers every
member with its device type (a joined device this head end does not know: the type it was
joined as), sorted by device ID.
"""

from __future__ import annotations

from typing import Any

from s1adopt.domain.errors import InvalidIdentity
from s1adopt.domain.identities import Eui64
from s1adopt.emulators.world.call import Call, rejected
from s1adopt.emulators.world.params import bad_request

JOINABLE = frozenset({"IHD", "PPMID"})


def _other(call: Call) -> str:
    try:
        return Eui64.parse(call.params["device"]).hex
    except InvalidIdentity:
        raise bad_request("device", "must be an EUI-64 (16 hex digits)") from None


def _member(call: Call, other: str) -> bool:
    extras = call.device.extras
    if extras is not None and extras.han_joined and other in extras.han_joined:
        return True
    if extras is not None and extras.han_left and other in extras.han_left:
        return False
    known = call.headend.devices.get(other)
    return known is not None and known.associated == call.device_hex


def join_device(call: Call) -> dict[str, Any]:
    """Join an IHD or PPMID to this hub's HAN."""
    other, kind = _other(call), call.params["deviceType"]
    if kind not in JOINABLE:
        raise bad_request("deviceType", f"must be one of {', '.join(sorted(JOINABLE))}")
    known = call.headend.devices.get(other)
    if known is not None and known.model.device_type.value != kind:
        raise rejected(f"device {other} is a {known.model.device_type}, not a {kind}")
    if _member(call, other):
        raise rejected(f"device {other} is already on this HAN")
    extras = call.device.more()
    if extras.han_joined is None:
        extras.han_joined = {}
    extras.han_joined[other] = kind
    if extras.han_left:
        extras.han_left.discard(other)
    return {"joined": other}


def unjoin_device(call: Call) -> dict[str, Any]:
    """Remove a device from this hub's HAN."""
    other = _other(call)
    if not _member(call, other):
        raise rejected(f"device {other} is not on this HAN")
    extras = call.device.more()
    if extras.han_joined:
        extras.han_joined.pop(other, None)
    extras.han_left = (extras.han_left or set()) | {other}
    return {"unjoined": other}


def read_han_log(call: Call) -> dict[str, Any]:
    """The devices on this hub's (or gas proxy's) HAN, with their types, by device ID."""
    extras = call.device.extras
    joined = {} if extras is None or extras.han_joined is None else extras.han_joined
    left = set() if extras is None or extras.han_left is None else extras.han_left
    members = {
        key: call.headend.devices[key].model.device_type.value
        for key in call.headend.han_members(call.device_hex)
        if key not in left
    }
    members.update(joined)  # joining checked the type against the device known
    return {"devices": [{"device": key, "deviceType": members[key]} for key in sorted(members)]}
