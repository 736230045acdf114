"""Acknowledgements and rejections of files taken in from the exchange, and the XML plumbing
shared by every file the service sends through the exchange.

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
- times are timezone-aware and written in UTC.

Shared rules for the files sent (acknowledgements, notices, reports, registration status):
written to ``<name>.partial``, synced, then renamed, so a reader never sees half a file; read
back with the safe intake rules of ``formats.safe_xml`` (size bound, no DTD, UTF-8 only, no
network) and validated against the kind's XSD; anything wrong raises ``ExchangeFileRejected``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import IO, Any, cast

from lxml import etree

from s1adopt.domain.errors import ExchangeFileRejected, InvalidIdentity
from s1adopt.domain.identities import Eui64
from s1adopt.domain.programme import FileFault
from s1adopt.formats.exchange.names import ACK_PREFIX, NACK_PREFIX
from s1adopt.formats.safe_xml import PROLOG_LIMIT, DocumentRejected, check_prolog

NAMESPACE = "urn:s1adopt:acknowledgement:v1"
SCHEMA_VERSION = "1.0"  # written by every exchange output of version 1
ORIGINAL_NAME_LIMIT = 255 - len(NACK_PREFIX) - len(".xml")  # bytes, so the answer fits a name
DEFAULT_MAX_BYTES = 256 * 1024**2
WHERE_LIMIT, TEXT_LIMIT = 200, 4000  # characters, as in the XSD

_Q = "{" + NAMESPACE + "}"
_NSMAP: Any = {None: NAMESPACE}  # lxml accepts None as the default prefix
_DIGEST = re.compile(r"[0-9a-f]{64}")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NOT_IN_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")


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
    with atomic_output(path) as raw, etree.xmlfile(raw, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element(_Q + "Acknowledgement", {"schemaVersion": SCHEMA_VERSION}, nsmap=_NSMAP):
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
    sender = root.find(_Q + "Sender")
    accepted = child_text(root, _Q + "Status") == "accepted"
    faults = tuple(
        (child_text(f, _Q + "Where"), child_text(f, _Q + "Problem"))
        for f in root.iterfind(f"{_Q}Faults/{_Q}Fault")
    )
    ack = Acknowledgement(
        original_name=child_text(root, _Q + "OriginalName"),
        digest=child_text(root, _Q + "SHA256"),
        sender=None if sender is None else parse_eui(sender.text or "", path.name),
        received_at=parse_time(child_text(root, _Q + "ReceivedAt"), path.name),
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


# --- shared by the exchange output formats ---------------------------------------------------


@cache
def exchange_schema(filename: str) -> etree.XMLSchema:
    """The XSD ``filename`` of this package, loaded with network access off."""
    text = resources.files("s1adopt.formats.exchange").joinpath(filename).read_bytes()
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.fromstring(text, parser))


@contextmanager
def atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """A binary file that appears at ``path`` complete, or not at all.

    Written to ``<path>.partial``, flushed and synced, then renamed over ``path``; on an error
    the partial file is removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
    _sync_directory(path.parent)


def read_exchange_xml(path: Path, schema_file: str, max_bytes: int) -> etree._Element:
    """Parse a whole exchange document safely and validate it; return its root.

    Rejects (``ExchangeFileRejected``) a file over ``max_bytes``, with a DTD, not UTF-8,
    malformed or not valid against ``schema_file``.
    """
    name = path.name
    try:
        with open(path, "rb") as raw:
            data = raw.read(max_bytes + 1)
    except OSError as exc:
        raise _rejected(name, f"cannot be read: {exc.strerror}") from exc
    if len(data) > max_bytes:
        raise _rejected(name, f"larger than the limit of {max_bytes:,} bytes")
    try:
        check_prolog(data[:PROLOG_LIMIT], name)
    except DocumentRejected as exc:
        raise _rejected(name, str(exc).removeprefix(f"{name}: ")) from exc
    parser = etree.XMLParser(
        encoding="utf-8",  # never trust a declared encoding: the prolog check is byte-level
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise ExchangeFileRejected(
            f"{name}: not well-formed XML: {exc.msg}", [(f"line {exc.lineno}", str(exc.msg))]
        ) from exc
    schema = exchange_schema(schema_file)
    if not schema.validate(root):
        errors = cast(Iterable[Any], schema.error_log)  # the stubs do not say it iterates
        faults = [(f"line {e.line}", str(e.message)) for e in errors]
        raise ExchangeFileRejected(f"{name}: not valid against {schema_file}", faults)
    return root


def leaf(xf: Any, tag: str, text: str, end: str = "\n") -> None:
    """Write ``<tag>text</tag>`` then ``end`` to an ``etree.xmlfile``.

    Elements are written through ``xf`` rather than built and written whole, so they inherit
    the namespace declared on the root instead of repeating it.
    """
    with xf.element(tag):
        xf.write(text)
    if end:
        xf.write(end)


def child_text(elem: etree._Element, tag: str) -> str:
    """The text of ``elem``'s child ``tag`` ("" when absent or empty)."""
    child = elem.find(tag)
    return "" if child is None else child.text or ""


def xml_text(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot hold replaced by U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def bounded(text: str, limit: int) -> str:
    """``xml_text(text)`` cut to ``limit`` characters (the last one an ellipsis when cut)."""
    safe = xml_text(text)
    return safe if len(safe) <= limit else safe[: limit - 1] + "\u2026"


def utc_text(at: datetime) -> str:
    """A timezone-aware time as ISO 8601 UTC (``...Z``); ``ValueError`` for a naive time."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at.isoformat()} has no time zone; give a timezone-aware time")
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str, name: str) -> datetime:
    """A time written with a zone (as ``utc_text`` writes it), as an aware UTC datetime."""
    if not _TIME.fullmatch(text):
        raise _rejected(name, f"{text!r} is not an ISO 8601 time with a zone")
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError as exc:
        raise _rejected(name, f"{text!r}: {exc}") from exc


def parse_eui(text: str, name: str) -> Eui64:
    """An EUI-64 from a file; ``ExchangeFileRejected`` when it is not one."""
    try:
        return Eui64.parse(text)
    except InvalidIdentity as exc:
        raise _rejected(name, str(exc)) from exc


def _rejected(name: str, problem: str) -> ExchangeFileRejected:
    return ExchangeFileRejected(f"{name}: {problem}", [("file", problem)])


def _sync_directory(directory: Path) -> None:
    """Make the rename durable (best effort where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
