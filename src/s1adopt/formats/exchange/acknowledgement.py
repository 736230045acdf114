"""Acknowledgements and rejections of files taken in from the exchange.

Rules:
- every file taken in is answered by ``ACK_<original name>.xml`` (accepted) or
  ``NACK_<original name>.xml`` (rejected), naming the file, its SHA-256, its sender, when it
  arrived, a summary and, for a rejection, every fault as (where, problem) pairs in order;
- a rejection lists at least one fault and an acceptance none;
- the original name goes into the answer's name with path separators and control characters
  replaced by ``_`` (so the answer is one file in its directory), and into its content with
  characters XML cannot hold replaced by U+FFFD; names longer than ``ORIGINAL_NAME_LIMIT``
  UTF-8 bytes cannot be answered by name (``ValueError``);
- free texts (summary, faults) may echo hostile input: they are made XML-safe and cut to the
  schema's bounds, never refused;
- times are timezone-aware and written in UTC;
- written atomically and read back safely, as every file the service sends (``xmlio``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from s1adopt.domain.errors import ExchangeFileRejected
from s1adopt.domain.identities import Eui64
from s1adopt.domain.programme import FileFault
from s1adopt.formats.exchange.names import ACK_PREFIX, NACK_PREFIX
from s1adopt.formats.exchange.xmlio import (
    TEXT_LIMIT,
    FirstFault,
    atomic_document,
    bounded,
    child_text,
    leaf,
    parse_time,
    read_exchange_xml,
    require_eui,
    utc_text,
    xml_text,
)
from s1adopt.formats.exchange.xmlio import exchange_schema as exchange_schema

NAMESPACE = "urn:s1adopt:acknowledgement:v1"
ORIGINAL_NAME_LIMIT = 255 - len(NACK_PREFIX) - len(".xml")  # bytes, so the answer fits a name
DEFAULT_MAX_BYTES = 256 * 1024**2
WHERE_LIMIT = 200  # characters, as in the XSD (free texts: TEXT_LIMIT)

_Q = "{" + NAMESPACE + "}"
_DIGEST = re.compile(r"[0-9a-f]{64}")
_NOT_IN_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """The answer to one file taken in: accepted, or rejected with its faults."""

    original_name: str
    digest: str  # SHA-256 of the file as received, lower-case hex
    sender: Eui64 | None  # None when the sender could not be told (e.g. a malformed name)
    received_at: datetime
    accepted: bool
    summary: str
    faults: tuple[tuple[str, str], ...] = ()

    @property
    def status(self) -> str:
        """``accepted`` or ``rejected``, as written in the file."""
        return "accepted" if self.accepted else "rejected"


def acknowledgement_name(original_name: str, accepted: bool) -> str:
    """``ACK_<original name>.xml`` or ``NACK_<original name>.xml`` (made one safe file name)."""
    if not original_name:
        raise ValueError("the original file name is empty")
    safe = _NOT_IN_NAME.sub("_", xml_text(original_name))
    if len(safe.encode()) > ORIGINAL_NAME_LIMIT:
        raise ValueError(
            f"the original file name is longer than {ORIGINAL_NAME_LIMIT} bytes, so it cannot be "
            "answered by name; quarantine the file instead"
        )
    return (ACK_PREFIX if accepted else NACK_PREFIX) + safe + ".xml"


def acknowledged_file(name: str) -> tuple[str, bool]:
    """The inverse of ``acknowledgement_name``: (original name, accepted)."""
    for prefix, accepted in ((ACK_PREFIX, True), (NACK_PREFIX, False)):
        if name.startswith(prefix) and name.endswith(".xml") and len(name) > len(prefix) + 4:
            return name[len(prefix) : -len(".xml")], accepted
    raise ExchangeFileRejected(
        f"{name}: not an acknowledgement name (ACK_<name>.xml or NACK_<name>.xml)",
        [("name", "not ACK_<name>.xml or NACK_<name>.xml")],
    )


def write_acknowledgement(
    directory: Path,
    original_name: str,
    digest: str,
    sender: Eui64 | None,
    received_at: datetime,
    accepted: bool,
    summary: str,
    faults: Iterable[tuple[str, str] | FileFault] = (),
) -> Path:
    """Write the acknowledgement (or rejection) of one file taken in; return its path.

    A rejection needs at least one fault and an acceptance takes none (``ValueError``).
    """
    pairs = [(f.where, f.problem) if isinstance(f, FileFault) else f for f in faults]
    if accepted and pairs:
        raise ValueError("an accepted file has no faults; reject it or drop the faults")
    if not accepted and not pairs:
        raise ValueError("a rejection must say what is wrong: give at least one fault")
    if not _DIGEST.fullmatch(digest.lower()):
        raise ValueError(f"{digest!r} is not a SHA-256 digest in hex")
    path = directory / acknowledgement_name(original_name, accepted)
    at = utc_text(received_at)
    with atomic_document(path, "Acknowledgement", NAMESPACE) as xf:
        xf.write("\n")
        leaf(xf, _Q + "OriginalName", xml_text(original_name))
        leaf(xf, _Q + "SHA256", digest.lower())
        if sender is not None:
            leaf(xf, _Q + "Sender", sender.value)
        leaf(xf, _Q + "ReceivedAt", at)
        leaf(xf, _Q + "Status", "accepted" if accepted else "rejected")
        leaf(xf, _Q + "Summary", bounded(summary, TEXT_LIMIT))
        if pairs:
            with xf.element(_Q + "Faults"):
                xf.write("\n")
                for where, problem in pairs:
                    with xf.element(_Q + "Fault"):
                        leaf(xf, _Q + "Where", bounded(where, WHERE_LIMIT))
                        leaf(xf, _Q + "Problem", bounded(problem, TEXT_LIMIT) or "?")
                    xf.write("\n")
    return path


def read_acknowledgement(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Acknowledgement:
    """Read an acknowledgement back; its name must match its content and status."""
    named_original, named_accepted = acknowledged_file(path.name)
    root = read_exchange_xml(path, "acknowledgement-v1.xsd", max_bytes)
    first = FirstFault(path.name)
    sender = root.find(_Q + "Sender")
    accepted = child_text(root, _Q + "Status") == "accepted"
    faults = tuple(
        (child_text(f, _Q + "Where"), child_text(f, _Q + "Problem"))
        for f in root.iterfind(f"{_Q}Faults/{_Q}Fault")
    )
    ack = Acknowledgement(
        original_name=child_text(root, _Q + "OriginalName"),
        digest=child_text(root, _Q + "SHA256"),
        sender=None if sender is None else require_eui(sender.text or "", first),
        received_at=parse_time(child_text(root, _Q + "ReceivedAt"), first),
        accepted=accepted,
        summary=child_text(root, _Q + "Summary"),
        faults=faults,
    )
    problems = []
    if accepted != named_accepted:
        problems.append(("Status", f"the name says {'ACK' if named_accepted else 'NACK'}"))
    if accepted == bool(faults):
        problems.append(("Faults", "a rejection lists faults and an acceptance none"))
    if path.name != acknowledgement_name(ack.original_name, accepted):
        problems.append(
            ("name", f"does not answer {ack.original_name!r} (it names {named_original!r})")
        )
    if problems:
        raise ExchangeFileRejected(f"{path.name}: inconsistent acknowledgement", problems)
    return ack
