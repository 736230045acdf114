"""The one exception hierarchy of s1adopt.

Foreign exceptions are translated into these at the edge (``raise ... from exc``) so that
entrypoints can map every failure to a message or response in one table.
"""


class S1AdoptError(Exception):
    """Base of every error this system raises on purpose."""


class InvalidIdentity(S1AdoptError, ValueError):
    """An EUI-64, MPAN or MPRN that is malformed or fails its check digit."""


class IllegalTransition(S1AdoptError):
    """A state machine was asked to move along an edge its transition table does not hold."""


class MigrationFileRejected(S1AdoptError):
    """A migration file as a whole cannot be accepted (unsafe, malformed, oversized, wrong schema).

    Nothing of a rejected file is persisted.
    """


class DuplicateBatch(S1AdoptError):
    """The same migration file (by content digest) was already taken in as another batch."""


class CredentialError(S1AdoptError):
    """A credential could not be decrypted or authenticated (wrong key, tampered data)."""


class HeadEndError(S1AdoptError):
    """A head end or device could not carry out an operation."""


class DeviceUnreachable(HeadEndError):
    """The device did not answer through its head end (no WAN communication)."""


class DeviceAuthenticationFailed(HeadEndError):
    """The device rejected the credential presented to it."""


class HeadEndUnavailable(HeadEndError):
    """The head end itself could not be reached or answered with a server fault."""


class ProtocolViolation(HeadEndError):
    """A head end answered with something the protocol does not allow."""


class OperationNotSupported(HeadEndError):
    """The device's model does not support the operation (a variation to Equivalent Steps)."""


class CommandRejected(HeadEndError):
    """The device refused the command as given (bad parameters, wrong state, duplicate UTRN)."""


class HanFailure(HeadEndError):
    """The communications hub could not reach the device over the home area network."""


class NotFound(S1AdoptError, LookupError):
    """A device, meter point, installation or batch that the inventory does not hold."""


class ConfigurationError(S1AdoptError):
    """Settings are missing or inconsistent (for example no credential key)."""


class ExchangeFileRejected(S1AdoptError):
    """A file sent through the exchange cannot be taken in; ``faults`` name each problem as
    (where, problem) pairs, for the rejection file sent back to its sender."""

    def __init__(self, message: str, faults: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.faults = faults if faults is not None else [("file", message)]


class PermissionDenied(S1AdoptError):
    """The actor may not do this (for example a supplier acting on an installation it is not
    responsible for)."""


class InvalidRequest(S1AdoptError, ValueError):
    """A request that cannot be carried out as asked (the message says why and what to do)."""
