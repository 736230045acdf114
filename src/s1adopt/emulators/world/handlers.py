"""Which function carries out each operation of ``domain.operations.CATALOGUE``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from s1adopt.domain.operations import CATALOGUE, DeviceOperation
from s1adopt.emulators.world import (
    ops_billing,
    ops_device,
    ops_firmware,
    ops_han,
    ops_readings,
    ops_settings,
    ops_supply,
)
from s1adopt.emulators.world.call import Call

Handler = Callable[[Call], dict[str, Any]]
D = DeviceOperation

HANDLERS: dict[DeviceOperation, Handler] = {
    D.READ_IDENTITY: ops_device.read_identity,
    D.READ_CONFIGURATION: ops_device.read_configuration,
    D.REPLACE_CREDENTIAL: ops_device.replace_credential,
    D.SYNCHRONISE_CLOCK: ops_device.synchronise_clock,
    D.READ_INSTANTANEOUS: ops_readings.read_instantaneous,
    D.READ_PROFILE: ops_readings.read_profile,
    D.READ_DAILY_LOG: ops_readings.read_daily_log,
    D.READ_EVENT_LOG: ops_device.read_event_log,
    D.READ_SECURITY_LOG: ops_device.read_security_log,
    D.UPDATE_TARIFF: ops_billing.update_tariff,
    D.UPDATE_PRICE: ops_billing.update_price,
    D.TOP_UP: ops_billing.top_up,
    D.READ_BALANCE: ops_billing.read_balance,
    D.ADJUST_DEBT: ops_billing.adjust_debt,
    D.ACTIVATE_EMERGENCY_CREDIT: ops_billing.activate_emergency_credit,
    D.ENABLE_SUPPLY: ops_supply.enable_supply,
    D.DISABLE_SUPPLY: ops_supply.disable_supply,
    D.ARM_SUPPLY: ops_supply.arm_supply,
    D.DISPLAY_MESSAGE: ops_supply.display_message,
    D.UPDATE_FIRMWARE: ops_firmware.update_firmware,
    D.ACTIVATE_FIRMWARE: ops_firmware.activate_firmware,
    D.JOIN_DEVICE: ops_han.join_device,
    D.UNJOIN_DEVICE: ops_han.unjoin_device,
    D.READ_SETTINGS: ops_settings.read_settings,
    D.WRITE_SETTINGS: ops_settings.write_settings,
    D.CLEAR_EVENT_LOG: ops_device.clear_event_log,
    D.READ_HAN_LOG: ops_han.read_han_log,
}

assert set(HANDLERS) == set(CATALOGUE), "every catalogued operation needs a handler"
