"""One table from error class to exit code for every command; the message is the error's own
text, with the faults it names (never a traceback for an error we raise on purpose)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console

from s1adopt.domain.errors import (
    ConfigurationError,
    ExchangeFileRejected,
    InvalidRequest,
    MigrationFileRejected,
    NotFound,
    PermissionDenied,
    S1AdoptError,
)

T = TypeVar("T")
err = Console(stderr=True)

EXIT_CODES: list[tuple[type[S1AdoptError], int]] = [
    (MigrationFileRejected, 2),
    (ExchangeFileRejected, 2),
    (InvalidRequest, 2),
    (NotFound, 3),
    (ConfigurationError, 4),
    (PermissionDenied, 5),
    (S1AdoptError, 1),
]
SHOWN_FAULTS = 20


def guard(action: Callable[[], T]) -> T:
    """Run ``action``; our errors become a message and an exit code (see ``EXIT_CODES``)."""
    try:
        return action()
    except S1AdoptError as exc:
        for kind, code in EXIT_CODES:
            if isinstance(exc, kind):
                err.print(f"[red]error:[/red] {exc}")
                for where, problem in getattr(exc, "faults", [])[:SHOWN_FAULTS]:
                    err.print(f"  {where}: {problem}")
                raise typer.Exit(code) from exc
        raise
