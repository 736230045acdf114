"""A device's settings (``domain.device_settings``): reading and writing them.

Rules:
- ``read_settings``: ``names`` lists 1 to ``params.MAX_LIST`` setting names; the answer is
  ``{"settings": {name: value}}`` for exactly those names: the value written last, else the
  registry's default.
- ``write_settings``: ``settings`` holds 1 or more settings with their new values; the
  answer is ``{"previous": {name: value before}}``.
- Before anything is read or changed, in this order: every name must be a setting of the
  device's type (else BAD_REQUEST naming it); the device's model must have every one (else
  NOT_SUPPORTED naming them: ``device_models.unsupported_reason``); every value written
  must be valid (else BAD_REQUEST naming the setting and the rule). Nothing changes unless
  every setting passes.
- ``paymentMode`` is the device's prepayment flag and ``importMpxn`` its meter point (what
  ``read_configuration`` reports); an ``alertBehaviours`` write is merged into the
  behaviours held; every other setting is stored as written (normalised) in the device's
  extras, created on the first write.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from s1adopt.domain.device_models import unsupported_reason
from s1adopt.domain.device_settings import SETTINGS, InvalidSetting, check_setting, setting_for
from s1adopt.domain.operations import DeviceOperation
from s1adopt.emulators.world.call import Call
from s1adopt.emulators.world.core_api import CoreRefusal
from s1adopt.emulators.world.params import bad_request
from s1adopt.formats.device_auth import ErrorCode


def _invalid(exc: InvalidSetting) -> CoreRefusal:
    return CoreRefusal(ErrorCode.BAD_REQUEST, str(exc))


def _checked_names(call: Call, op: DeviceOperation, names: Iterable[str]) -> list[str]:
    """The names, each a setting of the device's type that its model has (see the rules)."""
    model = call.device.model
    listed = list(names)
    try:
        for name in listed:
            setting_for(name, model.device_type)
    except InvalidSetting as exc:
        raise _invalid(exc) from None
    reason = unsupported_reason(model, op, listed)
    if reason is not None:
        raise CoreRefusal(ErrorCode.NOT_SUPPORTED, reason)
    return listed


def read_settings(call: Call) -> dict[str, Any]:
    """The values of the settings named."""
    names = call.params["names"]
    if not names:
        raise bad_request("names", "must name at least one setting")
    listed = _checked_names(call, DeviceOperation.READ_SETTINGS, names)
    return {"settings": {name: copy.deepcopy(call.device.setting(name)) for name in listed}}


def write_settings(call: Call) -> dict[str, Any]:
    """Write every setting given, or none; answer the values they had."""
    given: dict[str, Any] = call.params["settings"]
    if not given:
        raise bad_request("settings", "must hold at least one setting")
    _checked_names(call, DeviceOperation.WRITE_SETTINGS, given)
    kind = call.device.model.device_type
    try:
        values = {name: check_setting(name, value, kind) for name, value in given.items()}
    except InvalidSetting as exc:
        raise _invalid(exc) from None
    device = call.device
    previous = {name: copy.deepcopy(device.setting(name)) for name in values}
    for name, value in values.items():
        if name == "paymentMode":
            device.prepayment = value == "prepayment"
        elif name == "importMpxn":
            device.mpxn = value
        else:
            extras = device.more()
            if extras.settings is None:
                extras.settings = {}
            merged = {**device.setting(name), **value} if SETTINGS[name].merges else value
            extras.settings[name] = merged
    return {"previous": previous}
