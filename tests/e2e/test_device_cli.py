"""The device service from the command line, as a new supplier would use it: a fleet migrated,
the supplier's endpoint listening, the gateway serving, a read and a critical request sent with
``duis request``, the responses received, verified and listed."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from s1adopt.formats.duis.certificates import load_certificate
from s1adopt.formats.duis.schemas import OfficialSchemas
from s1adopt.formats.duis.smets1 import embedded
from s1adopt.formats.duis.xmldsig import verify
from tests.conftest import SHARED
from tests.e2e.conftest import cli

DUIS = SHARED / "duis"
KEYS = DUIS / "keys"
SUPPLIER = "90-B3-D5-1F-30-01-00-00"
SUPPLIER_KEY = KEYS / "xml-sign-90B3D51F30010000-ds.key"
SUPPLIER_CERT = KEYS / "xml-sign-90B3D51F30010000-ds.pem"
DSP_KEY = KEYS / "dsp-xml-sign-90B3D51F30000002-ds.key"
DSP_CERT = KEYS / "dsp-xml-sign-90B3D51F30000002-ds.pem"
NS = {
    "sr": "http://www.dccinterface.co.uk/ServiceUserGateway",
    "ra": "http://www.dccinterface.co.uk/ResponseAndAlert",
}
SERVICE_ENV = {
    "S1ADOPT_DSP_KEY": str(DSP_KEY),
    "S1ADOPT_DSP_CERT": str(DSP_CERT),
    "S1ADOPT_DUIS_SCHEMA_DIR": str(DUIS / "schema"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Background:
    """An ``s1adopt`` command running in the background; stopped at the end of the test."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "s1adopt", *args],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_for_line(self, prefix: str) -> str:
        """The first stderr line starting with ``prefix`` (the process's announcement)."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if line.startswith(prefix):
                return line.strip()
        raise AssertionError(f"no {prefix!r} line; exit {self.process.wait()}")

    def finish(self, timeout: float) -> tuple[int, str, str]:
        """Its exit code and what it printed, once it ended by itself."""
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture
def background() -> Iterator[Any]:
    started: list[Background] = []

    def start(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Background:
        started.append(Background(args, cwd, env))
        return started[-1]

    yield start
    for process in started:
        process.stop()


def _ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _gateway_up(url: str, process: Background) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.process.poll() is not None:
            raise AssertionError(process.finish(5)[2])
        time.sleep(0.2)
    raise AssertionError("the gateway did not answer /health within 60 s")


def _request_ids(output: str) -> list[str]:
    return re.findall(r": ([0-9A-F-]{23}:[0-9A-F-]{23}:\d+): ", output)


def test_a_supplier_reads_and_disables_a_migrated_meter_from_the_command_line(
    tmp_path: Path, emulator_for: Any, background: Any
) -> None:
    # a small fleet, served, its registration data loaded and migrated
    _ok(
        cli(
            *("fleet", "generate", "--installations", "6", "--seed", "3", "--out", "fleet"),
            *("--fault-rate", "0", "--dormant-rate", "0", "--unauthorised-rate", "0"),
            cwd=tmp_path,
        )
    )
    emulator = emulator_for(tmp_path / "fleet", tmp_path)
    registration = [str(p) for p in sorted((tmp_path / "fleet" / "registration").glob("*.xml"))]
    _ok(cli("registration", "load", *registration, cwd=tmp_path))
    files = [str(p) for p in sorted((tmp_path / "fleet" / "migration").glob("*.xml"))]
    _ok(cli("migrate", *files, "--headend", emulator.url, "--json", cwd=tmp_path))
    expected = json.loads((tmp_path / "fleet" / "expected.json").read_text())["installations"]
    meter = ""
    for reference, outcome in sorted(expected.items()):
        view = json.loads(_ok(cli("inventory", "show", reference, "--json", cwd=tmp_path)).stdout)
        esme = [
            d for d in view["devices"] if d["type"] == "ESME" and d["smiStatus"] == "Commissioned"
        ]
        if outcome == "commissioned" and esme:
            meter = esme[0]["deviceId"]
            break
    assert meter, "a commissioned electricity meter"

    # the service's keys (the public test DSP's), the supplier and its endpoint
    keys = _ok(cli("keys", "init", cwd=tmp_path, env=SERVICE_ENV)).stdout
    assert "S1SP signing certificate" in keys
    s1sp_cert = tmp_path / ".s1adopt" / "keys" / "s1sp.pem"
    listen_port, gateway_port = _free_port(), _free_port()
    endpoint = f"http://127.0.0.1:{listen_port}/duis/responses"
    _ok(
        cli(
            *("users", "add", "--eui", SUPPLIER, "--role", "IS", "--role", "GS"),
            *("--cert", str(SUPPLIER_CERT), "--endpoint", endpoint),
            cwd=tmp_path,
        )
    )
    listener = background(
        [
            *("duis", "listen", "--port", str(listen_port), "--dsp-cert", str(DSP_CERT)),
            *("--s1sp-cert", str(s1sp_cert), "--schema-dir", str(DUIS / "schema")),
            *("--out", "inbox"),
        ],
        tmp_path,
    )
    listener.wait_for_line("listening on")
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    gateway = background(
        ["gateway", "serve", "--port", str(gateway_port), "--headend", emulator.url],
        tmp_path,
        SERVICE_ENV,
    )
    _gateway_up(gateway_url, gateway)

    # a read of the registers: I99 now, the response at the endpoint
    client = (
        *("--device", meter, "--user", SUPPLIER, "--key", str(SUPPLIER_KEY)),
        *("--cert", str(SUPPLIER_CERT), "--url", gateway_url, "--dsp-cert", str(DSP_CERT)),
    )
    read = _ok(cli("duis", "request", "4.1.1", *client, cwd=tmp_path))
    assert re.search(r"^CV1 4\.1\.1 -> serviceS: .*: I99 accepted", read.stdout, re.M), read.stdout
    assert "[DSP signature verified]" in read.stdout
    (read_id,) = _request_ids(read.stdout)

    # a critical request: the pre-command (CV4) signed and sent back (CV5)
    disable = _ok(cli("duis", "request", "7.2", *client, cwd=tmp_path))
    lines = disable.stdout.splitlines()
    assert re.match(r"CV4 7\.2 -> serviceT: .*: I0 ", lines[0]), disable.stdout
    assert re.match(r"pre-command of .* checked and signed", lines[1]), disable.stdout
    assert re.match(r"CV5 7\.2 -> serviceS: .*: I99 accepted", lines[2]), disable.stdout
    transform_id, disable_id = _request_ids(disable.stdout)

    # both responses arrive at the endpoint (with the device alert the disablement raised)
    inbox = tmp_path / "inbox"
    kept = _arrived(inbox, {read_id: 1, disable_id: 1})
    dsp = load_certificate(DSP_CERT.read_bytes()).public_key()
    s1sp = load_certificate(s1sp_cert.read_bytes()).public_key()
    for document in (d for copies in kept.values() for d in copies):  # verified here again
        root = etree.fromstring(document)
        verify(root, dsp)  # type: ignore[arg-type]
        part = embedded(root)
        assert part is not None
        verify(part, s1sp)  # type: ignore[arg-type]
        OfficialSchemas(DUIS / "schema").validate(root)
    register = etree.fromstring(kept[read_id][0]).findtext(
        ".//ra:ReadInstantaneousImportRegistersRsp/ra:Electricity/ra:ActiveImportRegister/ra:Value",
        namespaces=NS,
    )
    assert int(register or "0") > 0

    # the operator's view: both delivered; the critical request's commands under its CV5
    listed = json.loads(_ok(cli("duis", "responses", "--json", cwd=tmp_path)).stdout)
    responses = {d["reference"]: d for d in listed if d["kind"] == "response"}
    assert set(responses) == {read_id, disable_id}
    assert {(d["status"], d["responseCode"]) for d in responses.values()} == {("delivered", "I0")}
    table = _ok(cli("duis", "responses", "--user", SUPPLIER, "--request", read_id, cwd=tmp_path))
    assert "delivered" in table.stdout
    commands = json.loads(_ok(cli("duis", "commands", transform_id, "--json", cwd=tmp_path)).stdout)
    assert commands["requestId"] == disable_id
    assert [(c["status"], c["responseCode"]) for c in commands["commands"]] == [("done", "I0")]
    document = tmp_path / "again.xml"
    read_outbox_id = str(responses[read_id]["id"])
    _ok(cli("duis", "response", read_outbox_id, "--out", str(document), cwd=tmp_path))
    assert document.read_bytes() in kept[read_id]

    # the operator redelivers the read: it arrives once more
    before = len(_arrived(inbox, {read_id: 1})[read_id])
    put_back = _ok(cli("duis", "redeliver", read_outbox_id, cwd=tmp_path)).stdout
    assert "1 of 1 put back in line" in put_back, put_back
    again = _arrived(inbox, {read_id: before + 1})
    assert again[read_id][-1] == document.read_bytes()

    # what the listener printed: a line per document, each verified and valid
    listener.process.send_signal(signal.SIGINT)
    code, received, said = listener.finish(timeout=30)
    assert code == 0, received + said
    assert "documents taken, 0 refused" in said
    checks = "[DSP signature verified, S1SP signature verified, schema valid]"
    lines = received.splitlines()
    assert all(line.endswith(checks) for line in lines), received
    shown = {line.split()[3]: line for line in lines}
    assert "ReadInstantaneousImportRegistersRsp MessageSuccess=true" in shown[read_id]
    assert "ActiveImportRegister=" in shown[read_id]
    assert "DisableSupplyRsp MessageSuccess=true" in shown[disable_id]


def _arrived(inbox: Path, wanted: dict[str, int]) -> dict[str, list[bytes]]:
    """The documents kept in ``inbox`` for these references, oldest first, once each is
    there at least as many times as wanted."""
    deadline = time.monotonic() + 60
    while True:
        found: dict[str, list[Path]] = {}
        for path in sorted(inbox.iterdir(), key=lambda p: int(p.name.split("-", 1)[0])):
            found.setdefault(path.name.split("-", 1)[1].removesuffix(".xml"), []).append(path)
        if all(len(found.get(r, [])) >= n for r, n in wanted.items()):
            return {r: [p.read_bytes() for p in found[r]] for r in wanted}
        assert time.monotonic() < deadline, f"arrived: {sorted(found)}"
        time.sleep(0.1)
