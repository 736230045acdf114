"""The DUIS gateway over real HTTP, started as the README says: the Read Inventory story, the
whole SRV x role matrix, a fuzzer, health, metrics and a restart."""

from __future__ import annotations

import json
import os
import random
import re
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

from s1adopt.domain.duis import ResponseCode
from s1adopt.domain.identities import Eui64
from s1adopt.domain.parties import Role
from s1adopt.domain.srv import CATALOGUE, ServiceRequestVariant
from s1adopt.formats.duis.certificates import (
    certificate_pem,
    issuer_name,
    load_certificate,
    new_signing_identity,
    private_key_pem,
)
from s1adopt.formats.duis.xmldsig import SignatureInvalid, sign, verify
from tests.conftest import SHARED
from tests.e2e.conftest import cli

DUIS = SHARED / "duis"
KEYS = DUIS / "keys"
SUPPLIER = "90-B3-D5-1F-30-01-00-00"
DSP_KEY = KEYS / "dsp-xml-sign-90B3D51F30000002-ds.key"
DSP_CERT = KEYS / "dsp-xml-sign-90B3D51F30000002-ds.pem"
SR = "http://www.dccinterface.co.uk/ServiceUserGateway"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gateway:
    """``s1adopt gateway serve`` in a subprocess."""

    def __init__(self, cwd: Path, official_schemas: bool = True, **env: str) -> None:
        self.cwd, self.port = cwd, _free_port()
        self.env = {
            **os.environ,
            "S1ADOPT_DSP_KEY": str(DSP_KEY),
            "S1ADOPT_DSP_CERT": str(DSP_CERT),
            **env,
        }
        if official_schemas:
            self.env["S1ADOPT_DUIS_SCHEMA_DIR"] = str(DUIS / "schema")
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[str] | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "s1adopt", "gateway", "serve", "--port", str(self.port)],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None:
                raise AssertionError(self.process.stderr.read() if self.process.stderr else "")
            time.sleep(0.2)
        raise AssertionError("the gateway did not answer /health within 60 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def post(self, endpoint: str, body: bytes) -> httpx.Response:
        return httpx.post(
            f"{self.url}/api/v1/{endpoint}",
            content=body,
            headers={"Content-Type": "application/xml"},
            timeout=10,
        )


@pytest.fixture
def gateways() -> Iterator[list[Gateway]]:
    started: list[Gateway] = []
    yield started
    for gateway in started:
        gateway.stop()


def _add_user(tmp: Path, eui: str, roles: list[str], cert: Path) -> None:
    args = ["users", "add", "--eui", eui, "--cert", str(cert)]
    for role in roles:
        args += ["--role", role]
    done = cli(*args, cwd=tmp)
    assert done.returncode == 0, done.stderr


def _dsp_verifies(body: bytes) -> bool:
    public = load_certificate(DSP_CERT.read_bytes()).public_key()
    try:
        verify(etree.fromstring(body), public)  # type: ignore[arg-type]
    except SignatureInvalid:
        return False
    return True


def test_a_read_inventory_signed_by_the_test_supplier_lists_its_migrated_devices(
    tmp_path: Path, emulator_for: Any, gateways: list[Gateway]
) -> None:
    done = cli(
        "fleet", "generate", "--installations", "30", "--seed", "4", "--out", "fleet", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    emulator = emulator_for(tmp_path / "fleet", tmp_path)
    registration = [str(p) for p in (tmp_path / "fleet" / "registration").glob("*.xml")]
    assert cli("registration", "load", *registration, cwd=tmp_path).returncode == 0
    files = [str(p) for p in sorted((tmp_path / "fleet" / "migration").glob("*.xml"))]
    migrated = cli("migrate", *files, "--headend", emulator.url, "--json", cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    expected = json.loads((tmp_path / "fleet" / "expected.json").read_text())["installations"]
    reference = next(r for r, o in expected.items() if o == "commissioned")
    view = json.loads(cli("inventory", "show", reference, "--json", cwd=tmp_path).stdout)
    mpan = next(m["mpxn"] for m in view["meterPoints"] if m["kind"] == "MPAN")
    _add_user(tmp_path, SUPPLIER, ["IS", "GS"], KEYS / "xml-sign-90B3D51F30010000-ds.pem")
    gateway = Gateway(tmp_path)
    gateways.append(gateway)
    template = (DUIS / "templates" / "8.2_READ_INVENTORY_REQUEST_DUIS.XML").read_text()
    request = tmp_path / "read-inventory.xml"
    request.write_text(
        template.replace(
            "<sr:DeviceID>00-DB-12-34-56-78-90-A2</sr:DeviceID>", f"<sr:MPxN>{mpan}</sr:MPxN>"
        ).replace(":1000<", f":{int(time.time())}<")
    )
    sent = cli(
        "duis",
        "send",
        str(request),
        "--url",
        gateway.url,
        "--key",
        str(KEYS / "xml-sign-90B3D51F30010000-ds.key"),
        "--cert",
        str(KEYS / "xml-sign-90B3D51F30010000-ds.pem"),
        "--dsp-cert",
        str(DSP_CERT),
        cwd=tmp_path,
    )
    assert sent.returncode == 0, sent.stderr
    assert "response code I0" in sent.stderr
    assert "signature verified" in sent.stderr
    listed = set(re.findall(r"<sr:DeviceID>([^<]+)</sr:DeviceID>", sent.stdout))
    assert listed == {d["deviceId"] for d in view["devices"]}
    assert "<sr:CSPRegion>SMETS1</sr:CSPRegion>" in sent.stdout
    metrics = httpx.get(f"{gateway.url}/metrics", timeout=5).text
    assert 'duis_requests_total{code="I0",endpoint="serviceD"} 1.0' in metrics


def _single_role_users(tmp: Path) -> dict[Role, tuple[Eui64, Any, Any]]:
    """A user of each role alone, with a fresh key and certificate of its own."""
    users = {}
    for index, role in enumerate(
        (
            Role.IMPORT_SUPPLIER,
            Role.EXPORT_SUPPLIER,
            Role.GAS_SUPPLIER,
            Role.ELECTRICITY_DISTRIBUTOR,
            Role.GAS_TRANSPORTER,
            Role.OTHER_USER,
            Role.REGISTERED_SUPPLIER_AGENT,
        )
    ):
        eui = Eui64.from_int(0x00DB_0000_0000_0100 + index)
        key, cert = new_signing_identity(eui, f"user {role.value}", "87")
        path = tmp / f"{role.value}.pem"
        path.write_bytes(certificate_pem(cert))
        (tmp / f"{role.value}.key").write_bytes(private_key_pem(key))
        _add_user(tmp, eui.value, [role.value], path)
        users[role] = (eui, key, cert)
    return users


def _request_for(
    srv: ServiceRequestVariant, originator: Eui64, counter: int
) -> tuple[str, etree._Element]:
    """A request of ``srv`` with its first command variant, to the endpoint it belongs at."""
    variant = min(srv.command_variants)
    endpoint = {8: "serviceD", 4: "serviceT"}.get(int(variant), "serviceS")
    target = "90-B3-D5-1F-30-00-00-02" if srv.non_device else "00-DB-12-34-56-78-90-A9"
    root = etree.Element(f"{{{SR}}}Request", nsmap={"sr": SR}, schemaVersion="5.4")
    header = etree.SubElement(root, f"{{{SR}}}Header")
    for name, text in (
        ("RequestID", f"{originator.value}:{target}:{counter}"),
        ("CommandVariant", str(int(variant))),
        ("ServiceReference", srv.service_reference),
        ("ServiceReferenceVariant", srv.variant),
    ):
        etree.SubElement(header, f"{{{SR}}}{name}").text = text
    body = etree.SubElement(root, f"{{{SR}}}Body")
    element = etree.SubElement(body, f"{{{SR}}}{srv.body_elements[0]}")
    for name, text in _BODY_FIELDS.get(srv.variant, ()):
        etree.SubElement(element, f"{{{SR}}}{name}").text = text
    return endpoint, root


# The fields of the bodies the gateway's own schema defines strictly; the rest pass laxly.
_BODY_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "8.2": (("DeviceID", "00-DB-12-34-56-78-90-A9"),),
    "8.3": (("DeviceID", "00-DB-12-34-56-78-90-A9"),),
    "8.4": (("DeviceID", "00-DB-12-34-56-78-90-A9"), ("DeleteDevice", "")),
    "5.2": (("DSPScheduleID", "1"),),
    "12.2": (
        ("DeviceID", "00-DB-12-34-56-78-90-A9"),
        ("DeviceManufacturer", "AB01"),
        ("DeviceModel", "010A030B"),
        ("DeviceType", "ESME"),
    ),
}


def test_the_whole_srv_by_role_matrix_through_http(tmp_path: Path, gateways: list[Gateway]) -> None:
    users = _single_role_users(tmp_path)
    gateway = Gateway(tmp_path, official_schemas=False)
    gateways.append(gateway)
    counter = 1
    mismatches = []
    with httpx.Client(timeout=10) as client:
        for srv in CATALOGUE:
            for role, (eui, key, cert) in users.items():
                counter += 1
                endpoint, root = _request_for(srv, eui, counter)
                body = sign(root, key, issuer_name(cert), cert.serial_number)
                answer = client.post(
                    f"{gateway.url}/api/v1/{endpoint}",
                    content=body,
                    headers={"Content-Type": "application/xml"},
                )
                assert answer.status_code < 500
                code = answer.headers["X-DUIS-Response-Code"]
                refused_for_role = code == ResponseCode.ROLE_NOT_ELIGIBLE.value
                if refused_for_role == (role in srv.eligible_roles):
                    mismatches.append(
                        (srv.variant, role.value, code, answer.headers["X-DUIS-Message"])
                    )
    assert mismatches == []
    assert counter == 1 + 129 * 7


def test_a_fuzzer_never_gets_a_5xx_nor_an_unsigned_acceptance(
    tmp_path: Path, gateways: list[Gateway]
) -> None:
    _add_user(tmp_path, SUPPLIER, ["IS", "GS"], KEYS / "xml-sign-90B3D51F30010000-ds.pem")
    gateway = Gateway(tmp_path)
    gateways.append(gateway)
    from s1adopt.formats.duis.certificates import load_private_key

    key = load_private_key((KEYS / "xml-sign-90B3D51F30010000-ds.key").read_bytes())
    cert = load_certificate((KEYS / "xml-sign-90B3D51F30010000-ds.pem").read_bytes())
    templates = sorted((DUIS / "templates").glob("*.XML"))
    rng = random.Random(2026)
    fragments = [
        b'<!DOCTYPE r [<!ENTITY x "y">]>',
        b"&x;",
        b"<sr:Header/>",
        b"]]>",
        b"\x00",
        b"\xff\xfe",
        b"<ds:Signature/>",
        b"<?xml version='1.0'?>",
        b"<!--",
        b"' \"",
        b"<sr:Body/>" * 50,
    ]
    counter = 10_000
    codes: dict[int, int] = {}
    with httpx.Client(timeout=10) as client:
        for _ in range(2500):
            counter += 1
            source = rng.choice(templates).read_bytes()
            root = etree.fromstring(source, etree.XMLParser(remove_blank_text=True))
            for old in root.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
                root.remove(old)
            request_id = root.find(f"{{{SR}}}Header/{{{SR}}}RequestID")
            assert request_id is not None
            parts = (request_id.text or "").split(":")
            request_id.text = f"{SUPPLIER}:{parts[1]}:{counter}"
            data = bytearray(sign(root, key, issuer_name(cert), cert.serial_number))
            if rng.random() < 0.4:  # a quiet change: one digit of the content, still valid XML
                digits = [m.start() for m in re.finditer(rb">[^<]*\d", bytes(data))]
                spot = rng.choice(digits)
                at = spot + 1 + next(i for i, b in enumerate(data[spot + 1 :]) if chr(b).isdigit())
                data[at] = ord(str((int(chr(data[at])) + 1) % 10))
                rounds = 0
            else:
                rounds = rng.randint(1, 4)
            for _ in range(rounds):
                at = rng.randrange(len(data))
                choice = rng.random()
                if choice < 0.4:
                    data[at] = rng.randrange(256)
                elif choice < 0.7:
                    del data[at : at + rng.randint(1, 40)]
                else:
                    data[at:at] = rng.choice(fragments)
            endpoint = rng.choice(["serviceS", "serviceD", "serviceT"])
            answer = client.post(
                f"{gateway.url}/api/v1/{endpoint}",
                content=bytes(data),
                headers={"Content-Type": "application/xml"},
            )
            assert answer.status_code < 500, answer.text[:500]
            codes[answer.status_code] = codes.get(answer.status_code, 0) + 1
            if answer.headers.get("X-DUIS-Response-Code") in ("I0", "I99"):
                # accepted: then the mutation left the signed content intact
                verify(
                    etree.fromstring(bytes(data)),
                    cert.public_key(),
                )
            if answer.status_code == 200:
                assert _dsp_verifies(answer.content)
    assert codes.get(400, 0) > 100
    assert codes.get(200, 0) > 100


def test_a_restarted_gateway_still_refuses_an_old_counter(
    tmp_path: Path, gateways: list[Gateway]
) -> None:
    _add_user(tmp_path, SUPPLIER, ["IS", "GS"], KEYS / "xml-sign-90B3D51F30010000-ds.pem")
    gateway = Gateway(tmp_path)
    gateways.append(gateway)
    request = tmp_path / "r.xml"
    template = (DUIS / "templates" / "8.2_READ_INVENTORY_REQUEST_DUIS.XML").read_text()
    args = [
        "--key",
        str(KEYS / "xml-sign-90B3D51F30010000-ds.key"),
        "--cert",
        str(KEYS / "xml-sign-90B3D51F30010000-ds.pem"),
    ]
    request.write_text(template.replace(":1000<", ":2000<"))
    signed = cli("duis", "sign", str(request), *args, cwd=tmp_path)
    assert signed.returncode == 0, signed.stderr
    first = gateway.post("serviceD", signed.stdout.encode())
    assert first.headers["X-DUIS-Response-Code"] == "I0"
    gateway.stop()
    gateway.start()
    request.write_text(template.replace(":1000<", ":1999<"))
    lower = cli("duis", "sign", str(request), *args, cwd=tmp_path).stdout.encode()
    assert gateway.post("serviceD", lower).headers["X-DUIS-Response-Code"] == "E31"
    again = gateway.post("serviceD", signed.stdout.encode())
    assert again.content == first.content
