"""Charts: valid PNGs of a planned programme and of the real programme's progress."""

from __future__ import annotations

import struct
import subprocess
import sys
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from s1adopt.domain.identities import Eui64
from s1adopt.domain.programme import PartyDayCounts
from s1adopt.formats.charts import (
    DPI,
    PANEL_INCHES,
    PNG_SIGNATURE,
    WIDTH_INCHES,
    _count_label,
    plan_chart,
    progress_chart,
    write_atomically,
)
from s1adopt.services.planner import Cohort, PlanResult, PlanSettings, simulate

START = date(2026, 1, 5)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk, after checking the signature."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def expected_size(panels: int) -> tuple[int, int]:
    return round(WIDTH_INCHES * DPI), round((PANEL_INCHES * panels + 0.5) * DPI)


@pytest.fixture(scope="module")
def plan() -> PlanResult:
    return simulate(
        PlanSettings(
            start=START,
            installations=20_000,
            parties=3,
            cohorts=(Cohort("IOC", 0.4, 300), Cohort("FOC", 0.6, 400)),
        )
    )


def progress_days(parties: int, days: int) -> list[PartyDayCounts]:
    counts = []
    for n in range(days):
        for p in range(parties):
            party = Eui64.from_int(0x90B3D51F30000000 + p)
            done = (p + 1) * 10 * (n + 1)
            counts.append(
                PartyDayCounts(
                    day=START + timedelta(days=n),
                    party=party,
                    attempted=12 * (p + 1),
                    commissioned=10 * (p + 1),
                    failed=p + 1,
                    excluded=p + 1,
                    backlog=max(0, 5_000 - done),
                )
            )
    return counts


def test_a_plan_chart_is_a_png_written_atomically_to_its_path(
    plan: PlanResult, tmp_path: Path
) -> None:
    target = tmp_path / "plan.png"
    target.write_bytes(b"an older chart")
    data = plan_chart(plan, target)
    assert png_size(data) == expected_size(4)
    assert len(data) > 20_000  # four panels of lines and areas, not an empty canvas
    assert target.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["plan.png"]  # no temporary file left


def test_an_unfinished_or_empty_plan_still_charts(plan: PlanResult) -> None:
    unfinished = replace(plan, completion_date=None)
    assert png_size(plan_chart(unfinished)) == expected_size(4)
    empty = replace(plan, days=())
    assert png_size(plan_chart(empty)) == expected_size(4)


def test_a_progress_chart_draws_many_parties_as_the_largest_and_the_others(
    tmp_path: Path,
) -> None:
    target = tmp_path / "progress.png"
    data = progress_chart(progress_days(12, 30), target, "Progress")
    assert png_size(data) == expected_size(3)
    assert target.read_bytes() == data


def test_a_progress_chart_of_no_days_says_so() -> None:
    assert png_size(progress_chart([])) == expected_size(3)


def test_counts_on_the_axes_read_at_a_glance() -> None:
    labels = [_count_label(v) for v in (0, 250, 12_500, 1_500_000, 15_000_000)]
    assert labels == ["0", "250", "12.5k", "1.5M", "15M"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "chart.png"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomically(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["chart.png"]


def test_importing_the_charts_does_not_import_matplotlib() -> None:
    code = "import sys, s1adopt.formats.charts; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
