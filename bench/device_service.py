"""Read Instantaneous Import Registers (4.1.1) per second end to end through the DUIS gateway,
the device service and the emulated head ends, next to the gateway's 8.2 rate in the same run.

Set-up (not measured): a fleet of ``--installations`` over the three cohorts with
``--suppliers`` suppliers, served by ``s1adopt emulator serve`` in its own process, migrated
with the product's own migrator, its registration data loaded, and a user per supplier (the
public test supplier, then suppliers with keys of their own) registered with its endpoint at
an aiohttp listener in this process that notes when each response arrives. The gateway runs
as ``s1adopt gateway serve --headend URL --workers W`` (SQLite, the public test DSP key; the
S1SP's key made in the key directory; no official schemas) with the device service on it.

Measured: ``--requests`` signed CV1 4.1.1 requests to ``serviceS``, pre-signed (signing is the
user's cost), over the users' ESMEs and GSMEs of the three cohorts, at a fixed number in
flight: one stream per user, each on its own connection, in order (a user's RequestID
counters must increase, so at most one request per user is in flight and the number in flight
is at most the number of suppliers). For each request: the synchronous answer (``I99``) and the
arrival of its final response at the user's endpoint. The rate is requests over the time from
the first request sent to the last response arrived; then the same number of 8.2 Read
Inventory requests on ``serviceD`` of the same gateway, same streams, for the ratio. Every
response is counted: it must arrive exactly once, as ``I0`` with ``MessageSuccess="true"``.

CPU seconds of each process (gateway and its children, emulator, this load generator and
listener) are read from /proc around each measurement, to show where the machine's two cores
go; ``--profile`` adds a run of the gateway (one worker, which also runs the device service)
under cProfile, every thread profiled, and prints the top entries by thread group.

    python bench/device_service.py [--installations 600] [--suppliers 100] [--requests 3000]
        [--concurrency 32 100] [--workers 1 2] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import math
import os
import pstats
import re
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

KEYS = ROOT.parent / "shared" / "duis" / "keys"
DSP_KEY = KEYS / "dsp-xml-sign-90B3D51F30000002-ds.key"
DSP_CERT = KEYS / "dsp-xml-sign-90B3D51F30000002-ds.pem"
PUBLIC_SUPPLIER = "90-B3-D5-1F-30-01-00-00"
DSP_EUI = "90-B3-D5-1F-30-00-00-02"
SRV = "4.1.1"
WARM_UP_PER_USER = 3
ARRIVAL_PATIENCE = 60.0  # seconds without a new arrival before the wait gives up
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
REQUEST_ID = re.compile(rb"<sr:RequestID>([^<]{1,80})</sr:RequestID>")


# --- the world ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A migrated meter a user may read."""

    device: str
    device_type: str  # ESME or GSME
    cohort: str


@dataclass
class User:
    """A supplier with its signing key, its meters and its next RequestID counter."""

    eui: str
    key: Any
    cert: Any
    targets: list[Target]
    counter: int = 1_000

    def next_counter(self) -> int:
        self.counter += 1
        return self.counter


@dataclass(frozen=True, slots=True)
class Request:
    """A pre-signed request and what it reads."""

    request_id: str
    body: bytes
    target: Target | None  # None for 8.2


@dataclass
class World:
    """What the runs share: the store's environment, the emulator, the users."""

    env: dict[str, str]
    control_url: str
    emulator: subprocess.Popen[str]
    users: list[User]
    mpan: str
    listener_port: int
    workdir: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_emulator(fleet_dir: Path, log: Path) -> tuple[subprocess.Popen[str], str]:
    """``s1adopt emulator serve`` in its own process on a free port; its control URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "s1adopt", "emulator", "serve", str(fleet_dir), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("control: "):
        process.kill()
        raise SystemExit(f"the emulator did not start; see {log}")
    return process, line.split(" ", 1)[1].strip()


def prepare(workdir: Path, installations: int, suppliers: int) -> World:
    """Generate, serve and migrate the fleet; load its registration data; add the users."""
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
        "S1ADOPT_REPORT_DIR": str(workdir / "reports"),
        "S1ADOPT_DSP_KEY": str(DSP_KEY),
        "S1ADOPT_DSP_CERT": str(DSP_CERT),
    }
    settings = Settings(
        database_url=env["S1ADOPT_DATABASE_URL"],
        key_dir=workdir / "keys",
        report_dir=workdir / "reports",
        dsp_key=DSP_KEY,
        dsp_cert=DSP_CERT,
    )
    app = Application(settings)
    started = time.perf_counter()
    fleet_dir = workdir / "fleet"
    fleet = generate_fleet(
        fleet_dir,
        installations,
        0.0,
        8,
        app.keyring.transport_public_key,
        dormant_rate=0.0,
        suppliers=suppliers,
        unauthorised_rate=0.0,
    )
    emulator, control = _start_emulator(fleet_dir, workdir / "emulator.log")
    try:
        asyncio.run(_migrate(app, control, fleet.files))
        for path in sorted((fleet_dir / "registration").glob("*.xml")):
            app.load_registration(path)
        _ = app.s1sp  # made now in the key directory, which the gateway shares
        listener_port = _free_port()
        endpoint = f"http://127.0.0.1:{listener_port}/responses"
        roles = frozenset({Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER})
        targets = _targets(app)
        users: list[User] = []
        for index in range(suppliers):
            eui = Eui64.from_int(int(Eui64.parse(PUBLIC_SUPPLIER).hex, 16) + index)
            if eui.value == PUBLIC_SUPPLIER:
                stem = KEYS / f"xml-sign-{eui.hex}-ds"
                key = load_private_key(stem.with_suffix(".key").read_bytes())
                cert = load_certificate(stem.with_suffix(".pem").read_bytes())
            else:
                key, cert = new_signing_identity(eui, f"bench supplier {index + 1}", "87")
            pem = certificate_pem(cert)
            add_user(app.unit_of_work, app.clock, eui, roles, pem, endpoint)
            mine = targets.get(eui.value, [])
            if mine:
                users.append(User(eui.value, key, cert, _interleaved(mine)))
    except BaseException:
        emulator.terminate()
        raise
    with app.engine.connect() as connection:
        mpan = connection.exec_driver_sql(
            "SELECT mpxn FROM meter_point ORDER BY mpxn LIMIT 1"
        ).scalar_one()
    print(
        f"fleet of {installations:,} installations, {suppliers} suppliers: generated, served "
        f"and migrated in {time.perf_counter() - started:.1f} s; "
        f"{sum(len(u.targets) for u in users):,} commissioned meters, {len(users)} users"
    )
    return World(env, control, emulator, users, str(mpan), listener_port, workdir)


async def _migrate(app: Any, control: str, files: Sequence[Path]) -> None:
    async with app.headend_directory(control) as headends:
        run = await app.migrator(headends, control).migrate(list(files))
    if run.rejected:
        raise SystemExit(f"migration files refused: {run.rejected[:3]}")


def _targets(app: Any) -> dict[str, list[Target]]:
    """Commissioned ESMEs and GSMEs by the supplier that migrated (and is registered for)
    them."""
    with app.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT d.device_id, d.device_type, i.cohort, i.party FROM device d "
            "JOIN installation i ON i.id = d.installation_id "
            "WHERE d.smi_status = 'Commissioned' AND d.device_type IN ('ESME', 'GSME') "
            "ORDER BY d.device_id"
        ).all()
    found: dict[str, list[Target]] = {}
    for device, device_type, cohort, party in rows:
        found.setdefault(str(party), []).append(Target(str(device), str(device_type), cohort))
    return found


def _interleaved(targets: list[Target]) -> list[Target]:
    """Round robin over cohorts and device types, so that a user's stream visits them all."""
    groups: dict[tuple[str, str], list[Target]] = {}
    for t in targets:
        groups.setdefault((t.cohort, t.device_type), []).append(t)
    ordered: list[Target] = []
    lists = [groups[k] for k in sorted(groups)]
    for i in range(max(len(g) for g in lists)):
        ordered.extend(g[i] for g in lists if i < len(g))
    return ordered


# --- requests -------------------------------------------------------------------------------


def _sign(user: User, root: Any) -> bytes:
    from s1adopt.formats.duis.certificates import issuer_name
    from s1adopt.formats.duis.xmldsig import sign

    return sign(root, user.key, issuer_name(user.cert), user.cert.serial_number)


def device_streams(users: Sequence[User], count: int, start: int = 0) -> list[list[Request]]:
    """``count`` signed CV1 4.1.1 requests, a stream per user (its meters in turn)."""
    from s1adopt.formats.duis.device_requests import build_body, example_values
    from s1adopt.formats.duis.envelope import request_document

    now = datetime.now(UTC)
    bodies = {kind: example_values(SRV, kind, now=now) for kind in ("ESME", "GSME")}
    streams: list[list[Request]] = []
    for n, user in enumerate(users):
        share = count // len(users) + (1 if n < count % len(users) else 0)
        stream: list[Request] = []
        for i in range(share):
            target = user.targets[(start + i) % len(user.targets)]
            request_id = f"{user.eui}:{target.device}:{user.next_counter()}"
            body = build_body(SRV, bodies[target.device_type], target.device_type)
            signed = _sign(user, request_document(request_id, 1, SRV, body))
            stream.append(Request(request_id, signed, target))
        streams.append(stream)
    return streams


def inventory_streams(users: Sequence[User], count: int, mpan: str) -> list[list[Request]]:
    """``count`` signed 8.2 Read Inventory requests (by MPxN), a stream per user."""
    from lxml import etree

    from s1adopt.domain.duis import DUIS_NAMESPACE
    from s1adopt.formats.duis.envelope import request_document

    streams: list[list[Request]] = []
    for n, user in enumerate(users):
        share = count // len(users) + (1 if n < count % len(users) else 0)
        stream: list[Request] = []
        for _ in range(share):
            request_id = f"{user.eui}:{DSP_EUI}:{user.next_counter()}"
            body = etree.Element(f"{{{DUIS_NAMESPACE}}}ReadInventory")
            etree.SubElement(body, f"{{{DUIS_NAMESPACE}}}MPxN").text = mpan
            signed = _sign(user, request_document(request_id, 8, "8.2", body))
            stream.append(Request(request_id, signed, None))
        streams.append(stream)
    return streams


# --- the users' endpoint --------------------------------------------------------------------


@dataclass
class Listener:
    """The users' endpoint: notes the arrival time of every document POSTed to it (and its
    RequestID, found cheaply: the documents are read properly after the measurement)."""

    arrived: list[tuple[float, bytes]] = field(default_factory=list)
    request_ids: set[bytes] = field(default_factory=set)

    async def handle(self, request: Any) -> Any:
        from aiohttp import web

        body = await request.read()
        self.arrived.append((time.perf_counter(), body))
        found = REQUEST_ID.search(body)
        if found is not None:
            self.request_ids.add(found.group(1))
        return web.Response(status=204)


@dataclass(frozen=True, slots=True)
class Arrival:
    """A document that arrived: its RequestID (None for an alert), code and success."""

    at: float
    request_id: str | None
    code: str
    success: str | None  # MessageSuccess of the SMETS1 Rsp, if any
    root: str


def read_arrival(at: float, body: bytes) -> Arrival:
    from lxml import etree

    from s1adopt.domain.duis import DUIS_NAMESPACE, MMC_NAMESPACE

    ns = {"sr": DUIS_NAMESPACE}
    root = etree.fromstring(body)
    success = None
    for element in root.iter(f"{{{MMC_NAMESPACE}}}*"):
        if element.get("MessageSuccess") is not None:
            success = element.get("MessageSuccess")
            break
    return Arrival(
        at,
        root.findtext("sr:Header/sr:RequestID", namespaces=ns),
        root.findtext("sr:Header/sr:ResponseCode", namespaces=ns) or "",
        success,
        etree.QName(root).localname,
    )


# --- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sent:
    """One request's synchronous answer."""

    request: Request
    sent: float
    answered: float
    code: str


async def drive(url: str, streams: Sequence[Sequence[Request]]) -> tuple[list[Sent], float, float]:
    """Each stream on its own connection, in order; the answers and the first send and last
    answer times."""
    import aiohttp

    answers: list[Sent] = []

    async def client(session: aiohttp.ClientSession, stream: Sequence[Request]) -> None:
        for request in stream:
            sent = time.perf_counter()
            async with session.post(
                url, data=request.body, headers={"Content-Type": "application/xml"}
            ) as answer:
                await answer.read()
                code = answer.headers.get("X-DUIS-Response-Code", f"HTTP {answer.status}")
            answers.append(Sent(request, sent, time.perf_counter(), code))

    connector = aiohttp.TCPConnector(limit=len(streams))
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session, s) for s in streams))
        finished = time.perf_counter()
    return answers, started, finished


async def wait_for_arrivals(
    listener: Listener, since: int, expected: Sequence[str]
) -> list[Arrival]:
    """The documents that arrived from index ``since`` on, once a response to each of the
    ``expected`` RequestIDs is in (or nothing more arrived for ``ARRIVAL_PATIENCE`` s)."""
    waiting = {r.encode() for r in expected}
    last, seen = time.monotonic(), len(listener.arrived)
    while not waiting <= listener.request_ids:
        await asyncio.sleep(0.05)
        if len(listener.arrived) != seen:
            last, seen = time.monotonic(), len(listener.arrived)
        elif time.monotonic() - last > ARRIVAL_PATIENCE:
            break
    await asyncio.sleep(0.5)  # anything delivered twice, or late alerts, arrive too
    return [read_arrival(at, body) for at, body in listener.arrived[since:]]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1) of ``values`` in milliseconds."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000


class CpuMeter:
    """CPU seconds of processes (each with its descendants) and of this one."""

    def __init__(self, processes: dict[str, int]) -> None:
        self.processes = processes

    def read(self) -> dict[str, float]:
        times = {name: sum(_cpu(p) for p in _tree(pid)) for name, pid in self.processes.items()}
        own = os.times()
        times["load generator + listener"] = own.user + own.system
        return times


def _tree(pid: int) -> Iterator[int]:
    yield pid
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                yield from _tree(int(child))


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def main_thread_share(pid: int) -> float | None:
    """CPU seconds of a process's main thread (the event loop), alone."""
    stat = Path(f"/proc/{pid}/task/{pid}/stat")
    if not stat.exists():
        return None
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Figure:
    """One measured configuration."""

    label: str
    workers: int
    in_flight: int
    requests: int
    rate: float  # requests per second, first sent to last response arrived
    acknowledged_rate: float  # requests per second, first sent to last I99
    i99_p50_ms: float
    i99_p99_ms: float
    arrival_p50_ms: float
    arrival_p99_ms: float
    errors: int
    checks: dict[str, int]
    by_cohort: dict[str, int]
    inventory_rate: float
    inventory_p50_ms: float
    inventory_p99_ms: float
    inventory_errors: int
    cpu_ms_per_request: dict[str, float]
    event_loop_share: float | None = None

    @property
    def ratio(self) -> float:
        return self.rate / self.inventory_rate if self.inventory_rate else math.nan


@dataclass
class DeviceRun:
    """The 4.1.1 measurement's raw results."""

    answers: list[Sent]
    arrivals: list[Arrival]
    started: float
    acknowledged: float


async def measure_device(
    url: str, listener: Listener, streams: Sequence[Sequence[Request]]
) -> DeviceRun:
    since = len(listener.arrived)
    answers, started, acknowledged = await drive(url, streams)
    expected = [a.request.request_id for a in answers if a.code == "I99"]
    arrivals = await wait_for_arrivals(listener, since, expected)
    return DeviceRun(answers, arrivals, started, acknowledged)


def tally(run: DeviceRun) -> tuple[dict[str, int], dict[str, float], dict[str, int]]:
    """Counts of what came back (checks), the timings and requests by cohort and type."""
    by_id = {a.request.request_id: a for a in run.answers}
    arrived: dict[str, list[Arrival]] = {}
    others = 0
    for arrival in run.arrivals:
        if arrival.request_id in by_id:
            arrived.setdefault(arrival.request_id, []).append(arrival)
        else:
            others += 1
    codes = Counter(a.code for a in run.answers)
    once = [v[0] for v in arrived.values() if len(v) == 1]
    good = [a for a in once if a.code == "I0" and a.success == "true"]
    checks = {
        "sent": len(run.answers),
        "I99": codes.get("I99", 0),
        "arrived once": len(once),
        "arrived twice or more": sum(1 for v in arrived.values() if len(v) > 1),
        "never arrived": sum(1 for a in run.answers if a.request.request_id not in arrived),
        "I0 and MessageSuccess true": len(good),
        "other documents (alerts)": others,
    }
    for code, n in codes.items():
        if code != "I99":
            checks[f"answered {code}"] = n
    for a in once:
        if not (a.code == "I0" and a.success == "true"):
            key = f"arrived {a.code} MessageSuccess={a.success}"
            checks[key] = checks.get(key, 0) + 1
    i99 = [a.answered - a.sent for a in run.answers]
    sent_at = {a.request.request_id: a.sent for a in run.answers}
    delays = [a.at - sent_at[a.request_id] for a in good if a.request_id is not None]
    last = max((a.at for a in good), default=run.acknowledged)
    timings = {
        "rate": len(good) / (last - run.started),
        "acknowledged_rate": len(run.answers) / (run.acknowledged - run.started),
        "i99_p50_ms": percentile(i99, 0.5),
        "i99_p99_ms": percentile(i99, 0.99),
        "arrival_p50_ms": percentile(delays, 0.5),
        "arrival_p99_ms": percentile(delays, 0.99),
    }
    spread = Counter(
        f"{a.request.target.cohort} {a.request.target.device_type}"
        for a in run.answers
        if a.request.target is not None
    )
    return checks, timings, dict(sorted(spread.items()))


# --- the gateway ----------------------------------------------------------------------------


def start_gateway(world: World, port: int, plan: Plan) -> subprocess.Popen[bytes]:
    """``s1adopt gateway serve --headend URL --workers W``, through this module's launcher
    when the plan profiles it (see ``launch_gateway``)."""
    args = ["gateway", "serve", "--port", str(port), "--headend", world.control_url]
    args += ["--workers", str(plan.workers)]
    env = {**os.environ, **world.env}
    if plan.profile is None:
        command = [sys.executable, "-m", "s1adopt", *args]
    else:
        command = [sys.executable, __file__, "--gateway-launcher", str(plan.profile), plan.clock]
        command += args
    log = (world.workdir / f"gateway-{port}.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    import urllib.request

    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return server
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.1)
    server.kill()
    raise SystemExit(f"the gateway did not start; see {log.name}")


def stop_gateway(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@dataclass(frozen=True, slots=True)
class Plan:
    """One gateway start: its workers and the numbers in flight measured on it."""

    workers: int
    in_flight: tuple[int, ...]
    profile: Path | None = None  # run under cProfile, the profiles written here
    clock: str = "cpu"  # what the profile measures: each thread's CPU time, or wall time

    def label(self, in_flight: int) -> str:
        text = f"{self.workers} worker{'s' if self.workers > 1 else ''}, {in_flight} in flight"
        if self.profile is not None:
            text += " (cProfile)"
        return text


async def run_gateway(world: World, listener: Listener, plan: Plan, count: int) -> list[Figure]:
    """Start the gateway, warm it up, measure each number in flight (4.1.1 then 8.2)."""
    largest = max(plan.in_flight)
    users = world.users[:largest]
    warm = device_streams(users, WARM_UP_PER_USER * len(users), start=1)
    warm_inventory = inventory_streams(users, WARM_UP_PER_USER * len(users), world.mpan)
    prepared = []
    for n, in_flight in enumerate(plan.in_flight):
        chosen = world.users[:in_flight]
        prepared.append(
            (
                in_flight,
                device_streams(chosen, count, start=n * 7),
                inventory_streams(chosen, count, world.mpan),
            )
        )
    port = _free_port()
    server = await asyncio.to_thread(start_gateway, world, port, plan)
    base = f"http://127.0.0.1:{port}/api/v1/"
    figures: list[Figure] = []
    try:
        processes = {"gateway": server.pid, "emulator": world.emulator.pid}
        meter = CpuMeter(processes)
        warmed = await measure_device(base + "serviceS", listener, warm)
        checks, _, _ = tally(warmed)
        if checks["I0 and MessageSuccess true"] != checks["sent"]:
            print(f"  note: warm-up {checks}")
        await drive(base + "serviceD", warm_inventory)
        for in_flight, streams, inventory in prepared:
            before, loop_before = meter.read(), main_thread_share(server.pid)
            run = await measure_device(base + "serviceS", listener, streams)
            after, loop_after = meter.read(), main_thread_share(server.pid)
            answers, inv_started, inv_done = await drive(base + "serviceD", inventory)
            checks, timings, spread = tally(run)
            inv = [a.answered - a.sent for a in answers]
            loop_share = None
            if loop_before is not None and loop_after is not None:
                gateway_cpu = after["gateway"] - before["gateway"]
                loop_share = (loop_after - loop_before) / gateway_cpu if gateway_cpu else None
            figures.append(
                Figure(
                    label=plan.label(in_flight),
                    workers=plan.workers,
                    in_flight=in_flight,
                    requests=len(run.answers),
                    errors=len(run.answers) - checks["I0 and MessageSuccess true"],
                    checks=checks,
                    by_cohort=spread,
                    inventory_rate=len(answers) / (inv_done - inv_started),
                    inventory_p50_ms=percentile(inv, 0.5),
                    inventory_p99_ms=percentile(inv, 0.99),
                    inventory_errors=sum(1 for a in answers if a.code != "I0"),
                    cpu_ms_per_request={
                        k: (after[k] - before[k]) * 1000 / len(run.answers) for k in after
                    },
                    event_loop_share=loop_share,
                    **timings,
                )
            )
            print_figure(figures[-1])
    finally:
        await asyncio.to_thread(stop_gateway, server)
    return figures


def print_figure(f: Figure) -> None:
    print(
        f"  {f.label:<34} {f.rate:>7,.0f} {f.acknowledged_rate:>7,.0f} "
        f"{f.i99_p50_ms:>7.1f} {f.i99_p99_ms:>7.1f} {f.arrival_p50_ms:>8.1f} "
        f"{f.arrival_p99_ms:>8.1f} {f.errors:>6} {f.inventory_rate:>7,.0f} {f.ratio:>6.2f}",
        flush=True,
    )


def print_header() -> None:
    print(
        f"  {'gateway':<34} {'4.1.1/s':>7} {'I99/s':>7} {'I99 p50':>7} {'p99':>7} "
        f"{'arrive50':>8} {'p99':>8} {'errors':>6} {'8.2/s':>7} {'ratio':>6}\n"
        f"  {'':<34} {'(end to end)':>15} {'(ms)':>15} {'(ms)':>17} {'':>6} {'':>7} "
        f"{'4.1.1/8.2':>6}"
    )


def print_details(figures: Sequence[Figure]) -> None:
    print("\ncounted (every response must arrive exactly once, I0 with MessageSuccess true):")
    for f in figures:
        print(f"  {f.label}: " + ", ".join(f"{k} {v:,}" for k, v in f.checks.items()))
    print(f"\nrequests by cohort and device type: {figures[0].by_cohort}")
    print("\nCPU per 4.1.1 request, ms (2 cores: 2 ms of CPU per ms of wall clock at most):")
    for f in figures:
        parts = ", ".join(f"{k} {v:.2f}" for k, v in f.cpu_ms_per_request.items())
        total = sum(f.cpu_ms_per_request.values())
        loop = (
            f"; the gateway's main thread (event loop) {f.event_loop_share:.0%} of its CPU"
            if f.event_loop_share is not None and f.workers == 1
            else ""
        )
        print(f"  {f.label}: {parts}; total {total:.2f} (= at most {2000 / total:,.0f}/s){loop}")


# --- profiling ------------------------------------------------------------------------------


def launch_gateway(profile_to: str, clock: str, args: list[str]) -> None:
    """Run the s1adopt CLI (``args``) with every thread under its own cProfile, timed by the
    thread's CPU time (``clock`` cpu: what the work costs) or the wall clock (``wall``: where
    it waits); on exit one profile per thread group is written to ``profile_to``.<group>.prof
    (worker processes spawned by the CLI are not profiled)."""
    import cProfile
    import signal
    import threading

    # uvicorn raises the SIGTERM it caught again once it has shut down: end as SystemExit,
    # so that the profiles are written
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.argv = ["s1adopt", *args]
    from s1adopt.entrypoints.cli import main

    profiles: list[tuple[str, cProfile.Profile]] = []
    original = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]

    timer = time.thread_time if clock == "cpu" else time.perf_counter

    def bootstrap_inner(self: threading.Thread) -> None:
        profile = cProfile.Profile(timer)
        profiles.append((self.name, profile))
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()

    threading.Thread._bootstrap_inner = bootstrap_inner  # type: ignore[attr-defined]
    main_profile = cProfile.Profile(timer)
    main_profile.enable()
    try:
        main()
    except SystemExit:
        pass
    finally:
        main_profile.disable()
        groups: dict[str, list[cProfile.Profile]] = {"event-loop": [main_profile]}
        for name, profile in profiles:
            groups.setdefault(_thread_group(name), []).append(profile)
        for group, members in groups.items():
            stats = pstats.Stats(members[0])
            for other in members[1:]:
                with contextlib.suppress(TypeError):  # a thread that never ran anything
                    stats.add(other)
            stats.dump_stats(f"{profile_to}.{group}.prof")


def _thread_group(name: str) -> str:
    if name.startswith("AnyIO"):
        return "http-threadpool"
    if name.startswith("asyncio"):
        return "to_thread"
    return "other-threads"


GROUP_MEANING = {
    "event-loop": "the gateway process's main thread: uvicorn, the device service's event loop",
    "http-threadpool": "Starlette's thread pool: Gateway.handle for each HTTP request",
    "to_thread": "asyncio.to_thread: the device service's and deliverer's store calls",
    "other-threads": "other threads",
}


def print_profile(out: Path, top: int) -> dict[str, str]:
    """The top entries of each thread group's profile, by own time and by cumulative time."""
    texts: dict[str, str] = {}
    for path in sorted(out.parent.glob(out.name + ".*.prof")):
        group = path.name[len(out.name) + 1 : -len(".prof")]
        buffer = io.StringIO()
        stats = pstats.Stats(str(path), stream=buffer)
        stats.strip_dirs()
        total = stats.total_tt  # type: ignore[attr-defined]
        buffer.write(f"== {group} ({GROUP_MEANING.get(group, '')}): {total:.1f} s profiled\n")
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
        texts[group] = buffer.getvalue()
        print(_compact(texts[group]))
    return texts


def _compact(text: str) -> str:
    keep = []
    for line in text.splitlines():
        if not line.strip() or line.strip().startswith(("Ordered by", "List reduced")):
            continue
        keep.append(line)
    return "\n".join(keep)


# --- the whole run --------------------------------------------------------------------------


async def run_all(world: World, plans: Sequence[Plan], count: int) -> list[Figure]:
    from aiohttp import web

    listener = Listener()
    web_app = web.Application()
    web_app.router.add_post("/responses", listener.handle)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", world.listener_port)
    await site.start()
    figures: list[Figure] = []
    try:
        for plan in plans:
            figures.extend(await run_gateway(world, listener, plan, count))
    finally:
        await runner.cleanup()
    return figures


def main(
    workdir: Path,
    installations: int,
    suppliers: int,
    count: int,
    in_flight: Sequence[int],
    workers: Sequence[int],
    profile: str | None = None,
) -> list[Figure]:
    """Prepare, measure every plan and print the table; write ``result.json``."""
    from bench.machine import describe

    print(f"machine: {describe()}")
    if max(in_flight) > suppliers:
        raise SystemExit(
            f"{max(in_flight)} in flight needs as many users (suppliers): at most {suppliers}"
        )
    world = prepare(workdir, installations, suppliers)
    if max(in_flight) > len(world.users):
        raise SystemExit(f"only {len(world.users)} suppliers have meters")
    plans = [Plan(w, tuple(in_flight)) for w in workers]
    profile_out = workdir / "gateway"
    if profile:
        plans.append(Plan(1, (min(in_flight),), profile_out, profile))
    print(
        f"{count:,} signed 4.1.1 requests (CV1, serviceS) per row, pre-signed, after a "
        f"warm-up; then {count:,} 8.2 on serviceD of the same gateway\n"
    )
    print_header()
    with _uvloop():
        try:
            figures = asyncio.run(run_all(world, plans, count))
        finally:
            world.emulator.terminate()
            world.emulator.wait(timeout=30)
    print_details(figures)
    print("\nbudget (DESIGN.md): at least 1,000 4.1.1/s end to end with the I99's p99 under 50 ms")
    result: dict[str, Any] = {
        "machine": describe(),
        "installations": installations,
        "suppliers": suppliers,
        "requests": count,
        "figures": [{**asdict(f), "ratio": f.ratio} for f in figures],
    }
    if profile:
        print(
            f"\nprofile of the gateway under cProfile ({profile} time; one worker, the device "
            "service in it):"
        )
        result["profile"] = print_profile(profile_out, 25)
    (workdir / "result.json").write_text(json.dumps(result, indent=2, default=str))
    print(f"\nresult: {workdir / 'result.json'}")
    return figures


@contextlib.contextmanager
def _uvloop() -> Iterator[None]:
    """The load generator and listener on uvloop when it is installed (as the gateway is)."""
    try:
        import uvloop
    except ImportError:
        yield
        return
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        yield
    finally:
        asyncio.set_event_loop_policy(previous)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--gateway-launcher":
        launch_gateway(sys.argv[2], sys.argv[3], sys.argv[4:])
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installations", type=int, default=600)
    parser.add_argument("--suppliers", type=int, default=100)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[32, 100])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--profile",
        choices=("cpu", "wall"),
        help="add a run under cProfile, timed by each thread's CPU time or the wall clock",
    )
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "device")
    args = parser.parse_args()
    main(
        args.workdir,
        args.installations,
        args.suppliers,
        args.requests,
        args.concurrency,
        args.workers,
        args.profile,
    )
