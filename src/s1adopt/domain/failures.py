"""Why an installation was not migrated: reason codes, each with a human explanation."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    """The migration phase in which a failure arose."""

    DATA_VALIDATION = "data_validation"
    DEVICE_TESTING = "device_testing"
    COMMISSIONING = "commissioning"


class FailureClass(StrEnum):
    """How the Migration Error Handling and Retry Strategy treats a failure reason.

    The MEHRS itself is not public; the classes are the project's reading of TMAD: a transient
    failure is retried automatically on a later migration day, a data failure waits for a
    corrected record from the SMSO, and a final failure excludes the installation at once
    (missing master keys, no WAN communications: TMAD clause 18).
    """

    TRANSIENT = "transient"  # retried automatically on a later migration day, with backoff
    DATA = "data"  # waits for a corrected record from the SMSO
    FINAL = "final"  # excludes the installation


class FailureReason(StrEnum):
    """A migration failure reason code. ``explanation`` says what it means and what to do."""

    INVALID_DEVICE_ID = "invalid_device_id"
    INVALID_MPAN = "invalid_mpan"
    INVALID_MPRN = "invalid_mprn"
    INCONSISTENT_INSTALLATION = "inconsistent_installation"
    PRODUCT_NOT_ELIGIBLE = "product_not_eligible"
    DUPLICATE_DEVICE = "duplicate_device"
    DUPLICATE_METER_POINT = "duplicate_meter_point"
    MISSING_CREDENTIALS = "missing_credentials"
    CREDENTIALS_UNREADABLE = "credentials_unreadable"
    UNKNOWN_HEAD_END = "unknown_head_end"
    DEVICE_NO_RESPONSE = "device_no_response"
    HEAD_END_UNAVAILABLE = "head_end_unavailable"
    DEVICE_MISMATCH = "device_mismatch"
    FIRMWARE_MISMATCH = "firmware_mismatch"
    CREDENTIAL_MISMATCH = "credential_mismatch"
    HAN_FAILURE = "han_failure"
    OPERATION_NOT_SUPPORTED = "operation_not_supported"
    FIRMWARE_UPGRADE_FAILED = "firmware_upgrade_failed"
    COMMISSIONING_FAILED = "commissioning_failed"
    TOO_MANY_ATTEMPTS = "too_many_attempts"

    @property
    def explanation(self) -> str:
        """A sentence for reports and notifications."""
        return _EXPLANATIONS[self]

    @property
    def stage(self) -> Stage:
        """The phase that raises this reason."""
        return _STAGES[self]

    @property
    def failure_class(self) -> FailureClass:
        """Transient, data or final (see ``FailureClass``)."""
        return _CLASSES[self]


_EXPLANATIONS: dict[FailureReason, str] = {
    FailureReason.INVALID_DEVICE_ID: (
        "A device ID is not a valid EUI-64 (16 hex digits); correct it in the migration data."
    ),
    FailureReason.INVALID_MPAN: (
        "The MPAN core is not 13 digits or fails its check digit; correct the MPAN."
    ),
    FailureReason.INVALID_MPRN: (
        "The MPRN is not 6 to 10 digits or fails its check digits; correct the MPRN."
    ),
    FailureReason.INCONSISTENT_INSTALLATION: (
        "The devices and meter points do not form a valid installation (missing CHF, meter "
        "without its meter point, association to a device not in the installation)."
    ),
    FailureReason.PRODUCT_NOT_ELIGIBLE: (
        "A device's manufacturer, model and firmware are not on the Eligible Product "
        "Combinations list; upgrade the firmware or request a PPCT for the combination."
    ),
    FailureReason.DUPLICATE_DEVICE: (
        "A device is already held by another installation in the inventory or earlier in the "
        "file; a device can belong to one installation only."
    ),
    FailureReason.DUPLICATE_METER_POINT: (
        "The MPAN or MPRN is already held by another installation in the inventory or earlier "
        "in the file; a meter point can belong to one installation only."
    ),
    FailureReason.MISSING_CREDENTIALS: (
        "The SMSO supplied no security credential for a device that needs one (missing "
        "master keys): the installation cannot be taken over and is excluded."
    ),
    FailureReason.CREDENTIALS_UNREADABLE: (
        "A device credential could not be decrypted with the service's migration key; the "
        "SMSO must re-send it encrypted for this service."
    ),
    FailureReason.UNKNOWN_HEAD_END: (
        "No head end is known for the installation's SMSO; the SMSO's head end must be "
        "connected before migration."
    ),
    FailureReason.DEVICE_NO_RESPONSE: (
        "A device did not answer through the SMSO head end: no WAN communications when "
        "migration was attempted, so the installation is excluded (TMAD clause 18)."
    ),
    FailureReason.HEAD_END_UNAVAILABLE: (
        "The SMSO head end could not be reached or kept failing; the installation will be retried."
    ),
    FailureReason.DEVICE_MISMATCH: (
        "A device reported a different type, manufacturer or model than the migration data."
    ),
    FailureReason.FIRMWARE_MISMATCH: (
        "A device reported a firmware version different from the migration data."
    ),
    FailureReason.CREDENTIAL_MISMATCH: (
        "A device rejected the SMSO credential supplied in the migration data."
    ),
    FailureReason.HAN_FAILURE: (
        "The communications hub could not reach a device over the home area network; where "
        "only the gas side fails this way, the electricity side is migrated alone (GT01)."
    ),
    FailureReason.OPERATION_NOT_SUPPORTED: (
        "A device's model does not support an operation migration needs; the model's "
        "variations to Equivalent Steps must be reviewed."
    ),
    FailureReason.FIRMWARE_UPGRADE_FAILED: (
        "A dormant installation's devices could not be upgraded to eligible firmware; the "
        "upgrade will be retried."
    ),
    FailureReason.COMMISSIONING_FAILED: (
        "DCC's credentials could not be installed on every device; the installation will be "
        "retried from where it stopped."
    ),
    FailureReason.TOO_MANY_ATTEMPTS: (
        "Five or more migration attempts failed: the installation is excluded from migration."
    ),
}

_STAGES: dict[FailureReason, Stage] = {
    reason: Stage.DATA_VALIDATION
    for reason in (
        FailureReason.INVALID_DEVICE_ID,
        FailureReason.INVALID_MPAN,
        FailureReason.INVALID_MPRN,
        FailureReason.INCONSISTENT_INSTALLATION,
        FailureReason.PRODUCT_NOT_ELIGIBLE,
        FailureReason.DUPLICATE_DEVICE,
        FailureReason.DUPLICATE_METER_POINT,
        FailureReason.MISSING_CREDENTIALS,
        FailureReason.CREDENTIALS_UNREADABLE,
    )
} | {
    FailureReason.UNKNOWN_HEAD_END: Stage.DEVICE_TESTING,
    FailureReason.DEVICE_NO_RESPONSE: Stage.DEVICE_TESTING,
    FailureReason.HEAD_END_UNAVAILABLE: Stage.DEVICE_TESTING,
    FailureReason.DEVICE_MISMATCH: Stage.DEVICE_TESTING,
    FailureReason.FIRMWARE_MISMATCH: Stage.DEVICE_TESTING,
    FailureReason.CREDENTIAL_MISMATCH: Stage.DEVICE_TESTING,
    FailureReason.HAN_FAILURE: Stage.DEVICE_TESTING,
    FailureReason.OPERATION_NOT_SUPPORTED: Stage.DEVICE_TESTING,
    FailureReason.FIRMWARE_UPGRADE_FAILED: Stage.DEVICE_TESTING,
    FailureReason.COMMISSIONING_FAILED: Stage.COMMISSIONING,
    FailureReason.TOO_MANY_ATTEMPTS: Stage.DEVICE_TESTING,
}

# Outcome labels of a successful migration, alongside the reason codes in summaries.
COMMISSIONED_OUTCOME = "commissioned"
# GT01: the gas side failed on HAN errors only, so the electricity side was migrated alone.
ELECTRICITY_ONLY_OUTCOME = "commissioned_electricity_only"

_CLASSES: dict[FailureReason, FailureClass] = {
    FailureReason.INVALID_DEVICE_ID: FailureClass.DATA,
    FailureReason.INVALID_MPAN: FailureClass.DATA,
    FailureReason.INVALID_MPRN: FailureClass.DATA,
    FailureReason.INCONSISTENT_INSTALLATION: FailureClass.DATA,
    FailureReason.PRODUCT_NOT_ELIGIBLE: FailureClass.DATA,
    FailureReason.DUPLICATE_DEVICE: FailureClass.DATA,
    FailureReason.DUPLICATE_METER_POINT: FailureClass.DATA,
    FailureReason.MISSING_CREDENTIALS: FailureClass.FINAL,  # no master keys: excluded
    FailureReason.CREDENTIALS_UNREADABLE: FailureClass.DATA,
    FailureReason.UNKNOWN_HEAD_END: FailureClass.TRANSIENT,
    FailureReason.DEVICE_NO_RESPONSE: FailureClass.FINAL,  # no WAN communications: excluded
    FailureReason.HEAD_END_UNAVAILABLE: FailureClass.TRANSIENT,
    FailureReason.DEVICE_MISMATCH: FailureClass.DATA,
    FailureReason.FIRMWARE_MISMATCH: FailureClass.DATA,
    FailureReason.CREDENTIAL_MISMATCH: FailureClass.DATA,
    FailureReason.HAN_FAILURE: FailureClass.TRANSIENT,
    FailureReason.OPERATION_NOT_SUPPORTED: FailureClass.DATA,
    FailureReason.FIRMWARE_UPGRADE_FAILED: FailureClass.TRANSIENT,
    FailureReason.COMMISSIONING_FAILED: FailureClass.TRANSIENT,
    FailureReason.TOO_MANY_ATTEMPTS: FailureClass.FINAL,
}
