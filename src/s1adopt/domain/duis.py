"""DUIS service requests and responses: the vocabulary the gateway's checks speak.

The response codes are those of the DUIS V5.4 schema's enumeration. Their meanings in DUIS
come from a secondary source; where the public material is silent (malformed requests, replay,
anomaly quarantine, requests this service does not serve yet) the project chose codes from the
same enumeration and says so here: ``ResponseCode.meaning`` is the table the gateway and the
README use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import IntEnum, StrEnum

from s1adopt.domain.errors import InvalidIdentity, S1AdoptError
from s1adopt.domain.identities import Eui64

DUIS_NAMESPACE = "http://www.dccinterface.co.uk/ServiceUserGateway"
MMC_NAMESPACE = "http://www.dccinterface.co.uk/ResponseAndAlert"
DSIG_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"
SCHEMA_VERSION = "5.4"
MAX_COUNTER = 2**64 - 1  # the RequestID counter is an unsigned 64-bit integer
# a certificate's serial number in decimal: RFC 5280 allows 20 octets (up to 49 digits)
MAX_SERIAL_DIGITS = 64
# a device request future-dated to this moment cancels its sender's waiting future-dated
# requests of the same SRV for the device (DCC's "cancellation" examples use it)
CANCELLATION_TIME = datetime(3000, 12, 31, tzinfo=UTC)


class CommandVariant(IntEnum):
    """How a request is carried out (DUIS command variants)."""

    SEND = 1  # sent to the device over the WAN; response delivered later (I99 now)
    LOCAL = 2  # command returned for local delivery
    SEND_AND_LOCAL = 3  # both
    TRANSFORM = 4  # critical: return the pre-command for the user to sign
    SIGNED_SEND = 5  # a signed pre-command sent on like 1
    SIGNED_LOCAL = 6  # ... like 2
    SIGNED_SEND_AND_LOCAL = 7  # ... like 3
    NON_DEVICE = 8  # non-device request answered synchronously


class Endpoint(StrEnum):
    """The gateway's three request endpoints (``POST /api/v1/<name>``)."""

    COMMANDS = "serviceS"  # requests to devices
    NON_DEVICE = "serviceD"  # non-device requests (and local-only commands)
    TRANSFORM = "serviceT"  # critical requests to transform into pre-commands


_ENDPOINTS: dict[CommandVariant, frozenset[Endpoint]] = {
    CommandVariant.SEND: frozenset({Endpoint.COMMANDS}),
    CommandVariant.LOCAL: frozenset({Endpoint.COMMANDS, Endpoint.NON_DEVICE}),
    CommandVariant.SEND_AND_LOCAL: frozenset({Endpoint.COMMANDS}),
    CommandVariant.TRANSFORM: frozenset({Endpoint.TRANSFORM}),
    CommandVariant.SIGNED_SEND: frozenset({Endpoint.COMMANDS}),
    CommandVariant.SIGNED_LOCAL: frozenset({Endpoint.COMMANDS, Endpoint.NON_DEVICE}),
    CommandVariant.SIGNED_SEND_AND_LOCAL: frozenset({Endpoint.COMMANDS}),
    CommandVariant.NON_DEVICE: frozenset({Endpoint.NON_DEVICE}),
}


def endpoints_for(variant: CommandVariant) -> frozenset[Endpoint]:
    """The endpoints a command variant may be sent to."""
    return _ENDPOINTS[variant]


class ResponseCode(StrEnum):
    """DUIS response codes the gateway gives, with what each means here."""

    SUCCESS = "I0"
    ACKNOWLEDGED = "I99"
    UNKNOWN_USER = "E1"  # signer unknown, signature invalid, originator not the signer
    ROLE_NOT_ELIGIBLE = "E2"  # the user's roles are not eligible for the SRV
    USER_NOT_ACTIVE = "E3"  # the user is suspended
    NOT_RESPONSIBLE = "E4"  # the user is not the right party for the device now
    DEVICE_STATUS = "E5"  # the device's SMI status does not allow the request
    INVALID_FOR_DEVICE = "E11"  # not valid for the device (its type, or SMETS1)
    VARIANT_NOT_ALLOWED = "E12"  # the command variant (or body) does not go with the SRV
    WRONG_ENDPOINT = "E13"  # the request type is not served at this URL
    NOT_LOCAL = "E17"  # not available as a local command
    UNKNOWN_DEVICE = "E19"  # the target device is not in the inventory
    COMMUNICATIONS_FAILURE = "E20"
    NO_RESPONSE = "E21"
    FUTURE_DATED_TIMED_OUT = "E30"
    REPLAYED = "E31"  # project's choice: the RequestID counter does not increase
    QUARANTINED = "E40"  # project's choice: held by anomaly detection
    PRE_COMMAND_INVALID = "E41"  # project's choice: a signed pre-command that does not check
    DCO_REFUSED = "E42"  # project's choice: the DCO refused a critical command
    CREDENTIALS_NOT_HELD = "E43"  # project's choice: the device holds another supplier's
    MALFORMED = "E1000"  # project's choice: not safe, well-formed XML of the right size/type
    SCHEMA_INVALID = "E1001"  # project's choice: fails schema validation
    NOT_SERVED_YET = "E1011"  # project's choice: a device request this release does not serve

    @property
    def meaning(self) -> str:
        """What the code says to a user, in a sentence."""
        return _MEANINGS[self]

    @property
    def is_error(self) -> bool:
        """An E code."""
        return self.value.startswith("E")


_MEANINGS: dict[ResponseCode, str] = {
    ResponseCode.SUCCESS: "Success.",
    ResponseCode.ACKNOWLEDGED: "Acknowledged: accepted and passed access control.",
    ResponseCode.UNKNOWN_USER: (
        "Failed authorisation: the signature does not verify, its signer is not a registered "
        "user's certificate, or the RequestID's originator is not the signer."
    ),
    ResponseCode.ROLE_NOT_ELIGIBLE: "Failed authorisation: no role of the user is eligible.",
    ResponseCode.USER_NOT_ACTIVE: "Failed authorisation: the user is not active.",
    ResponseCode.NOT_RESPONSIBLE: (
        "Failed authorisation: the user is not the party responsible for the device today."
    ),
    ResponseCode.DEVICE_STATUS: "Failed authorisation: the device's SMI status does not allow it.",
    ResponseCode.INVALID_FOR_DEVICE: "Invalid request for this device.",
    ResponseCode.VARIANT_NOT_ALLOWED: "The request and the command variant do not go together.",
    ResponseCode.WRONG_ENDPOINT: "The request type is not served at this URL.",
    ResponseCode.NOT_LOCAL: "Not available as a local command.",
    ResponseCode.UNKNOWN_DEVICE: "The device is not in the Smart Metering Inventory.",
    ResponseCode.COMMUNICATIONS_FAILURE: "Communications failure with the device.",
    ResponseCode.NO_RESPONSE: "No response from the device.",
    ResponseCode.FUTURE_DATED_TIMED_OUT: "The future-dated command timed out.",
    ResponseCode.REPLAYED: (
        "The RequestID's counter is not above the last one this user sent: a replay."
    ),
    ResponseCode.QUARANTINED: (
        "Held by anomaly detection: the user's requests for this SRV exceed the threshold; "
        "DCC's operator releases or deletes it."
    ),
    ResponseCode.PRE_COMMAND_INVALID: (
        "The signed pre-command is not the one the transform service issued for this request, "
        "or its signature does not verify with the user's certificate."
    ),
    ResponseCode.DCO_REFUSED: (
        "The Dual Control Organisation refused the critical command; no device saw it."
    ),
    ResponseCode.CREDENTIALS_NOT_HELD: (
        "The device still holds the previous supplier's credentials: send 6.23 Update Security "
        "Credentials (CoS) first."
    ),
    ResponseCode.MALFORMED: (
        "Not accepted: too large, not application/xml, not well-formed, or unsafe XML "
        "(DTDs and entities are refused)."
    ),
    ResponseCode.SCHEMA_INVALID: "The request does not validate against the DUIS schema.",
    ResponseCode.NOT_SERVED_YET: (
        "This request passed every check but this release does not serve its SRV."
    ),
}


class RequestRejected(S1AdoptError):
    """A check refused a request: ``code`` is the response code, the message says why."""

    def __init__(self, code: ResponseCode, message: str) -> None:
        super().__init__(message)
        self.code = code


_REQUEST_ID = re.compile(
    r"^(?P<originator>[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){7}):"
    r"(?P<target>[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){7}):(?P<counter>0|[1-9][0-9]{0,19})$"
)


@dataclass(frozen=True, slots=True, order=True)
class RequestId:
    """``<originator EUI-64>:<target EUI-64>:<counter>``."""

    originator: Eui64
    target: Eui64
    counter: int

    @classmethod
    def parse(cls, text: str) -> RequestId:
        """Parse a RequestID; ``InvalidIdentity`` names what is wrong."""
        match = _REQUEST_ID.match(text.strip())
        if match is None:
            raise InvalidIdentity(
                f"RequestID {text[:80]!r} is not <originator EUI-64>:<target EUI-64>:<counter>"
            )
        counter = int(match["counter"])
        if counter > MAX_COUNTER:
            raise InvalidIdentity(f"RequestID counter {counter} is above 2^64 - 1")
        return cls(Eui64.parse(match["originator"]), Eui64.parse(match["target"]), counter)

    def __str__(self) -> str:
        return f"{self.originator.value}:{self.target.value}:{self.counter}"

    def response_id(self) -> str:
        """The ResponseID of a device's response: target and originator swapped."""
        return f"{self.target.value}:{self.originator.value}:{self.counter}"


@dataclass(frozen=True, slots=True)
class InventoryDevice:
    """A device as Read Inventory (8.2) lists it."""

    device_id: Eui64
    device_type: str  # DUIS DeviceType: ESME, GSME, GPF, CHF, HCALCS, PPMID, IHD, CAD
    status: str | None  # SMI status
    manufacturer: str
    model: str
    firmware_version: str | None
    date_commissioned: date | None
    import_mpxn: str | None
    csp_region: str = "SMETS1"
    s1sp: str | None = "S1SP"  # the SMETS1 service provider that operates the device


# Bodies of the non-device requests the gateway answers itself (command variant 8).


@dataclass(frozen=True, slots=True)
class InventoryQuery:
    """Read Inventory (8.2): exactly one of the selectors is set."""

    device_id: Eui64 | None = None
    mpxn: str | None = None
    uprn: str | None = None
    postcode: str | None = None  # with address_identifier: a property filter
    address_identifier: str | None = None


@dataclass(frozen=True, slots=True)
class PreNotification:
    """Device Pre-notification (12.2): a device the user will install."""

    device_id: Eui64
    manufacturer: str
    model: str
    device_type: str
    smets_chts_version: str | None = None
    firmware_version: str | None = None
    esme_variant: str | None = None
    associated_gpf: Eui64 | None = None


class InventoryUpdateKind(StrEnum):
    """What an Update Inventory (8.4) request changes."""

    STATUS = "status"  # UpdateDeviceStatusExceptCH / UpdateDeviceStatusCH
    DETAILS = "details"  # UpdateDeviceDetails
    DELETE = "delete"  # DeleteDevice
    MPXN = "mpxn"  # UpdateMPxN


@dataclass(frozen=True, slots=True)
class InventoryUpdate:
    """Update Inventory (8.4)."""

    device_id: Eui64
    kind: InventoryUpdateKind
    status: str | None = None  # STATUS: the new SMI status
    manufacturer: str | None = None  # DETAILS: fields given
    model: str | None = None
    smets_chts_version: str | None = None
    firmware_version: str | None = None
    esme_variant: str | None = None
    import_mpxn: str | None = None  # MPXN
    secondary_import_mpan: str | None = None
    export_mpan: str | None = None


@dataclass(frozen=True, slots=True)
class ScheduleQuery:
    """Read Schedule (5.2): by schedule id or by device."""

    schedule_id: int | None = None
    device_id: Eui64 | None = None


@dataclass(frozen=True, slots=True)
class DeviceTarget:
    """Decommission Device (8.3) and other requests naming one device in their body."""

    device_id: Eui64


def normal_issuer(text: str) -> str:
    """An X509IssuerName in one spelling for lookups: its attributes (``TYPE=value``, split at
    commas not escaped) trimmed, types upper-cased, sorted; ``CN=U1, OU=07`` and
    ``OU=07,CN=U1`` are the same issuer."""
    parts = [p.strip() for p in re.split(r"(?<!\\),", text) if p.strip()]
    normal = []
    for part in parts:
        kind, sep, value = part.partition("=")
        normal.append(f"{kind.strip().upper()}{sep}{value.strip()}")
    return ",".join(sorted(normal))
