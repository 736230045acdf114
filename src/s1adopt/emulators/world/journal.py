"""A head end's journal: the device changes that must survive an emulator restart.

Rules:
- A device's credential and its active firmware are its own memory: each credential
  replacement (``{"id", "credential"}``) and firmware activation (``{"id", "firmware"}``)
  is appended and flushed before it takes effect, and the journal is replayed over the
  device list at start. Everything else a command changes (tariffs, top-ups, logs) is held
  in memory only.
- A torn last line (a crash while writing it) is cut off at start: the change it recorded
  was never confirmed to the caller. Any other unreadable line stops the start.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

_TAIL_BYTES = 4096  # far longer than any journal line
_HEX_DIGITS = frozenset("0123456789ABCDEF")


def device_hex(value: object) -> str:
    """``value`` as 16 upper-case hex digits; ``ValueError`` if it is not a device ID."""
    text = str(value).upper()
    if len(text) != 16 or not _HEX_DIGITS.issuperset(text):
        raise ValueError(f"device id {value!r} is not 16 hex digits")
    return text


class Journal:
    """Appends device changes to one file (see module rules)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out: IO[str] | None = None

    def open(self) -> None:
        """Start appending."""
        self._out = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - see close

    def credential(self, device: str, credential: bytes) -> None:
        """Record a credential replacement (before it takes effect)."""
        self._write({"id": device, "credential": credential.hex()})

    def firmware(self, device: str, version: str) -> None:
        """Record a firmware activation (before it takes effect)."""
        self._write({"id": device, "firmware": version})

    def _write(self, doc: dict[str, str]) -> None:
        if self._out is None:
            raise RuntimeError(f"{self.path}: journal not open")
        self._out.write(json.dumps(doc) + "\n")
        self._out.flush()

    def close(self) -> None:
        """Stop appending."""
        if self._out is not None:
            self._out.close()
            self._out = None


def replay(
    path: Path,
    on_credential: Callable[[str, bytes], None],
    on_firmware: Callable[[str, str], None],
) -> None:
    """Apply a journal's records in order; a missing journal has none."""
    if not path.exists():
        return
    _cut_torn_tail(path)
    for number, doc in _records(path):
        try:
            device = device_hex(doc["id"])
            if "credential" in doc:
                on_credential(device, bytes.fromhex(doc["credential"]))
            else:
                on_firmware(device, str(doc["firmware"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: line {number}: {exc}") from exc


def _records(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with open(path, encoding="utf-8") as journal:
        for number, line in enumerate(journal, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}: line {number}: {exc}") from exc
            if not isinstance(doc, dict):
                raise ValueError(f"{path}: line {number}: not a JSON object")
            yield number, doc


def _cut_torn_tail(path: Path) -> None:
    """Drop a last line without its newline: a crash cut it short, and it was never confirmed."""
    with open(path, "r+b") as journal:
        size = journal.seek(0, 2)
        if size == 0:
            return
        journal.seek(max(0, size - _TAIL_BYTES))
        tail = journal.read()
        if tail.endswith(b"\n"):
            return
        newline = tail.rfind(b"\n")
        if newline < 0 and size > _TAIL_BYTES:
            raise ValueError(f"{path}: last line longer than {_TAIL_BYTES} bytes")
        journal.truncate(size - len(tail) + newline + 1)
