"""A DUIS test world: the gateway on a real store with the public test PKI's users, the public
test DSP key as the service's signer, the official schemas configured, and (where a test
wants it) a migrated fleet with its registration data."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

from lxml import etree

from s1adopt.adapters.keys.signing import load_identity
from s1adopt.domain.duis import DSIG_NAMESPACE, DUIS_NAMESPACE
from s1adopt.domain.identities import Eui64
from s1adopt.domain.meter_points import MeterPointKind
from s1adopt.domain.parties import Party, Role
from s1adopt.domain.records import InstallationRecord
from s1adopt.domain.registration import RegistrationRecord
from s1adopt.formats.duis.certificates import issuer_name, load_certificate, load_private_key
from s1adopt.formats.duis.schemas import OfficialSchemas, own_schema
from s1adopt.formats.duis.xmldsig import sign
from s1adopt.services.duis.gateway import Answer, Gateway, GatewaySettings
from s1adopt.services.duis.users import add_user
from tests.conftest import SHARED, StepClock
from tests.integration.migration_world import World

DUIS = SHARED / "duis"
KEYS = DUIS / "keys"
SUPPLIER = Eui64.parse("90-B3-D5-1F-30-01-00-00")
NETWORK = Eui64.parse("90-B3-D5-1F-30-02-00-00")
OTHER = Eui64.parse("00-DB-12-34-56-78-00-04")
DSP = Eui64.parse("90-B3-D5-1F-30-00-00-02")
USERS: dict[Eui64, frozenset[Role]] = {
    SUPPLIER: frozenset({Role.IMPORT_SUPPLIER, Role.GAS_SUPPLIER}),
    NETWORK: frozenset({Role.ELECTRICITY_DISTRIBUTOR, Role.GAS_TRANSPORTER}),
    OTHER: frozenset({Role.OTHER_USER}),
}
NS = {"sr": DUIS_NAMESPACE, "ds": DSIG_NAMESPACE}


def key_file(eui: Eui64, suffix: str) -> Path:
    """The public test PKI's key (``.key``) or certificate (``.pem``) of a user."""
    return KEYS / f"xml-sign-{eui.value.replace('-', '')}-ds{suffix}"


def dsp_files() -> tuple[Path, Path]:
    """The public test DSP's key and certificate."""
    stem = KEYS / "dsp-xml-sign-90B3D51F30000002-ds"
    return stem.with_suffix(".key"), stem.with_suffix(".pem")


class DuisWorld(World):
    """The migration world plus the gateway."""

    def __init__(
        self,
        url: str,
        tmp: Path,
        clock: StepClock,
        settings: GatewaySettings | None = None,
        official: bool = True,
    ) -> None:
        super().__init__(url, tmp, clock)
        key, cert = dsp_files()
        self.dsp = load_identity(key, cert)
        self.validators = [own_schema()] + ([OfficialSchemas(DUIS / "schema")] if official else [])
        self.settings = settings or GatewaySettings()
        self.gateway = self.new_gateway()
        self.counters: dict[Eui64, int] = {}

    def new_gateway(self) -> Gateway:
        """A gateway process on this store (a restart makes a new one)."""
        return Gateway(self.uow, self.clock, self.dsp, self.validators, self.settings)

    def add_users(self) -> None:
        """The public test PKI's users, with their roles."""
        for eui, roles in USERS.items():
            add_user(self.uow, self.clock, eui, roles, key_file(eui, ".pem").read_bytes())

    def register(self, records: list[InstallationRecord], supplier: Eui64 = SUPPLIER) -> None:
        """Registration data naming ``supplier`` and the test network operator."""
        rows = []
        for record in records:
            if record.mpan:
                rows.append(
                    RegistrationRecord(
                        record.mpan, MeterPointKind.MPAN, supplier, NETWORK, date(2020, 1, 1)
                    )
                )
            if record.mprn:
                rows.append(
                    RegistrationRecord(
                        record.mprn, MeterPointKind.MPRN, supplier, NETWORK, date(2020, 1, 1)
                    )
                )
        with self.uow() as uow:
            uow.programme.upsert_parties(
                [Party(supplier, "SUP" + supplier.value[-2:], "Supplier", USERS[SUPPLIER])],
                datetime(2026, 1, 1, tzinfo=UTC),
            )
            uow.programme.add_registrations(rows, 1)
            uow.commit()

    def next_counter(self, originator: Eui64) -> int:
        """A counter above the last one this test used for ``originator``."""
        self.counters[originator] = self.counters.get(originator, 1000) + 1
        return self.counters[originator]

    def signed(
        self, template: str | bytes, originator: Eui64 | None = None, **header: str
    ) -> bytes:
        """A request (template text or file name) with its placeholder signature removed,
        header fields replaced, a fresh counter, signed with the originator's test key."""
        text = template if isinstance(template, bytes) else _template(template)
        root = etree.fromstring(text, etree.XMLParser(remove_blank_text=True))
        for old in root.findall("ds:Signature", NS):
            root.remove(old)
        request_id = root.find("sr:Header/sr:RequestID", NS)
        assert request_id is not None
        origin, target, _ = (request_id.text or "").split(":")
        eui = originator or Eui64.parse(origin)
        target = header.pop("target", target)
        request_id.text = f"{eui.value}:{target}:{header.pop('counter', self.next_counter(eui))}"
        for name, value in header.items():
            element = root.find(f"sr:Header/sr:{name}", NS)
            assert element is not None, name
            element.text = value
        key = load_private_key(key_file(eui, ".key").read_bytes())
        cert = load_certificate(key_file(eui, ".pem").read_bytes())
        return sign(root, key, issuer_name(cert), cert.serial_number)

    def send(self, endpoint: str, body: bytes, content_type: str = "application/xml") -> Answer:
        """The gateway's answer to ``body`` at ``endpoint``."""
        return self.gateway.handle(endpoint, content_type, body)


def _template(name: str) -> bytes:
    return (DUIS / "templates" / name).read_bytes()


def code_of(answer: Answer) -> str:
    """The response code an answer carries (from its XML)."""
    match = re.search(rb"<sr:ResponseCode>([^<]+)</sr:ResponseCode>", answer.body)
    return match.group(1).decode() if match else answer.code


def endpoint_for(template: bytes) -> str:
    """serviceD for command variant 8, serviceT for 4, serviceS otherwise."""
    variant = re.search(rb"<sr:CommandVariant>(\d)</sr:CommandVariant>", template)
    assert variant is not None
    return {b"8": "serviceD", b"4": "serviceT"}.get(variant.group(1), "serviceS")
