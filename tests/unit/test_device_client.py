"""The device-service command-line tools' own logic: request values, the pre-command check
before signing, the listener's checks and its one-line summaries, and the outbox queries
(with a fake store)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lxml import etree

from s1adopt.domain.duis import DUIS_NAMESPACE, ResponseCode
from s1adopt.domain.errors import InvalidRequest
from s1adopt.domain.identities import Eui64
from s1adopt.entrypoints.device_client import (
    checked_pre_command,
    device_srv,
    parse_setting,
    request_values,
    utc_text,
)
from s1adopt.entrypoints.device_listener import Inbox, Received, listen, summarise
from s1adopt.formats.duis import precommand, smets1
from s1adopt.formats.duis.certificates import issuer_name, new_signing_identity
from s1adopt.formats.duis.device_requests import build_body
from s1adopt.formats.duis.mmc import RenderContext
from s1adopt.formats.duis.schemas import OfficialSchemas
from s1adopt.formats.duis.xmldsig import sign
from s1adopt.services.duis.answers import FailureCode, ResponseFactory
from s1adopt.services.duis.device_ports import Delivery, PreCommandRecord
from s1adopt.services.duis.outbox import (
    find_delivery,
    list_deliveries,
    redeliver,
    request_commands,
)
from tests.conftest import SHARED

USER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
DEVICE = Eui64.parse("00-0D-6F-01-00-00-00-09")
DSP_EUI = Eui64.parse("90-B3-D5-1F-30-00-00-02")
AT = datetime(2026, 11, 29, 9, 30, tzinfo=UTC)
READ_ID = f"{USER.value}:{DEVICE.value}:1"
NOW = datetime(2026, 11, 29, 10, 15, 42, tzinfo=UTC)
SCHEMAS = SHARED / "duis" / "schema"


# --- request values ---------------------------------------------------------------------------


def test_without_values_a_request_carries_the_srvs_example_values_for_the_device_type() -> None:
    assert request_values("6.11", "ESME", None, [], None, NOW) == {
        "time": "2026-11-29T10:15:42Z",
        "tolerance": 10,
    }
    assert request_values("4.1.1", "GSME", None, [], None, NOW) == {}


def test_given_values_replace_the_examples_and_each_set_goes_on_top() -> None:
    values = request_values(
        "2.1",
        "ESME",
        '{"prepayment": {"emergencyCreditLimit": 1}}',
        ["prepayment.lowCreditThreshold:=250", "fuel=electricity"],
        None,
        NOW,
    )
    assert values == {
        "prepayment": {"emergencyCreditLimit": 1, "lowCreditThreshold": 250},
        "fuel": "electricity",
    }
    on_examples = request_values("6.11", "ESME", None, ["tolerance:=30"], None, NOW)
    assert on_examples == {"time": "2026-11-29T10:15:42Z", "tolerance": 30}


def test_a_set_value_is_a_text_unless_written_as_json_so_a_utrn_keeps_its_digits() -> None:
    assert parse_setting("utrn=73567382736482736458") == (["utrn"], "73567382736482736458")
    assert parse_setting("bands:=[0, 1]") == (["bands"], [0, 1])
    assert parse_setting("a.b:=true") == (["a", "b"], True)


@pytest.mark.parametrize(
    ("setting", "problem"),
    [("utrn", "KEY=TEXT"), ("=1", "empty"), ("a..b=1", "empty"), ("n:=[1,", "JSON")],
)
def test_a_malformed_set_is_refused_saying_how_to_write_it(setting: str, problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        parse_setting(setting)


def test_values_come_from_a_file_and_must_be_a_json_object(tmp_path: Path) -> None:
    path = tmp_path / "values.json"
    path.write_text(json.dumps({"utrn": "73567382736482736458"}))
    assert request_values("2.2", "ESME", f"@{path}", [], None) == {"utrn": "73567382736482736458"}
    with pytest.raises(InvalidRequest, match="JSON object"):
        request_values("2.2", "ESME", "[1]", [], None)
    with pytest.raises(InvalidRequest, match="not JSON"):
        request_values("2.2", "ESME", "{", [], None)
    with pytest.raises(InvalidRequest, match="cannot read"):
        request_values("2.2", "ESME", f"@{tmp_path / 'missing.json'}", [], None)
    with pytest.raises(InvalidRequest, match="is not an object"):
        request_values("2.2", "ESME", None, ["utrn.x=1"], None)


def test_an_execution_time_is_written_in_utc_and_a_time_without_zone_is_utc() -> None:
    assert utc_text("2026-12-01T09:00:00+01:00") == "2026-12-01T08:00:00Z"
    assert utc_text("2026-12-01T09:00:00") == "2026-12-01T09:00:00Z"
    assert utc_text("2026-12-01T09:00:00.750Z") == "2026-12-01T09:00:00Z"
    values = request_values("4.1.1", "ESME", None, [], "2026-12-01T09:00:00Z")
    assert values == {"executionDateTime": "2026-12-01T09:00:00Z"}
    with pytest.raises(InvalidRequest, match="ISO 8601"):
        utc_text("tomorrow")


def test_an_srv_the_device_type_has_no_example_for_asks_for_the_device_type() -> None:
    with pytest.raises(InvalidRequest, match="--device-type"):
        request_values("6.6", "ESME", None, [], None)


def test_a_non_device_or_unknown_srv_is_not_sent_as_a_device_request() -> None:
    assert device_srv("7.2").critical
    with pytest.raises(InvalidRequest, match="duis send"):
        device_srv("8.2")
    with pytest.raises(InvalidRequest, match="not a DUIS service request variant"):
        device_srv("99.9")


# --- the pre-command is checked before it is signed --------------------------------------------


def _transform_answer(request_id: str, device: str, srv: str, values: dict[str, Any]) -> bytes:
    pre = precommand.encode(request_id, device, srv, values, AT.isoformat())
    root = smets1.plain_response(request_id, ResponseCode.SUCCESS, srv, AT)
    message = root.find(f"{{{DUIS_NAMESPACE}}}Body")
    assert message is not None
    message[0].append(precommand.pre_command_element(pre))
    return etree.tostring(root)


def test_the_pre_command_of_the_request_is_taken_and_what_the_service_added_is_shown() -> None:
    rid = f"{USER.value}:{DEVICE.value}:7"
    body = build_body("7.12", {"randomisationOffsetLimit": 900})
    shown: list[str] = []
    answer = _transform_answer(
        rid, DEVICE.value, "7.12", {"randomisationOffsetLimit": 900, "extra": 1}
    )
    pre = checked_pre_command(answer, rid, DEVICE, "7.12", body, shown.append)
    assert precommand.decode(pre)["requestId"] == rid
    assert shown == ['the service added to the pre-command: {"extra": 1}']


@pytest.mark.parametrize(
    ("request_id", "device", "srv", "values", "named"),
    [
        ("other:1", DEVICE.value, "7.12", {"randomisationOffsetLimit": 900}, "requestId"),
        (None, "00-0D-6F-01-00-00-00-0A", "7.12", {"randomisationOffsetLimit": 900}, "device"),
        (None, DEVICE.value, "7.1", {"randomisationOffsetLimit": 900}, "srv"),
        (None, DEVICE.value, "7.12", {"randomisationOffsetLimit": 1799}, "values."),
    ],
)
def test_a_pre_command_that_differs_from_the_request_is_not_signed(
    request_id: str | None, device: str, srv: str, values: dict[str, Any], named: str
) -> None:
    rid = f"{USER.value}:{DEVICE.value}:7"
    body = build_body("7.12", {"randomisationOffsetLimit": 900})
    answer = _transform_answer(request_id or rid, device, srv, values)
    with pytest.raises(InvalidRequest, match=f"differs from the request in {named}"):
        checked_pre_command(answer, rid, DEVICE, "7.12", body, print)


def test_a_transform_answer_without_a_pre_command_is_refused() -> None:
    rid = f"{USER.value}:{DEVICE.value}:7"
    answer = etree.tostring(smets1.plain_response(rid, ResponseCode.SUCCESS, "7.2", AT))
    with pytest.raises(InvalidRequest, match="no PreCommand"):
        checked_pre_command(answer, rid, DEVICE, "7.2", build_body("7.2", {}), print)


# --- the listener ------------------------------------------------------------------------------


@dataclass
class Signer:
    key: Any
    cert: Any

    def sign(self, root: etree._Element) -> bytes:
        return sign(root, self.key, issuer_name(self.cert), self.cert.serial_number)


@dataclass
class Service:
    """The DSP and S1SP keys, and responses signed with them."""

    dsp: Signer = field(default_factory=lambda: Signer(*new_signing_identity(DSP_EUI, "dsp", "89")))
    s1sp: Signer = field(
        default_factory=lambda: Signer(*new_signing_identity(DSP_EUI, "s1sp", "89"))
    )

    @property
    def factory(self) -> ResponseFactory:
        return ResponseFactory(self.s1sp, self.dsp, DSP_EUI)

    def read(self, counter: int = 7) -> bytes:
        header = smets1.Smets1Header(DEVICE, USER, counter, "4.1.1", AT)
        render = RenderContext("4.1.1", "ESME", {}, 4, "start", AT)
        tou = [9_012_345, 2_345_678, 1_000_000, 0]
        answer = {"time": "2026-11-29T09:30:00Z", "unit": "Wh", "total": sum(tou), "tou": tou}
        rid = f"{USER.value}:{DEVICE.value}:{counter}"
        return self.factory.answered(header, render, [{**answer, "demand": 1840}], rid)

    def refused(self) -> bytes:
        header = smets1.Smets1Header(DEVICE, USER, 8, "7.2", AT)
        render = RenderContext("7.2", "ESME", {}, 4, "start", AT)
        rid = f"{USER.value}:{DEVICE.value}:8"
        return self.factory.failed(header, render, 1, FailureCode.REJECTED, "armed", rid)

    def alert(self) -> bytes:
        return self.factory.device_alert(DEVICE, USER, 9, "Supply Disabled", AT, "8F36")

    def s1sp_alert(self) -> bytes:
        return self.factory.s1sp_alert(
            USER, 10, "HeadEndTimeout", AT, request_id=f"{USER.value}:{DEVICE.value}:1"
        )

    def inbox(self, out: Path | None = None, schemas: bool = True) -> Inbox:
        return Inbox(
            self.dsp.cert.public_key(),
            self.s1sp.cert.public_key(),
            OfficialSchemas(SCHEMAS) if schemas else None,
            out,
        )


@pytest.fixture(scope="module")
def service() -> Service:
    return Service()


def test_a_signed_valid_response_is_taken_kept_and_shown_in_one_line(
    service: Service, tmp_path: Path
) -> None:
    inbox = service.inbox(tmp_path / "in")
    document = service.read()
    taken = inbox.take(document, NOW)
    assert taken.accepted
    assert taken.checks == ("DSP signature verified", "S1SP signature verified", "schema valid")
    rid = f"{USER.value}:{DEVICE.value}:7"
    assert taken.path == tmp_path / "in" / f"1-{rid}.xml"
    assert taken.path.read_bytes() == document
    line = taken.line()
    assert line.startswith(f"2026-11-29T10:15:42Z #1 I0 {rid} 4.1.1 ")
    assert "ReadInstantaneousImportRegistersRsp MessageSuccess=true" in line
    assert "ActiveImportRegister=12358023 Wh" in line


def test_a_document_whose_signature_does_not_verify_is_refused_and_kept_apart(
    service: Service, tmp_path: Path
) -> None:
    inbox = service.inbox(tmp_path)
    changed = service.read().replace(b"<ra:Value>12358023<", b"<ra:Value>12358024<")
    taken = inbox.take(changed, NOW)
    assert taken.problem is not None
    assert taken.problem.startswith("the DSP signature does not verify")
    assert taken.path is not None
    assert taken.path.name.endswith(".refused.xml")
    assert "REFUSED: the DSP signature" in taken.line()
    other = Service()
    assert "S1SP signature does not verify" in (
        Inbox(service.dsp.cert.public_key(), other.s1sp.cert.public_key())
        .take(service.read(), NOW)
        .problem
        or ""
    )
    assert inbox.take(b"<a><!DOCTYPE x></a>", NOW).summary.carries == "not readable"
    assert (inbox.taken, inbox.refused) == (2, 2)


def test_a_document_the_official_schemas_refuse_is_refused(service: Service) -> None:
    root = etree.fromstring(service.read())
    for signature in root.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
        root.remove(signature)
    root.find(f"{{{DUIS_NAMESPACE}}}Header").append(  # type: ignore[union-attr]
        etree.Element(f"{{{DUIS_NAMESPACE}}}Unexpected")
    )
    taken = service.inbox().take(service.dsp.sign(root), NOW)
    assert (taken.problem or "").startswith("not valid against the official schemas")


def test_numbering_goes_on_after_the_documents_already_kept(
    service: Service, tmp_path: Path
) -> None:
    (tmp_path / "41-earlier.xml").write_bytes(b"")
    taken = service.inbox(tmp_path, schemas=False).take(service.alert(), NOW)
    assert taken.number == 42
    assert taken.path is not None
    assert taken.path.name == f"42-{DEVICE.value}:{USER.value}:9.xml"


def test_failures_and_alerts_say_what_they_carry(service: Service) -> None:
    refused = summarise(etree.fromstring(service.refused()))
    assert refused.srv == "7.2"
    assert refused.carries == "DisableSupplyRsp MessageSuccess=false device code 2: armed"
    alert = summarise(etree.fromstring(service.alert()))
    assert (alert.reference, alert.srv) == (f"{DEVICE.value}:{USER.value}:9", "-")
    assert alert.carries == "device alert 8F36: Supply Disabled"
    s1sp = summarise(etree.fromstring(service.s1sp_alert()))
    assert (
        s1sp.carries
        == f"DCC alert N999 S1SP alert HeadEndTimeout RequestID={USER.value}:{DEVICE.value}:1"
    )
    none = etree.fromstring(
        service.dsp.sign(smets1.plain_response("r:2", ResponseCode.NO_RESPONSE, "4.1.1", AT))
    )
    assert summarise(none).carries == "no device answer"
    assert service.inbox().take(service.s1sp_alert(), NOW).accepted


async def test_the_listener_answers_204_or_400_and_stops_after_its_count(
    service: Service, tmp_path: Path
) -> None:
    inbox = service.inbox(tmp_path, schemas=False)
    seen: list[Received] = []
    ready = asyncio.Event()
    address: list[str] = []

    def announce(text: str) -> None:
        address.append(text.removeprefix("listening on "))
        ready.set()

    running = asyncio.create_task(listen(inbox, "127.0.0.1", 0, 2, announce, seen.append))
    await asyncio.wait_for(ready.wait(), 10)
    xml = {"Content-Type": "application/xml"}
    async with aiohttp.ClientSession() as session:
        async with session.post(address[0] + "any/path", data=b"x", headers=xml) as first:
            assert first.status == 400
        async with session.post(address[0], data=b"{}", headers={"Content-Type": "a/json"}) as j:
            assert j.status == 415
        async with session.post(address[0], data=service.read(), headers=xml) as second:
            assert second.status == 204
        async with session.post(address[0], data=service.read(), headers=xml) as third:
            assert third.status == 503
    await asyncio.wait_for(running, 10)
    assert [r.accepted for r in seen] == [False, True]


# --- the outbox, with a fake store -------------------------------------------------------------


@dataclass
class FakeDevices:
    outbox: list[Delivery] = field(default_factory=list)
    commands: dict[str, list[tuple[int, str, str | None, str | None]]] = field(default_factory=dict)
    pre_commands: dict[str, PreCommandRecord] = field(default_factory=dict)
    fetched: list[int] = field(default_factory=list)

    def deliveries(
        self, recipient: Eui64 | None, status: str | None, limit: int, reference: str | None
    ) -> list[Delivery]:
        self.fetched.append(limit)
        found = [
            d
            for d in sorted(self.outbox, key=lambda d: -d.id)
            if (recipient is None or d.recipient == recipient)
            and (status is None or d.status == status)
            and (reference is None or d.reference == reference)
        ]
        return found[:limit]

    def redeliver(self, ids: list[int], at: datetime) -> int:
        count = 0
        for i, d in enumerate(self.outbox):
            if d.id in ids and d.status != "pending":
                self.outbox[i] = replace(d, status="pending")
                count += 1
        return count

    def commands_of(self, request_id: str) -> list[tuple[int, str, str | None, str | None]]:
        return self.commands.get(request_id, [])

    def pre_command(self, request_id: str) -> PreCommandRecord | None:
        return self.pre_commands.get(request_id)


@dataclass
class FakeUow:
    devices: FakeDevices
    commits: int = 0

    def __enter__(self) -> FakeUow:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def commit(self) -> None:
        self.commits += 1


def _delivery(number: int, status: str = "delivered", reference: str = "r:1") -> Delivery:
    return Delivery(number, USER, "response", reference, "I0", b"<d/>", status, 1, AT, AT, None, 1)


@pytest.fixture
def store() -> FakeUow:
    outbox = [_delivery(i, reference=f"r:{i}") for i in range(1, 8)]
    outbox[2] = replace(outbox[2], status="dead")
    return FakeUow(FakeDevices(outbox))


def test_the_outbox_is_listed_newest_first_by_status_and_reference(store: FakeUow) -> None:
    listed = list_deliveries(lambda: store, limit=3)  # type: ignore[arg-type, return-value]
    assert [d.id for d in listed] == [7, 6, 5]
    dead = list_deliveries(lambda: store, status="dead")  # type: ignore[arg-type, return-value]
    assert [d.id for d in dead] == [3]
    with pytest.raises(InvalidRequest, match="pending, delivered, dead"):
        list_deliveries(lambda: store, status="lost")  # type: ignore[arg-type, return-value]
    with pytest.raises(InvalidRequest, match="1 to 10000"):
        list_deliveries(lambda: store, limit=0)  # type: ignore[arg-type, return-value]


def test_a_document_is_found_by_its_id_looking_no_further_back_than_it_or_by_reference(
    store: FakeUow,
) -> None:
    found = find_delivery(lambda: store, "5")  # type: ignore[arg-type, return-value]
    assert found is not None
    assert found.id == 5
    assert store.devices.fetched == [1, 3]  # the newest, then the newest three
    by_reference = find_delivery(lambda: store, "r:2")  # type: ignore[arg-type, return-value]
    assert by_reference is not None
    assert by_reference.id == 2
    assert find_delivery(lambda: store, "8") is None  # type: ignore[arg-type, return-value]
    assert find_delivery(lambda: store, "0") is None  # type: ignore[arg-type, return-value]


def test_redelivering_puts_back_what_is_not_pending_and_commits(store: FakeUow) -> None:
    store.devices.outbox[0] = replace(store.devices.outbox[0], status="pending")
    count = redeliver(lambda: store, _Clock(), [1, 3, 3, 4])  # type: ignore[arg-type, return-value]
    assert count == 2
    assert store.commits == 1
    with pytest.raises(InvalidRequest, match="at least one"):
        redeliver(lambda: store, _Clock(), [])  # type: ignore[arg-type, return-value]


def test_the_commands_of_a_transform_request_are_those_of_the_cv5_that_used_its_pre_command(
    store: FakeUow,
) -> None:
    store.devices.commands["r:5"] = [(9, "done", "I0", "answered")]
    store.devices.pre_commands["r:4"] = PreCommandRecord(
        "r:4", USER, DEVICE, "7.2", {}, b"", AT, "r:5"
    )
    found = request_commands(lambda: store, "r:4")  # type: ignore[arg-type, return-value]
    assert (found.asked, found.request_id) == ("r:4", "r:5")
    assert [(c.id, c.status, c.response_code) for c in found.commands] == [(9, "done", "I0")]
    assert [d.id for d in found.deliveries] == [5]
    nothing = request_commands(lambda: store, "r:none")  # type: ignore[arg-type, return-value]
    assert nothing.commands == ()


class _Clock:
    def now(self) -> datetime:
        return NOW
