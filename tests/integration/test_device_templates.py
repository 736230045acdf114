"""DCC's official example requests (the public templates) for device SRVs, as a user's system
would send them: each re-addressed to a migrated device of the template's device type, signed
with its originator's key of the public test PKI, and POSTed over HTTP to the gateway while
the device service works the emulated head ends of the three cohorts.

Each template must be answered as its SRV, its values and the target's model say: no
Equivalent Steps, E1011; a device type the SRV does not serve, E11; values the SMETS1
equivalent cannot carry, E1001; a critical request (CV4), I0 with the pre-command, which is
then signed and sent as CV5; CV1 and CV5, I99 and then a response at the user's endpoint that
verifies (DSP and S1SP signatures) and is valid against the official schemas. The templates
the service or the meter refuses for a stated reason are listed below with that reason.

DCC's test devices are mapped to types by what the templates send them, and replaced wherever
a template names them (a device to join to the HAN, for example).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from s1adopt.domain.device_models import model_for
from s1adopt.domain.devices import DeviceType
from s1adopt.domain.equivalent_steps import steps_for
from s1adopt.domain.identities import Eui64
from s1adopt.domain.srv import lookup
from s1adopt.formats.duis import precommand
from s1adopt.formats.duis.certificates import issuer_name
from s1adopt.formats.duis.device_requests import read_values
from s1adopt.formats.duis.envelope import request_document
from s1adopt.formats.duis.requests import MalformedRequest
from s1adopt.formats.duis.xmldsig import sign
from s1adopt.services.duis.gateway import Answer
from tests.integration.device_world import (
    DUIS,
    NS,
    USERS,
    DeviceWorld,
    device_world,
    pre_command_of,
    request_id_of,
)

TEMPLATES = DUIS / "templates"
# DCC's test devices, by what the templates send them (A0 import meter, A1 gas meter, A2 hub)
TEST_DEVICES = {
    "00-DB-12-34-56-78-90-A0": DeviceType.ESME,
    "00-DB-12-34-56-78-90-A1": DeviceType.GSME,
    "00-DB-12-34-56-78-90-A2": DeviceType.CHF,
}
# refused by the S1SP before any device traffic, for the reason given
REFUSED = {
    "CCS01_8.11_SUCCESS": "only an IHD or a PPMID joins the HAN",  # the meter is on it already
    "CS03B_8.7.2_SUCCESS": "pre-notify it (12.2) first",  # a device not in the inventory
    "CS03CCritical_8.7.1_SUCCESS": "pre-notify it (12.2) first",
    "CS06_11.3_FUTURE_DATED_SUCCESS": "no firmware image",  # DCC's example hash
    "CS06_11.3_IMMEDIATE_SUCCESS": "no firmware image",
    "ECS35f_6.13_SUCCESS": "no SMETS1 equivalent (no auxiliary load log)",
}
# carried out, and answered by the meter with a refusal for the reason given
METER_REFUSES = {
    "CS01a_2.2_SUCCESS": "the meter is in credit mode",  # these electricity meters are
    "CS04B_8.8.2_SUCCESS": "is not on this HAN",  # DCC's example device 01-02-...-08
    "CS04ACCritical_8.8.1_SUCCESS": "is not on this HAN",  # DCC's example device ...-99
    "ECS09_2.5_SUCCESS": "the meter is in credit mode",
    "GCS06_2.5_SUCCESS": "emergency credit is available below",  # the gas meter has credit
    "ECS19_4.3_SUCCESS": "the meter is in credit mode",
    "ECS26a_4.13_TWIN_SUCCESS": "the meter is in credit mode",
    "ECS22b_4.8.1_SINGLE_SUCCESS": "holds no data before",  # a window in 2015
    "ECS22b_4.8.1_TWIN_SUCCESS": "holds no data before",
    "ECS66_4.17_SUCCESS": "holds no data before",
    "GCS17_4.8.1_SUCCESS": "holds no data before",
}
FUTURE_LIMIT = "2027"  # the templates' future date 2030 is beyond the 30 days


@dataclass(frozen=True, slots=True)
class Target:
    """A migrated device a template is sent to."""

    cohort: str
    kind: DeviceType
    device: Eui64
    manufacturer: str
    model: str


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[DeviceWorld]:
    async with device_world(tmp_path) as running:
        yield running


def _installations(world: DeviceWorld) -> dict[str, dict[DeviceType, Target]]:
    """Per cohort, the commissioned devices of one dual-fuel installation, by type."""
    with world.app.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT i.cohort, i.id, d.device_type, d.device_id, d.manufacturer, d.model "
            "FROM device d JOIN installation i ON i.id = d.installation_id "
            "WHERE d.smi_status = 'Commissioned' ORDER BY i.id, d.device_id"
        ).all()
    found: dict[tuple[str, int], dict[DeviceType, Target]] = {}
    for cohort, installation, kind, device, manufacturer, model in rows:
        target = Target(cohort, DeviceType(kind), Eui64.parse(device), manufacturer, model)
        found.setdefault((cohort, installation), {})[target.kind] = target
    chosen: dict[str, dict[DeviceType, Target]] = {}
    for (cohort, _), devices in found.items():
        if cohort not in chosen and set(TEST_DEVICES.values()) <= set(devices):
            chosen[cohort] = devices
    assert set(chosen) == {"IOC", "MOC", "FOC"}, sorted(chosen)
    return chosen


def _readdressed(raw: bytes, devices: dict[DeviceType, Target]) -> bytes:
    """The template with DCC's test devices named in it (with or without hyphens) replaced by
    the installation's devices of the same type."""
    for test_device, kind in TEST_DEVICES.items():
        ours = devices[kind].device
        raw = raw.replace(test_device.encode(), ours.value.encode())
        raw = raw.replace(test_device.replace("-", "").encode(), ours.hex.encode())
    return raw


def _expected(name: str, srv: str, variant: int, body: etree._Element, target: Target) -> str:
    """The code a template must get at once, from its SRV's steps, its values and the target's
    model (a variation of the Equivalent Steps is checked in the model table itself)."""
    steps = steps_for(srv)
    if steps is None:
        return "E1011"
    if target.kind not in steps.device_types:
        return "E11"
    lacks = model_for(target.kind.value, target.manufacturer, target.model).behaviour
    if steps.operations & lacks.unsupported or steps.settings & lacks.unsupported_settings:
        return "E11"
    try:
        values = read_values(srv, body)
    except MalformedRequest as exc:
        return exc.code
    if name in REFUSED:
        return "E11"
    execution = str(values.get("executionDateTime", ""))
    if variant == 1 and execution.startswith("3000-12-31T00:00:00"):
        return "E11"  # a cancellation, with no future-dated request of the kind waiting
    if variant == 1 and execution > FUTURE_LIMIT:
        return "E1001"
    return "I0" if variant == 4 else "I99"


def _template_name(path: Path) -> str:
    return path.name.removesuffix("_REQUEST_DUIS.XML")


async def test_the_official_templates_of_device_srvs_are_answered_as_their_srv_says(
    world: DeviceWorld,
) -> None:
    installations = _installations(world)
    sending = True  # the device service works its queues while the templates are sent
    working = asyncio.create_task(world.work_until(lambda: not sending, timeout=600))
    sent: dict[str, tuple[str, str]] = {}  # RequestID -> (template, cohort)
    codes: Counter[str] = Counter()
    refused: dict[str, set[str]] = {}
    for path in sorted(TEMPLATES.glob("*.XML")):
        raw, name = path.read_bytes(), _template_name(path)
        header = re.search(rb"<sr:RequestID>([^:<]+):([^:<]+):(\d+)</sr:RequestID>", raw)
        assert header is not None, name
        originator = Eui64.parse(header.group(1).decode())
        srv_text = re.search(rb"<sr:ServiceReferenceVariant>([^<]+)<", raw).group(1).decode()  # type: ignore[union-attr]
        srv = lookup(srv_text)
        assert srv is not None
        kind = TEST_DEVICES.get(header.group(2).decode())
        if srv.non_device or kind is None or originator not in USERS:
            continue  # the gateway's own tests answer these; no key of that originator here
        if not USERS[originator] & srv.eligible_roles:
            continue
        variant = int(re.search(rb"<sr:CommandVariant>(\d)<", raw).group(1))  # type: ignore[union-attr]
        for cohort, devices in installations.items():
            target = devices[kind]
            request_id = _next_id(world, originator, target.device)
            root = etree.fromstring(_readdressed(raw, devices))
            root.find("sr:Header/sr:RequestID", NS).text = request_id  # type: ignore[union-attr]
            signature = root.find("ds:Signature", NS)
            if signature is not None:
                root.remove(signature)
            body = root.find("sr:Body", NS)
            assert body is not None
            expected = _expected(name, srv_text, variant, body[0], target)
            answer = await _send(world, originator, root, variant)
            assert answer.code == expected, (name, cohort, answer.message)
            codes[answer.code] += 1
            if answer.code == "E11" and name in REFUSED:
                assert REFUSED[name] in answer.message, (name, answer.message)
                refused.setdefault(name, set()).add(cohort)
            if answer.code == "I0":  # the pre-command, signed by the user, sent as CV5
                key, _ = world.identity(originator)
                signed = precommand.sign(pre_command_of(answer.body), key)
                request_id = _next_id(world, originator, target.device)
                command = request_document(
                    request_id, 5, srv_text, precommand.signed_pre_command_element(signed)
                )
                answer = await _send(world, originator, command, 5)
                expected = _expected(name, srv_text, 1, body[0], target)
                assert answer.code == expected, (name, cohort, "CV5", answer.message)
                codes[f"CV5 {answer.code}"] += 1
            if answer.code == "I99":
                sent[request_id] = (name, cohort)
    sending = False
    await working
    responses = await world.responses(set(sent), timeout=120)
    assert len(responses) == len(sent)  # each once, for every I99
    meter_refused: dict[str, set[str]] = {}
    for document in responses:
        root = world.verified(document)  # DSP, S1SP, official schemas
        name, cohort = sent[request_id_of(document) or ""]
        assert root.findtext("sr:Header/sr:ResponseCode", namespaces=NS) == "I0", name
        answer = root.find(".//{*}SMETSData/*")
        assert answer is not None, name
        if answer.get("MessageSuccess") != "true":
            error = root.findtext(".//{*}Error") or ""
            meter_refused.setdefault(name, set()).add(cohort)
            assert METER_REFUSES.get(name, "(not expected)") in error, (name, cohort, error)
    every_cohort = {"IOC", "MOC", "FOC"}
    assert refused == dict.fromkeys(REFUSED, every_cohort)
    assert meter_refused == dict.fromkeys(METER_REFUSES, every_cohort)
    assert codes["I99"] + codes["CV5 I99"] >= 200, codes
    assert codes["I0"] >= 60, codes  # critical templates went CV4 and CV5
    assert codes["E1011"] > 100, codes  # device SRVs without Equivalent Steps


def _next_id(world: DeviceWorld, originator: Eui64, device: Eui64) -> str:
    counter = world.counters.get(originator, 10**15) + 1
    world.counters[originator] = counter
    return f"{originator.value}:{device.value}:{counter}"


async def _send(
    world: DeviceWorld, originator: Eui64, root: etree._Element, variant: int
) -> Answer:
    key, cert = world.identity(originator)
    signed = sign(root, key, issuer_name(cert), cert.serial_number)
    answer = await world.send("serviceT" if variant == 4 else "serviceS", signed)
    if answer.status == 200:
        world.verified(answer.body)
    else:  # values refused, as a schema failure is: a problem document
        assert (answer.status, answer.code) == (400, "E1001"), answer.message
    return answer
