"""The scale-out tests' cluster: PostgreSQL, RabbitMQ, `s1adopt worker` processes and the
emulated head ends, each a real process. In CI a missing PostgreSQL or RabbitMQ fails them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection

from tests.conftest import service_url_or_fail
from tests.e2e.conftest import cli, emulator_for  # noqa: F401 - a fixture, used by the tests

REPO = Path(__file__).resolve().parents[2]


def broker_url_or_fail() -> str:
    """The test RabbitMQ's URL (see ``service_url_or_fail``)."""
    return service_url_or_fail("S1ADOPT_TEST_BROKER_URL", "RabbitMQ", "rabbitmq-up.sh")


def delete_queue(broker: str, queue: str) -> None:
    """Remove a test's work queue from the broker."""
    with Connection(broker, connect_timeout=10) as connection:
        connection.ensure_connection(max_retries=30, interval_start=1, interval_step=1)
        connection.channel().queue_delete(queue)


class Cluster:
    """Workers and commands sharing one database, broker and key directory."""

    def __init__(self, tmp: Path, database: str, broker: str, **settings: str) -> None:
        self.tmp = tmp
        self.env = {
            "S1ADOPT_DATABASE_URL": database,
            "S1ADOPT_BROKER_URL": broker,
            "S1ADOPT_KEY_DIR": str(tmp / "keys"),
            "S1ADOPT_REPORT_DIR": str(tmp / "reports"),
            **{f"S1ADOPT_{k.upper()}": v for k, v in settings.items()},
        }
        self.workers: list[subprocess.Popen[str]] = []
        self.logs: list[Path] = []

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """``s1adopt ARGS`` with the cluster's settings."""
        return cli(*args, cwd=self.tmp, env=self.env, timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """``s1adopt ARGS`` in the background, its output captured."""
        return subprocess.Popen(
            [sys.executable, "-m", "s1adopt", *args],
            cwd=self.tmp,
            env={**os.environ, **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def start_worker(self) -> subprocess.Popen[str]:
        """One more `s1adopt worker`, logging each chunk it takes."""
        log = self.tmp / f"worker-{len(self.workers)}.log"
        handle = log.open("w")
        worker = subprocess.Popen(
            [sys.executable, "-m", "s1adopt", "worker", "--loglevel", "INFO"],
            cwd=self.tmp,
            env={**os.environ, **self.env},
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
        )
        handle.close()
        self.workers.append(worker)
        self.logs.append(log)
        return worker

    def chunks_taken(self, index: int) -> int:
        """How many chunks worker ``index`` held work of."""
        text = self.logs[index].read_text(errors="replace")
        return sum(1 for line in text.splitlines() if "chunk of" in line and " 0 held" not in line)

    def kill(self, index: int) -> None:
        """SIGKILL worker ``index``."""
        self.workers[index].send_signal(signal.SIGKILL)
        self.workers[index].wait(timeout=30)

    def stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in self.workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str) -> Iterator[Any]:
    """A factory of one cluster on a fresh PostgreSQL database and the test broker."""
    broker = broker_url_or_fail()
    queue = f"s1adopt.test.{uuid.uuid4().hex[:12]}"  # test runs at once never share work
    made: list[Cluster] = []

    def make(**settings: str) -> Cluster:
        made.append(Cluster(tmp_path, postgres_url, broker, work_queue=queue, **settings))
        return made[-1]

    yield make
    for c in made:
        c.stop()
    delete_queue(broker, queue)


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    """Poll ``predicate`` until true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def emulator_stats(emulator: Any, tmp: Path) -> dict[str, Any]:
    """The emulator's counters (through the CLI, as an operator reads them)."""
    return dict(emulator.stats(tmp))


def json_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout))
