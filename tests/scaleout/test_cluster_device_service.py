"""The device service in a cluster: a stateless `gateway serve` replica and two
`s1adopt scheduler` processes on PostgreSQL. One scheduler holds the lock and works; killed
with SIGKILL (twice, while future-dated requests fall due), the other takes over. Every
request is answered once (one response recorded), no device is asked outside a recorded
claim, and every response reaches the user (at least once: a document POSTed in the instant
before a kill, whose delivery was not yet recorded, is delivered again)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from lxml import etree

from s1adopt.domain.identities import Eui64
from tests.e2e.test_device_sigkill import (
    DUIS,
    KEYS,
    NS,
    SUPPLIER,
    Inbox,
    _device_requests,
    post_future_reads,
    socket_port,
)
from tests.scaleout.conftest import Cluster, wait_for


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    running = Inbox()
    yield running
    running.close()


def _meters(database: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(database.replace("postgresql+psycopg", "postgresql")) as connection:
        rows = connection.execute(
            "SELECT d.device_id, d.device_type, i.cohort FROM device d JOIN installation i "
            "ON i.id = d.installation_id WHERE d.smi_status = 'Commissioned' AND "
            "d.device_type IN ('ESME', 'GSME') ORDER BY i.cohort, d.device_id"
        ).fetchall()
    chosen: dict[str, tuple[str, str, str]] = {}
    for device, kind, cohort in rows:
        chosen.setdefault(f"{cohort}{kind}", (str(device), str(kind), str(cohort)))
    return list(chosen.values())


class Scheduler:
    """`s1adopt scheduler` in a subprocess, its output in a log."""

    def __init__(self, c: Cluster, headend: str, name: str) -> None:
        self.log = c.tmp / f"{name}.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "s1adopt", "scheduler", "--headend", headend],
            cwd=c.tmp,
            env={**os.environ, **c.env},
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
        )

    def working(self) -> bool:
        return "holding the lock" in self.log.read_text(errors="replace")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)


def test_a_standby_scheduler_takes_over_and_every_request_is_answered_once(
    cluster: Any, emulator_for: Any, inbox: Inbox
) -> None:
    c: Cluster = cluster(claim_ttl="4", delivery_max_backoff="0.5")
    c.env.update(
        {
            "S1ADOPT_DSP_KEY": str(KEYS / "dsp-xml-sign-90B3D51F30000002-ds.key"),
            "S1ADOPT_DSP_CERT": str(KEYS / "dsp-xml-sign-90B3D51F30000002-ds.pem"),
            "S1ADOPT_DUIS_SCHEMA_DIR": str(DUIS / "schema"),
        }
    )

    def run(*args: str) -> None:
        done = c.run(*args)
        assert done.returncode == 0, done.stderr[-2000:]

    run(
        "fleet", "generate", "--installations", "20", "--fault-rate", "0", "--dormant-rate",
        "0", "--seed", "11", "--out", "fleet",
    )  # fmt: skip
    emulator = emulator_for(c.tmp / "fleet", c.tmp)
    worker = c.start_worker()
    files = map(str, sorted((c.tmp / "fleet" / "migration").glob("*.xml")))
    run("migrate", *files, "--headend", emulator.url, "--json")
    worker.terminate()
    run("registration", "load", *map(str, (c.tmp / "fleet" / "registration").glob("*.xml")))
    cert = KEYS / f"xml-sign-{SUPPLIER.replace('-', '')}-ds.pem"
    run(
        "users", "add", "--eui", SUPPLIER, "--role", "IS", "--role", "GS", "--cert", str(cert),
        "--endpoint", inbox.url,
    )  # fmt: skip
    meters = _meters(c.env["S1ADOPT_DATABASE_URL"])
    assert {cohort for _, _, cohort in meters} == {"IOC", "MOC", "FOC"}

    with socket_port() as port:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "s1adopt", "gateway", "serve", "--port", str(port)],
            cwd=c.tmp,
            env={**os.environ, **c.env},
            stdout=subprocess.DEVNULL,
            stderr=(c.tmp / "gateway.log").open("w"),
        )
    url = f"http://127.0.0.1:{port}"
    schedulers = [Scheduler(c, emulator.url, f"scheduler-{i}") for i in range(2)]
    try:
        wait_for(lambda: _healthy(url), 60, "the gateway")
        wait_for(lambda: any(s.working() for s in schedulers), 60, "a scheduler at work")
        before = {device: _device_requests(emulator, c.tmp, device) for device, _, _ in meters}
        start = datetime.now(UTC).replace(microsecond=0)
        expected = post_future_reads(url, meters, start, 4, 2, time.time_ns() // 1000)

        for kill_at in (5.0, 9.0):  # while the requests fall due, twice: the one at work
            time.sleep(
                max(0.0, (start + timedelta(seconds=kill_at) - datetime.now(UTC)).total_seconds())
            )
            wait_for(lambda: _active(schedulers) is not None, 60, "a scheduler taking over")
            active = _active(schedulers)
            assert active is not None
            active.kill()
            schedulers.append(Scheduler(c, emulator.url, f"scheduler-{len(schedulers)}"))

        def all_arrived() -> bool:
            arrived = [d for d in inbox.documents if b"SMETS1ResponseMessage" in d]
            return len(arrived) >= len(expected)

        wait_for(all_arrived, 120, "every response at the user's endpoint")
        time.sleep(2)  # anything repeated would arrive now
    finally:
        for s in schedulers:
            s.stop()
        gateway.terminate()
        gateway.wait(timeout=30)

    taken_over = [s for s in schedulers[1:] if s.working()]
    assert len(taken_over) >= 2, "a standby took over after each kill"
    by_request: dict[str, int] = {}
    for document in (d for d in inbox.documents if b"SMETS1ResponseMessage" in d):
        rid = etree.fromstring(document).findtext("sr:Header/sr:RequestID", namespaces=NS)
        if rid is not None:
            by_request[rid] = by_request.get(rid, 0) + 1
    assert set(by_request) == set(expected)
    database = c.env["S1ADOPT_DATABASE_URL"].replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(database) as connection:
        answers = connection.execute(
            "SELECT reference, count(*) FROM outbox WHERE kind = 'response' GROUP BY reference"
        ).fetchall()
        attempts = dict(
            connection.execute(
                "SELECT device_id, sum(attempts) FROM device_command "
                "WHERE status = 'done' GROUP BY device_id"
            ).fetchall()
        )
    assert dict(answers) == dict.fromkeys(expected, 1)  # each request answered once
    for device, _, _ in meters:
        # never asked outside a recorded claim; a claim the killed scheduler made but had not
        # sent yet is claimed (and asked) again by the next: at most one unsent claim per kill
        claims = attempts[Eui64.parse(device).value]
        asked = _device_requests(emulator, c.tmp, device) - before[device]
        assert 1 <= asked <= claims <= asked + 2, (device, asked, claims)


def _active(schedulers: list[Scheduler]) -> Scheduler | None:
    """The living scheduler that says it holds the lock."""
    return next((s for s in schedulers if s.process.poll() is None and s.working()), None)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
