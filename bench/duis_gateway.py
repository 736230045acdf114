"""Signed Read Inventory (8.2) requests per second through the DUIS gateway over HTTP, next to
a bare loop of parse + canonicalise + verify + sign of the same messages, in one run.

The gateway runs as `s1adopt gateway serve --workers W` (SQLite, the public test DSP key) on
the same 2-core machine as the load generator (aiohttp, C connections), which costs CPU too:
the figure is what one machine does end to end. Requests are pre-signed (each with its own
counter) so that signing them is not part of the measurement; the bare loop signs the
response, as the gateway does.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "duis"
KEYS = SHARED / "keys"
SUPPLIER = "90-B3-D5-1F-30-01-00-00"
USER_KEY = KEYS / "xml-sign-90B3D51F30010000-ds.key"
USER_CERT = KEYS / "xml-sign-90B3D51F30010000-ds.pem"
DSP_KEY = KEYS / "dsp-xml-sign-90B3D51F30000002-ds.key"
DSP_CERT = KEYS / "dsp-xml-sign-90B3D51F30000002-ds.pem"


def _requests(
    count: int, mpan: str, users: list[tuple[str, object, object]], first: int = 10_000
) -> list[list[bytes]]:
    """Per user, its share of ``count`` signed requests with counters from ``first`` up."""
    from lxml import etree

    from s1adopt.formats.duis.certificates import issuer_name
    from s1adopt.formats.duis.xmldsig import sign

    template = (SHARED / "templates" / "8.2_READ_INVENTORY_REQUEST_DUIS.XML").read_text()
    template = template.replace(
        "<sr:DeviceID>00-DB-12-34-56-78-90-A2</sr:DeviceID>", f"<sr:MPxN>{mpan}</sr:MPxN>"
    )
    parser = etree.XMLParser(remove_blank_text=True)
    streams: list[list[bytes]] = [[] for _ in users]
    for n in range(count):
        eui, key, cert = users[n % len(users)]
        text = template.replace(SUPPLIER, eui).replace(":1000<", f":{first + n}<")
        root = etree.fromstring(text.encode(), parser)
        for old in root.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
            root.remove(old)
        streams[n % len(users)].append(
            sign(root, key, issuer_name(cert), cert.serial_number)  # type: ignore[arg-type]
        )
    return streams


def bare_loop(messages: list[bytes]) -> float:
    """Parse + canonicalise + verify each request and build + sign a response: per second."""
    from datetime import UTC, datetime

    from s1adopt.domain.duis import ResponseCode
    from s1adopt.formats.duis.certificates import load_certificate, load_private_key
    from s1adopt.formats.duis.requests import parse_request
    from s1adopt.formats.duis.responses import response
    from s1adopt.formats.duis.xmldsig import sign, verify

    public = load_certificate(USER_CERT.read_bytes()).public_key()
    dsp_key = load_private_key(DSP_KEY.read_bytes())
    started = time.perf_counter()
    for message in messages:
        root = parse_request(message, 1 << 20)
        verify(root, public)  # type: ignore[arg-type]
        answer = response(
            "90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:1",
            ResponseCode.SUCCESS,
            "8.2",
            "8.2",
            datetime.now(UTC),
        )
        sign(answer, dsp_key, "CN=Z1,OU=07", 1)
    return len(messages) / (time.perf_counter() - started)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _load(url: str, streams: list[list[bytes]]) -> tuple[float, list[float]]:
    """Each stream on its own connection, in order (a user's counters must increase)."""
    import aiohttp

    latencies: list[float] = []
    codes: dict[str, int] = {}

    async def client(session: aiohttp.ClientSession, messages: list[bytes]) -> None:
        for message in messages:
            started = time.perf_counter()
            async with session.post(
                url, data=message, headers={"Content-Type": "application/xml"}
            ) as answer:
                await answer.read()
                code = answer.headers.get("X-DUIS-Response-Code", str(answer.status))
            latencies.append(time.perf_counter() - started)
            codes[code] = codes.get(code, 0) + 1

    connector = aiohttp.TCPConnector(limit=len(streams))
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session, s) for s in streams))
        elapsed = time.perf_counter() - started
    if set(codes) != {"I0"}:
        print(f"  note: answers {codes}")
    return sum(len(s) for s in streams) / elapsed, latencies


def _prepare(
    workdir: Path, connections: int
) -> tuple[dict[str, str], str, list[tuple[str, object, object]]]:
    """A store with a fleet taken in (its devices in the inventory) and a user per connection
    (the public test supplier, then users with keys of their own)."""
    from s1adopt.bootstrap import Application
    from s1adopt.config import Settings
    from s1adopt.domain.identities import Eui64
    from s1adopt.domain.parties import Role
    from s1adopt.emulators.fleet import generate_fleet
    from s1adopt.formats.duis.certificates import (
        certificate_pem,
        load_certificate,
        load_private_key,
        new_signing_identity,
    )
    from s1adopt.services.duis.users import add_user

    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = {
        "S1ADOPT_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "S1ADOPT_KEY_DIR": str(workdir / "keys"),
        "S1ADOPT_DSP_KEY": str(DSP_KEY),
        "S1ADOPT_DSP_CERT": str(DSP_CERT),
        "S1ADOPT_ANOMALY_THRESHOLDS": "*=10000000",
    }
    settings = Settings(
        database_url=env["S1ADOPT_DATABASE_URL"], key_dir=workdir / "keys", report_dir=workdir
    )
    app = Application(settings)
    fleet = generate_fleet(workdir / "fleet", 50, 0.0, 3, app.keyring.transport_public_key)
    for path in fleet.files:
        app.intake()(path)
    roles = frozenset({Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER})
    users: list[tuple[str, object, object]] = [
        (
            SUPPLIER,
            load_private_key(USER_KEY.read_bytes()),
            load_certificate(USER_CERT.read_bytes()),
        )
    ]
    for n in range(1, connections):
        eui = Eui64.from_int(0x90B3_D51F_3001_1000 + n)
        key, cert = new_signing_identity(eui, f"bench user {n}", "87")
        users.append((eui.value, key, cert))
    for eui_text, _key, cert in users:
        pem = certificate_pem(cert)  # type: ignore[arg-type]
        add_user(app.unit_of_work, app.clock, Eui64.parse(eui_text), roles, pem)
    with app.unit_of_work() as uow:
        units = uow.migration.load_installations([1])
    mpan = units[0].mpxns[0]
    return env, mpan, users


def main(workdir: Path, count: int, workers: int, connections: int) -> dict[str, float]:
    """Run both measurements; print and return the rates."""
    from bench.machine import describe

    print(f"machine: {describe()}")
    env, mpan, users = _prepare(workdir, connections)
    warm = _requests(connections * 10, mpan, users)
    streams = _requests(count, mpan, users, first=1_000_000)
    # the bare loop signs the same messages (one user's verify key: each a fresh message)
    flat = [m for s in _requests(min(count, 3000), mpan, users[:1]) for m in s]
    bare = max(bare_loop(flat) for _ in range(3))
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "s1adopt",
            "gateway",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import urllib.request

        for _ in range(200):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/api/v1/serviceD"
        asyncio.run(_load(url, warm))  # warm up (not counted): counters below the measured
        rate, latencies = asyncio.run(_load(url, streams))
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(
        f"bare loop (parse + c14n + verify + sign, one thread): {bare:,.0f} messages/s\n"
        f"gateway over HTTP ({workers} workers, {connections} connections, SQLite): "
        f"{rate:,.0f} requests/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms\n"
        f"ratio gateway/bare: {rate / bare:.2f} (budget: at least 2,000/s and 0.5)"
    )
    return {"bare": bare, "gateway": rate, "p50_ms": p50, "p99_ms": p99}


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "duis")
    args = parser.parse_args()
    main(args.workdir, args.requests, args.workers, args.connections)
