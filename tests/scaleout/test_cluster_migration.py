"""`s1adopt migrate` handing its work to `s1adopt worker` processes on PostgreSQL and RabbitMQ:
the same outcomes as the embedded run, through worker deaths and a broker restart, and never
more sessions at a head end than it carries."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from tests.scaleout.conftest import REPO, Cluster, json_of, wait_for


def _fleet(c: Cluster, installations: int, seed: int) -> tuple[Path, dict[str, Any]]:
    done = c.run(
        "fleet", "generate", "--installations", str(installations), "--seed", str(seed),
        "--out", "fleet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    fleet = c.tmp / "fleet"
    return fleet, json.loads((fleet / "expected.json").read_text())


def _files(fleet: Path) -> list[str]:
    return [str(p) for p in sorted((fleet / "migration").glob("*.xml"))]


def _outcomes(tmp: Path, result: dict[str, Any]) -> dict[str, str]:
    """Each installation's outcome, from the batch reports."""
    outcomes: dict[str, str] = {}
    for batch in result["batches"]:
        with open(tmp / batch["report"], newline="") as handle:
            outcomes.update((row["installation"], row["outcome"]) for row in csv.DictReader(handle))
    return outcomes


def _check_sessions(stats: dict[str, Any]) -> None:
    """No head end ever carried more sessions than its limit, nor refused one as BUSY."""
    for name, headend in stats["headends"].items():
        sessions = headend["sessions"]
        assert sessions["peak"] <= sessions["limit"], (name, sessions)
        assert sessions["busy"] == 0, (name, sessions)
        assert sessions["peak"] > 0, (name, sessions)


def _check_run(c: Cluster, result: dict[str, Any], expected: dict[str, Any], emulator: Any) -> None:
    """The run's outcomes equal expected.json installation by installation, no credential was
    replaced twice, and no head end ever carried more sessions than its limit."""
    assert result["total"] == expected["total"]
    assert result["outcomes"] == expected["outcomes"]
    assert result["unfinished"] == 0
    assert _outcomes(c.tmp, result) == expected["installations"]
    stats = emulator.stats(c.tmp)
    assert max(d["credential_replacements"] for d in stats["devices"].values()) == 1
    _check_sessions(stats)


def test_three_workers_migrate_a_fleet_to_the_outcomes_of_expected_json(
    cluster: Any, emulator_for: Any
) -> None:
    c: Cluster = cluster()
    fleet, expected = _fleet(c, 1500, 21)
    emulator = emulator_for(fleet, c.tmp)
    for _ in range(3):
        c.start_worker()
    result = json_of(c.run("migrate", *_files(fleet), "--headend", emulator.url, "--json"))
    _check_run(c, result, expected, emulator)
    assert all(c.chunks_taken(i) > 0 for i in range(3)), "every worker took work"


def test_workers_and_migrate_killed_again_and_again_and_the_broker_restarted_change_nothing(
    cluster: Any, emulator_for: Any
) -> None:
    """SIGKILL at six moments of one run: a worker; `migrate` itself (run again with the same
    command); two workers at once; RabbitMQ shut down and started again; a worker twice more.
    Each dead worker is replaced by a new one."""
    # short holds, so the test does not wait long for a dead worker's work
    c: Cluster = cluster(claim_ttl="6", headend_timeout="3", task_chunk_size="50")
    fleet, expected = _fleet(c, 3000, 23)
    emulator = emulator_for(fleet, c.tmp)
    for _ in range(3):
        c.start_worker()
    command = ("migrate", *_files(fleet), "--headend", emulator.url, "--json")
    migrate = [c.start(*command)]

    def replaced_at_least(n: int) -> Any:
        def check() -> bool:
            assert migrate[-1].poll() is None, "migrate ended before the faults were injected"
            with urllib.request.urlopen(f"{emulator.url}/stats?devices=none") as response:
                totals = json.loads(response.read())["totals"]
            return bool(totals["credential_replacements"] >= n)

        return check

    def replace_worker(index: int) -> None:
        c.kill(index)
        c.start_worker()

    wait_for(replaced_at_least(600), 300, "600 credentials replaced")
    replace_worker(0)
    wait_for(replaced_at_least(1500), 300, "1,500 credentials replaced")
    migrate[-1].send_signal(signal.SIGKILL)
    migrate[-1].wait(timeout=30)
    migrate.append(c.start(*command))
    wait_for(replaced_at_least(2500), 300, "2,500 credentials replaced")
    c.kill(1)
    replace_worker(2)
    c.start_worker()
    wait_for(replaced_at_least(3500), 300, "3,500 credentials replaced")
    restarted = subprocess.run(
        ["bash", "-c", "rabbitmqctl -q shutdown && bash scripts/rabbitmq-up.sh"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert restarted.returncode == 0, restarted.stderr[-2000:]
    wait_for(replaced_at_least(4800), 300, "4,800 credentials replaced")
    replace_worker(len(c.workers) - 1)
    wait_for(replaced_at_least(6000), 300, "6,000 credentials replaced")
    replace_worker(len(c.workers) - 1)
    stdout, stderr = migrate[-1].communicate(timeout=900)
    assert migrate[-1].returncode == 0, stderr[-3000:]
    result = json.loads(stdout)
    assert all(batch["resumed"] for batch in result["batches"])  # taken in once, not twice
    _check_run(c, result, expected, emulator)
