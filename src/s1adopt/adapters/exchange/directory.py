"""The file exchange as a directory tree: ``<root>/<party EUI-64>/inbox`` and ``/outbox``.

Rules: a party writes into its inbox, the service into its outbox; files still being written
(``*.partial``), hidden files and directories inside an inbox are not offered; files are
offered in the order of their names' date and time, then name, so that a password file and
its archive, or a day's files, arrive in order.
"""

from __future__ import annotations

import re
from pathlib import Path

from s1adopt.services.ports import InboxFile

INBOX, OUTBOX = "inbox", "outbox"
_STAMP = re.compile(r"_(\d{8})(?:_(\d{6}))?(?:\.[A-Za-z0-9.]+)?$")


class DirectoryExchange:
    """``services.ports.Exchange`` on a directory tree."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def inbox(self) -> list[InboxFile]:
        """Every complete file in every party's inbox, by the date in its name, then name."""
        found: list[InboxFile] = []
        if not self.root.is_dir():
            return found
        for party_dir in sorted(self.root.iterdir()):
            inbox = party_dir / INBOX
            if not inbox.is_dir():
                continue
            for path in inbox.iterdir():
                name = path.name
                if name.startswith(".") or name.endswith(".partial") or not path.is_file():
                    continue
                found.append(InboxFile(party_dir.name, name, path))
        return sorted(found, key=_order)

    def outbox(self, party: str) -> Path:
        """The party's outbox directory (created if missing)."""
        path = self.root / party / OUTBOX
        path.mkdir(parents=True, exist_ok=True)
        return path


def _order(item: InboxFile) -> tuple[str, str, str]:
    match = _STAMP.search(item.name)
    if match is None:
        return ("99999999", "999999", item.name)
    return (match[1], match[2] or "000000", item.name)
