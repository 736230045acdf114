"""Batch reports: one CSV line per installation (outcome and reason), streamed to a file.

Reports never contain credentials: the rows they are given hold identities and outcomes only.
Text that a spreadsheet would run as a formula (it starts with ``= + - @``, a tab or a
carriage return) is written with a leading ``'``: references come from SMSOs' files.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from s1adopt.domain.failures import (
    COMMISSIONED_OUTCOME,
    ELECTRICITY_ONLY_OUTCOME,
    FailureReason,
)

REPORT_COLUMNS = ("installation", "mpan", "mprn", "outcome", "attempts", "explanation", "detail")


def explain(outcome: str) -> str:
    """The human explanation of an outcome label."""
    if outcome == COMMISSIONED_OUTCOME:
        return "Adopted: every device Commissioned and the meter points Enrolled."
    if outcome == ELECTRICITY_ONLY_OUTCOME:
        return (
            "GT01: the gas side failed on HAN errors only; the electricity side was adopted "
            "alone and the gas devices stay Pending with the SMSO."
        )
    try:
        return FailureReason(outcome).explanation
    except ValueError:
        return ""


def write_report(path: Path, rows: Iterable[Sequence[object]]) -> int:
    """Write ``REPORT_COLUMNS`` rows to ``path`` atomically; return the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    count = 0
    with open(partial, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(REPORT_COLUMNS)
        for row in rows:
            writer.writerow([_cell(value) for value in row])
            count += 1
    os.replace(partial, path)
    return count


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """``value``, defused if a spreadsheet would take it for a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
