"""Operator and supplier actions through the CLI: registration load, retry, block, unblock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.conftest import cli

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
OTHER = "90-B3-D5-1F-30-01-00-09"


def test_actions_on_an_installation_are_checked_audited_and_retry_migrates_again(
    tmp_path: Path, emulator_for: Any
) -> None:
    done = cli(
        "fleet",
        "generate",
        "--installations",
        "40",
        "--seed",
        "3",
        "--out",
        "fleet",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    fleet = tmp_path / "fleet"
    expected = json.loads((fleet / "expected.json").read_text())["installations"]
    loaded = cli(
        "registration", "load", *map(str, (fleet / "registration").glob("*.xml")), cwd=tmp_path
    )
    assert loaded.returncode == 0, loaded.stderr
    assert "registrations" in loaded.stdout
    again = cli(
        "registration", "load", *map(str, (fleet / "registration").glob("*.xml")), cwd=tmp_path
    )
    assert "already taken in" in again.stdout
    emulator = emulator_for(fleet, tmp_path)
    files = [str(p) for p in sorted((fleet / "migration").glob("*.xml"))]
    migrated = cli("migrate", *files, "--headend", emulator.url, "--json", cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    failed = next(ref for ref, o in expected.items() if o == "firmware_mismatch")
    done_ref = next(ref for ref, o in expected.items() if o == "commissioned")

    refused = cli("installation", "block", done_ref, cwd=tmp_path)
    assert refused.returncode == 2
    assert "commissioned" in refused.stderr
    stranger = cli("installation", "block", failed, "--as", OTHER, cwd=tmp_path)
    assert stranger.returncode == 5
    assert "not the supplier responsible" in stranger.stderr
    blocked = cli(
        "installation", "block", failed, "--as", SUPPLIER, "--note", "site visit", cwd=tmp_path
    )
    assert blocked.returncode == 0, blocked.stderr
    unblocked = cli("installation", "unblock", failed, cwd=tmp_path)
    assert unblocked.returncode == 0, unblocked.stderr
    missing = cli("installation", "retry", "S1-9999999", cwd=tmp_path)
    assert missing.returncode == 3

    # the operator retries; the next migrate of the file attempts it again (the meter still
    # runs other firmware than the data says, so it fails the same way, a second attempt)
    retried = cli("installation", "retry", failed, cwd=tmp_path)
    assert retried.returncode == 0, retried.stderr
    rerun = cli("migrate", *files, "--headend", emulator.url, "--json", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    view = json.loads(cli("inventory", "show", failed, "--json", cwd=tmp_path).stdout)
    assert (view["outcome"], view["attempts"]) == ("firmware_mismatch", 2)
    notes = [h["note"] for h in view["history"]]
    assert f"blocked for migration by {SUPPLIER}: site visit" in notes
    assert "unblocked for migration by operator" in notes
    assert "retry ordered by operator" in notes
