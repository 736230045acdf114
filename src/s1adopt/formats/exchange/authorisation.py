"""Migration Authorisation archives (``MA_...``), their passwords (``MAPASSWORD_...``) and the
authorisation responses (``MR_...``).

Formats (``authorisation-v1.xsd``, namespace ``urn:s1adopt:authorisation:v1``):
- ``MA_<ref>_<party>_<recipient>_<yyyymmdd>_<hhmmss>.zip``: a zip holding exactly one member,
  ``authorisation.xml``, encrypted with WinZip AES and a 256-bit key; the member's root
  ``Authorisation`` has a header (Reference, Party, CreatedAt) and one ``Installation`` per
  entry with optional attributes reference, mpan, mprn (an empty attribute is an absent one);
- ``MAPASSWORD_<same fields>.txt``: the password on its first line;
- ``MR_<ref>_<party>_<recipient>_<yyyymmdd>.xml``: root ``AuthorisationResponse``, a header
  (Reference of the MA file, Party, Created), then one ``Outcome`` per entry with the entry's
  attributes, ``result`` accepted|refused and, when refused, the ``reason`` (an
  ``AuthorisationRefusal``) and a ``detail``.
Rules:
- opening an archive refuses, each as an ``ExchangeFileRejected`` fault: a wrong password, an
  unencrypted or non-AES-256 member, any other number of members or another member name, a
  member larger than ``max_bytes`` (declared size checked first, then read with the bound: zip
  bombs), a corrupt archive, invalid XML (plus the safe intake rules of ``xmlio``);
- entries are not checked against the registration data here (a service does that); a
  malformed MPAN or MPRN stays as text in its entry;
- the name's party and reference must be the header's; the recipient comes from the name
  (DCC when the name has none, as in the published sample).
"""

from __future__ import annotations

import struct
import zlib
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import pyzipper
from lxml import etree
from pyzipper.zipfile_aes import AESZipInfo

from s1adopt.domain.errors import MigrationFileRejected
from s1adopt.domain.identities import Eui64
from s1adopt.domain.programme import (
    DCC_RECIPIENT,
    AuthorisationEntry,
    AuthorisationOutcome,
    AuthorisationRefusal,
    AuthorisationRequest,
)
from s1adopt.formats.exchange.names import FileKind, build_name, parse_name
from s1adopt.formats.exchange.xmlio import (
    FaultList,
    ListLayout,
    ListWriter,
    Stamp,
    check_head,
    check_name,
    check_name_agrees,
    parse_day,
    parse_instant,
    read_bounded,
    read_list,
    recipient_of,
    stream_list,
    too_large,
)
from s1adopt.formats.safe_xml import PROLOG_LIMIT, BoundedReader

NAMESPACE = "urn:s1adopt:authorisation:v1"
MEMBER_NAME = "authorisation.xml"
MAX_PASSWORD_BYTES = 1024
DEFAULT_MAX_BYTES = 1024**3  # of a response file
ARCHIVE_OVERHEAD = 64 * 1024  # what an archive may add to its member: headers, salt, directory
MAX_DETAIL = 512  # characters of a refusal's detail (the schema's bound)
_AES_256 = 3  # the WinZip AES strength code of 256-bit keys
_AES_BITS = {1: 128, 2: 192, 3: 256}
_ENCRYPTED = 0x1  # general purpose flag bit 0
_SCHEMA = "authorisation-v1.xsd"
_REQUEST = ListLayout(
    _SCHEMA,
    NAMESPACE,
    "Authorisation",
    "Installations",
    "Installation",
    other_roots=("AuthorisationResponse",),
)
_RESPONSE = ListLayout(
    _SCHEMA, NAMESPACE, "AuthorisationResponse", "Outcomes", "Outcome", ("Authorisation",)
)
_ACCEPTED, _REFUSED = "accepted", "refused"


@dataclass(frozen=True, slots=True)
class AuthorisationResponse:
    """The answer to one authorisation file: an outcome per entry, in the file's order."""

    reference: str  # the MA file's reference
    party: Eui64  # the supplier that sent it
    created: date
    outcomes: tuple[AuthorisationOutcome, ...]
    recipient: str = DCC_RECIPIENT


# --- names ---------------------------------------------------------------------------------


def authorisation_file_name(request: AuthorisationRequest) -> str:
    """``MA_<ref>_<party>_<recipient>_<yyyymmdd>_<hhmmss>.zip`` (the time of ``created_at``)."""
    return _timed_name(FileKind.AUTHORISATION, request, ".zip")


def password_file_name(request: AuthorisationRequest) -> str:
    """``MAPASSWORD_<ref>_<party>_<recipient>_<yyyymmdd>_<hhmmss>.txt``."""
    return _timed_name(FileKind.AUTHORISATION_PASSWORD, request, ".txt")


def password_name_for(archive_name: str) -> str:
    """The name of the password file that goes with an ``MA_...`` archive name."""
    parsed = parse_name(archive_name)
    return build_name(
        FileKind.AUTHORISATION_PASSWORD,
        parsed.reference,
        parsed.party,
        parsed.recipient,
        parsed.day,
        parsed.time,
        ".txt",
    )


def authorisation_response_name(response: AuthorisationResponse) -> str:
    """``MR_<ref>_<party>_<recipient>_<yyyymmdd>.xml``."""
    return build_name(
        FileKind.AUTHORISATION_RESPONSE,
        response.reference,
        response.party,
        response.recipient,
        response.created,
    )


def _timed_name(kind: FileKind, request: AuthorisationRequest, extension: str) -> str:
    at = request.created_at
    return build_name(
        kind,
        request.reference,
        request.party,
        request.recipient,
        at.date(),
        at.time().replace(microsecond=0),
        extension,
    )


# --- the archive ---------------------------------------------------------------------------


class AuthorisationWriter(ListWriter):
    """Write an ``MA_...`` archive, entries streamed into its one AES-256 encrypted member."""

    def __init__(
        self, path: Path, reference: str, party: Eui64, created_at: datetime, password: str
    ) -> None:
        if not password or "\n" in password or "\r" in password:
            raise ValueError("an authorisation password must be one non-empty line")
        fields = (
            ("Reference", reference),
            ("Party", party.value),
            ("CreatedAt", created_at.isoformat()),
        )
        super().__init__(self._open_member, _REQUEST, fields)
        self._path, self._password, self._created_at = path, password, created_at

    def _open_member(self, stack: ExitStack) -> IO[bytes]:
        archive = stack.enter_context(
            pyzipper.AESZipFile(
                self._path, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
            )
        )
        archive.setpassword(self._password.encode("utf-8"))
        archive.setencryption(pyzipper.WZ_AES, nbits=256)
        info = AESZipInfo(MEMBER_NAME, date_time=_zip_time(self._created_at))
        info.compress_type = pyzipper.ZIP_DEFLATED
        member: IO[bytes] = stack.enter_context(archive.open(info, "w"))
        return member

    def write(self, entry: AuthorisationEntry) -> None:
        """Append one entry."""
        self.item(_entry_attributes(entry))


def write_authorisation(path: Path, request: AuthorisationRequest, password: str) -> None:
    """Write ``request`` as an encrypted archive (name it with ``authorisation_file_name``)."""
    with AuthorisationWriter(
        path, request.reference, request.party, request.created_at, password
    ) as writer:
        for entry in request.entries:
            writer.write(entry)


def write_password(path: Path, password: str) -> None:
    """Write a password file (name it with ``password_file_name``)."""
    if not password or "\n" in password or "\r" in password:
        raise ValueError("an authorisation password must be one non-empty line")
    path.write_text(password + "\n", encoding="utf-8")


def read_password(path: Path, max_bytes: int = MAX_PASSWORD_BYTES) -> str:
    """The password on the first line of a password file, stripped; the file is bounded."""
    faults = FaultList(path.name)
    data = read_bounded(path, max_bytes, faults)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise faults.fatal("file", "not UTF-8 text") from exc
    lines = text.splitlines()
    password = lines[0].strip() if lines else ""
    if not password:
        raise faults.fatal("line 1", "holds no password")
    return password


def open_authorisation(archive: Path, password: str, max_bytes: int) -> AuthorisationRequest:
    """Open an ``MA_...`` archive with its password and read its entries (see module rules)."""
    faults = FaultList(archive.name)
    parsed = check_name(archive.name, FileKind.AUTHORISATION, faults)
    try:
        size = archive.stat().st_size
    except OSError as exc:
        raise faults.fatal("archive", f"cannot be read: {exc.strerror}") from exc
    if size > max_bytes + ARCHIVE_OVERHEAD:
        raise faults.fatal("archive", too_large(size, max_bytes + ARCHIVE_OVERHEAD))
    if not password:
        faults.add("password", "no password given")
    try:
        with pyzipper.AESZipFile(archive) as zf:
            info = _only_member(zf, max_bytes, faults)
            faults.raise_if_any()
            assert info is not None
            with zf.open(info, pwd=password.encode("utf-8")) as member:
                bounded = BoundedReader(member, max_bytes, MEMBER_NAME)
                entries, header = _read_member(bounded, faults)
    except RuntimeError as exc:  # pyzipper's password check; unsupported features
        wrong = "password" in str(exc).lower()
        problem = "wrong password" if wrong else f"corrupt archive: {exc}"
        raise faults.fatal("archive", problem) from exc
    except pyzipper.BadZipFile as exc:
        if "HMAC" in str(exc):
            problem = "wrong password or corrupt data: the member fails its authentication"
        else:
            problem = f"corrupt archive: {exc}"
        raise faults.fatal("archive", problem) from exc
    except (zlib.error, struct.error, EOFError, OSError, KeyError, ValueError) as exc:
        raise faults.fatal("archive", f"corrupt archive: {exc}") from exc
    reference, party, created_at = header
    check_name_agrees(parsed, party, reference, faults)
    faults.raise_if_any()
    assert party is not None
    assert created_at is not None
    return AuthorisationRequest(reference, party, recipient_of(parsed), created_at, entries)


def _only_member(zf: Any, max_bytes: int, faults: FaultList) -> Any:
    """The archive's one member, checked (encryption, name, declared size); None if not one."""
    infos = zf.infolist()
    if len(infos) != 1:
        faults.add("archive", f"holds {len(infos)} members; exactly one, {MEMBER_NAME}, is allowed")
        return None
    info = infos[0]
    if info.filename != MEMBER_NAME:
        faults.add("archive", f"its member is {info.filename!r}, expected {MEMBER_NAME}")
    strength = getattr(info, "wz_aes_strength", None)
    if not info.flag_bits & _ENCRYPTED:
        faults.add("archive", f"{info.filename} is not encrypted; encrypt it with AES-256")
    elif getattr(info, "wz_aes_version", None) is None:
        faults.add("archive", f"{info.filename} uses ZipCrypto, not AES; encrypt it with AES-256")
    elif strength != _AES_256:
        bits = _AES_BITS.get(strength, "unknown") if isinstance(strength, int) else "unknown"
        faults.add("archive", f"{info.filename} uses AES-{bits}; AES-256 is required")
    if info.file_size > max_bytes:
        faults.add(
            "archive",
            f"{info.filename} declares {info.file_size:,} bytes, more than the limit of "
            f"{max_bytes:,}",
        )
    return info


def _read_member(
    member: BoundedReader, faults: FaultList
) -> tuple[tuple[AuthorisationEntry, ...], tuple[str, Eui64 | None, datetime | None]]:
    try:
        head = member.read(PROLOG_LIMIT)
    except MigrationFileRejected as exc:
        raise faults.fatal("archive", f"{MEMBER_NAME} is larger than the limit") from exc
    check_head(head, faults)
    # The name is checked against the header by the caller, once the archive is closed.
    header, entries = stream_list(
        _Replay(head, member), _REQUEST, Stamp("CreatedAt", parse_instant), _entry, faults
    )
    return tuple(entries), header


class _Replay:
    """A reader that gives ``head`` again before the rest of ``rest``."""

    def __init__(self, head: bytes, rest: BoundedReader) -> None:
        self._head, self._rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0 or size >= len(self._head):
                chunk, self._head = self._head, b""
            else:
                chunk, self._head = self._head[:size], self._head[size:]
            return chunk
        return self._rest.read(size)


def _zip_time(at: datetime) -> tuple[int, int, int, int, int, int]:
    at = max(at.replace(tzinfo=None), datetime(1980, 1, 1))  # the earliest a zip can hold
    return (at.year, at.month, at.day, at.hour, at.minute, at.second)


def _entry(elem: etree._Element, where: str, faults: FaultList) -> AuthorisationEntry:
    """An entry as written: a malformed MPAN or MPRN stays as text (a service checks it)."""
    return AuthorisationEntry(
        mpan=_optional(elem, "mpan"),
        mprn=_optional(elem, "mprn"),
        reference=_optional(elem, "reference"),
    )


def _optional(elem: etree._Element, name: str) -> str | None:
    value = (elem.get(name) or "").strip()
    return value or None


def _entry_attributes(entry: AuthorisationEntry) -> dict[str, str]:
    attributes = {}
    for name, value in (("reference", entry.reference), ("mpan", entry.mpan), ("mprn", entry.mprn)):
        if value is not None:
            attributes[name] = value
    return attributes


# --- the response --------------------------------------------------------------------------


class AuthorisationResponseWriter(ListWriter):
    """Write an ``MR_...`` response, outcomes streamed in, in constant memory."""

    def __init__(self, path: Path, reference: str, party: Eui64, created: date) -> None:
        fields = (
            ("Reference", reference),
            ("Party", party.value),
            ("Created", created.isoformat()),
        )
        super().__init__(path, _RESPONSE, fields)

    def write(self, outcome: AuthorisationOutcome) -> None:
        """Append the outcome of one entry."""
        attributes = _entry_attributes(outcome.entry)
        if outcome.refusal is None:
            attributes["result"] = _ACCEPTED
        else:
            attributes["result"] = _REFUSED
            attributes["reason"] = outcome.refusal.value
        if outcome.detail:
            attributes["detail"] = outcome.detail[:MAX_DETAIL]
        self.item(attributes)


def write_authorisation_response(path: Path, response: AuthorisationResponse) -> None:
    """Write a response (name it with ``authorisation_response_name``)."""
    with AuthorisationResponseWriter(
        path, response.reference, response.party, response.created
    ) as writer:
        for outcome in response.outcomes:
            writer.write(outcome)


def read_authorisation_response(
    path: Path, max_bytes: int = DEFAULT_MAX_BYTES
) -> AuthorisationResponse:
    """An ``MR_...`` response; ``ExchangeFileRejected`` lists every fault."""
    document = read_list(
        path,
        max_bytes,
        FileKind.AUTHORISATION_RESPONSE,
        _RESPONSE,
        Stamp("Created", parse_day),
        _outcome,
    )
    return AuthorisationResponse(
        document.reference, document.party, document.stamp, document.items, document.recipient
    )


def _outcome(elem: etree._Element, where: str, faults: FaultList) -> AuthorisationOutcome | None:
    entry = _entry(elem, where, faults)
    reason = elem.get("reason")
    detail = elem.get("detail", "")
    result = elem.get("result")
    if result not in (_ACCEPTED, _REFUSED):
        faults.add(where, f"result {result!r} is neither {_ACCEPTED} nor {_REFUSED}")
        return None
    if result == _ACCEPTED:
        if reason is not None:
            faults.add(where, f"an accepted entry has a refusal reason ({reason})")
            return None
        return AuthorisationOutcome(entry, None, detail)
    if reason is None:
        faults.add(where, "a refused entry needs a reason")
        return None
    try:
        refusal = AuthorisationRefusal(reason)
    except ValueError:
        known = ", ".join(r.value for r in AuthorisationRefusal)
        faults.add(where, f"unknown refusal reason {reason!r}; reasons are {known}")
        return None
    return AuthorisationOutcome(entry, refusal, detail)
