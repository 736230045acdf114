"""Safe XML intake: bounded size, no DTDs, no entities, no network.

Rules for every external XML document this service reads:
- its size is bounded (the caller gives the limit) and checked while reading, not trusted;
- a document type declaration anywhere in the prolog rejects the document, so no entity can be
  declared, expanded or fetched;
- it must be UTF-8 (or ASCII), so the byte-level prolog check above cannot be bypassed;
- libxml2 runs with entity resolution, DTD loading and network access off.
"""

from __future__ import annotations

import re
from typing import BinaryIO

from s1adopt.domain.errors import MigrationFileRejected

PROLOG_LIMIT = 64 * 1024
_SKIPPABLE = re.compile(rb"\A(?:\s+|<\?.*?\?>|<!--.*?-->)", re.DOTALL)
_ELEMENT_START = re.compile(rb"<[A-Za-z_:]")
_DECLARATION = re.compile(rb"\A<\?xml\s[^>]*>")
_ENCODING = re.compile(rb"\sencoding\s*=\s*([\"'])([A-Za-z0-9._-]*)\1")
_UTF8_NAMES = {b"utf-8", b"utf8", b"us-ascii", b"ascii"}


class DocumentRejected(MigrationFileRejected):
    """The document is unsafe or oversized; raised before or while parsing."""


class BoundedReader:
    """A file-like reader that refuses to deliver more than ``limit`` bytes."""

    def __init__(self, raw: BinaryIO, limit: int, name: str) -> None:
        self._raw, self._limit, self._name = raw, limit, name
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        """Read like ``BinaryIO.read``; raise ``DocumentRejected`` past the limit."""
        want = self._limit + 1 - self.consumed
        if size is not None and size >= 0:
            want = min(want, size)
        chunk = self._raw.read(want)
        self.consumed += len(chunk)
        if self.consumed > self._limit:
            raise DocumentRejected(
                f"{self._name}: larger than the limit of {self._limit:,} bytes; split it into "
                "smaller files or raise the limit in the settings"
            )
        return chunk


def check_prolog(head: bytes, name: str) -> None:
    """Reject a document whose prolog holds a DTD or that is not UTF-8.

    ``head`` is the first bytes of the document (up to ``PROLOG_LIMIT``).
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4]:
        raise DocumentRejected(f"{name}: not UTF-8 encoded; save the file as UTF-8")
    rest = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    _check_declared_encoding(rest, name)
    while True:
        match = _SKIPPABLE.match(rest)
        if match is None:
            break
        rest = rest[match.end() :]
    if rest[:9].upper() == b"<!DOCTYPE":
        raise DocumentRejected(
            f"{name}: document type declarations (DTDs) are not allowed; remove the <!DOCTYPE>"
        )
    if rest.startswith((b"<!--", b"<?")) and len(head) < PROLOG_LIMIT:
        raise DocumentRejected(f"{name}: a comment or processing instruction never ends")
    if rest.startswith((b"<!--", b"<?")):
        raise DocumentRejected(
            f"{name}: the prolog (comments, processing instructions) is longer than "
            f"{PROLOG_LIMIT:,} bytes; shorten it"
        )
    if _ELEMENT_START.match(rest) is None:
        raise DocumentRejected(f"{name}: not an XML document (no root element found)")


def _check_declared_encoding(head: bytes, name: str) -> None:
    """Reject an XML declaration naming another encoding than UTF-8 (or ASCII).

    Another encoding (UTF-7, say) would let the parser see a DTD where the bytes show none.
    """
    declaration = _DECLARATION.match(head)
    if declaration is None or b"encoding" not in declaration.group():
        return
    found = _ENCODING.search(declaration.group())
    if found is None or found.group(2).lower() not in _UTF8_NAMES:
        raise DocumentRejected(
            f"{name}: the XML declaration names an encoding other than UTF-8; "
            "save the file as UTF-8"
        )
