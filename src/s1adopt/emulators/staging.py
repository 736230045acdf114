"""Writing a fleet's files atomically: each under a temporary name, all moved into place at the
end, and the previous fleet's generated files that this one does not replace removed.

Rules:
- a file is written to ``<name>.partial`` and moved to ``<name>`` only on ``commit``; a
  generation that fails leaves the previous fleet's files as they were and no ``.partial``;
- a file that is the same as another (a migration file in ``migration/`` and in an SMSO's
  inbox) is hard-linked where the file system allows it, copied otherwise;
- after the commit, ``sweep`` removes the generated files of an earlier fleet that this one
  did not write (so a programme never takes in a stale file); other files are left alone.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

PARTIAL = ".partial"


class Staging:
    """Files written under temporary names, moved into place together on ``commit``."""

    def __init__(self) -> None:
        self._moves: dict[Path, Path] = {}  # final -> temporary
        self._committed = False

    def reserve(self, final: Path) -> Path:
        """The temporary path to write ``final`` to (its directory is created)."""
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary = final.with_name(final.name + PARTIAL)
        self._moves[final] = temporary
        return temporary

    def open(self, final: Path) -> TextIO:
        """A text file to write ``final`` into."""
        return open(self.reserve(final), "w", encoding="utf-8")  # the caller closes it

    def same_as(self, written: Path, final: Path) -> None:
        """Stage ``final`` with the content already staged for ``written``."""
        source, target = self._moves[written], self.reserve(final)
        target.unlink(missing_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)

    @property
    def finals(self) -> frozenset[Path]:
        """Every file this generation writes."""
        return frozenset(self._moves)

    def commit(self) -> None:
        """Move every staged file into place."""
        for final, temporary in self._moves.items():
            os.replace(temporary, final)
        self._committed = True

    def discard(self) -> None:
        """Remove the temporary files, unless committed."""
        if not self._committed:
            for temporary in self._moves.values():
                temporary.unlink(missing_ok=True)

    def sweep(self, directory: Path, pattern: str, generated: Callable[[Path], bool]) -> None:
        """Remove the files of ``directory`` matching ``pattern`` that ``generated`` says an
        earlier generation wrote, unless this one wrote them too."""
        if not directory.is_dir():
            return
        for path in directory.glob(pattern):
            if path.is_file() and path not in self._moves and generated(path):
                path.unlink(missing_ok=True)
