"""`s1adopt demo` as the README tells a newcomer to run it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.e2e.conftest import cli


def test_the_demo_tells_the_programme_and_every_outcome_equals_expected_json(
    tmp_path: Path,
) -> None:
    done = cli("demo", "--installations", "300", "--seed", "11", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "outcomes equal expected.json" in done.stdout
    assert "no unauthorised installation was contacted" in " ".join(done.stdout.split())
    assert "Migration day" in done.stdout
    # the second act: each cohort's meter changes supplier, every answer the one expected
    said = " ".join(done.stdout.split())
    assert "the change of supplier went as expected on 3 meters (IOC, MOC, FOC)" in said, said
    for cohort in ("IOC", "MOC", "FOC"):
        rows = [row for row in map(str.split, done.stdout.splitlines()) if row[:1] == [cohort]]
        # cohort, old|new, supplier, SRV, expected, answer, what it carries, ok
        assert [row[3] for row in rows] == ["4.1.1"] * 3 + ["6.23"] + ["4.1.1"] * 2, rows
        assert [row[-1] for row in rows] == ["ok"] * 6, rows
    assert "credentials replaced on 3 devices during the act (3 replacements)" in said
    workdir = tmp_path / "s1adopt-demo"
    chart = workdir / "reports" / "programme-progress.png"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    expected = json.loads((workdir / "fleet" / "expected.json").read_text())["installations"]
    actual: dict[str, str] = {}
    outboxes = (workdir / "fleet" / "exchange").glob("*/outbox")
    for report in (r for box in outboxes for r in box.glob("MRR_*.detail.csv")):
        with open(report, newline="") as handle:
            for row in csv.DictReader(handle):
                actual[row["reference"]] = row["outcome"]  # the last attempt's outcome wins
    attempted = {ref: want for ref, want in expected.items() if ref in actual}
    assert actual == attempted
    assert len(attempted) > 0.9 * len(expected)


def test_the_plain_demo_migrates_a_fleet_and_every_outcome_equals_expected_json(
    tmp_path: Path,
) -> None:
    done = cli("demo", "--plain", "--installations", "300", "--seed", "11", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "outcomes equal expected.json" in done.stdout
    workdir = tmp_path / "s1adopt-demo"
    expected = json.loads((workdir / "fleet" / "expected.json").read_text())["installations"]
    actual: dict[str, str] = {}
    for report in (workdir / "reports").glob("*.csv"):
        with open(report, newline="") as handle:
            for row in csv.DictReader(handle):
                actual[row["installation"]] = row["outcome"]
    assert actual == expected
    assert len(set(expected.values())) >= 8  # commissioned and each of the seven fault kinds


def test_the_demo_refuses_to_overwrite_a_directory_it_did_not_create(tmp_path: Path) -> None:
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "thesis.txt").write_text("keep me")
    done = cli("demo", "--installations", "10", "--workdir", "precious", cwd=tmp_path)
    assert done.returncode == 4
    assert "not a demo directory" in done.stderr
    assert (tmp_path / "precious" / "thesis.txt").read_text() == "keep me"
