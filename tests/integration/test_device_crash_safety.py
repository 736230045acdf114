"""Crash safety of the device service: the process dies at every commit boundary in turn
(just before and just after the commit), and several times in a row; a new process recovers
and finishes. Nothing accepted is lost (every request gets exactly one response in the
outbox), nothing that must not be repeated is repeated (a top-up reaches the device at most
once), and no device is left with a credential the vault cannot open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from lxml import etree

from s1adopt.adapters.db.uow import SqlUnitOfWork
from s1adopt.domain.devices import DeviceType
from s1adopt.services.duis.device_service import DeviceService, DeviceServiceSettings
from tests.integration.device_world import (
    NS,
    SUPPLIER,
    DeviceWorld,
    Meter,
    device_world,
    request_id_of,
    response_code,
)


class Dead(BaseException):
    """Stands for the process being killed at a commit boundary."""


@dataclass
class Plan:
    """Die at the ``at``-th commit (from 1), just before it or just after it."""

    at: int | None
    after: bool = False
    commits: int = 0
    dead: bool = False


class CrashingUnitOfWork:
    """A real unit of work that dies where its plan says; a dead process commits nothing."""

    def __init__(self, inner: SqlUnitOfWork, plan: Plan) -> None:
        self._inner, self._plan = inner, plan

    def __enter__(self) -> CrashingUnitOfWork:
        if self._plan.dead:
            raise Dead
        self._inner.__enter__()
        for name in ("migration", "programme", "work", "duis", "devices"):
            setattr(self, name, getattr(self._inner, name))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        plan = self._plan
        if plan.dead:
            raise Dead
        plan.commits += 1
        if plan.at == plan.commits and not plan.after:
            plan.dead = True
            raise Dead
        self._inner.commit()
        if plan.at == plan.commits and plan.after:
            plan.dead = True
            raise Dead


@pytest.fixture
async def world(tmp_path: Path, database_url: str) -> AsyncIterator[DeviceWorld]:
    async with device_world(tmp_path, installations=12, database_url=database_url) as running:
        yield running


def service(world: DeviceWorld, headends: Any, plan: Plan | None) -> DeviceService:
    factory: Any = world.app.unit_of_work
    if plan is not None:

        def factory() -> CrashingUnitOfWork:
            return CrashingUnitOfWork(SqlUnitOfWork(world.app.engine), plan)

    return DeviceService(
        factory,
        world.app.clock,
        headends,
        world.app.keyring.vault(),
        world.app.response_factory(),
        world.app.dco,
        DeviceServiceSettings(deadline=20.0),
    )


async def run(world: DeviceWorld, plans: list[Plan | None]) -> bool:
    """Run the service once per plan (recovering first, as a started process does); whether
    any of them died."""
    died = False
    async with world.app.headend_directory(world.emulator.control_url) as headends:
        for plan in plans:
            try:
                worker = service(world, headends, plan)
                await worker.recover()
                await worker.drain(headends.smsos)
            except Dead:
                died = True
    return died


async def batch(world: DeviceWorld, meter: Meter, n: int) -> dict[str, str]:
    """A read, a top-up (must not repeat), a credential replacement and a message:
    RequestID -> SRV."""
    sent: dict[str, str] = {}
    for srv, values in (
        ("4.1.1", None),
        ("2.2", {"utrn": f"{n:015d}00500"}),
        ("3.1", {"text": f"crash test {n}"}),
    ):
        rid, signed = world.request(srv, meter.device, values)
        answer = await world.send("serviceS", signed)
        assert answer.code == "I99", answer.message
        sent[rid] = srv
    first, answer = await world.critical("6.15.1", meter.device, {"role": "Supplier"})
    assert first.code == "I0", first.message
    assert answer.code == "I99", answer.message
    rid = etree.fromstring(answer.body).findtext("sr:Header/sr:RequestID", namespaces=NS)
    assert rid is not None
    sent[rid] = "6.15.1"
    return sent


def responses_of(world: DeviceWorld, request_ids: set[str]) -> dict[str, list[bytes]]:
    found: dict[str, list[bytes]] = {rid: [] for rid in request_ids}
    with world.app.unit_of_work() as uow:
        for delivery in uow.devices.deliveries(SUPPLIER, None, 10_000, None):
            if delivery.kind == "response" and delivery.reference in found:
                found[delivery.reference].append(delivery.document)
    return found


def debug(document: bytes) -> str:
    root = etree.fromstring(document)
    info = root.find(".//ra:DebugInfo", NS)
    return "" if info is None else etree.tostring(info).decode()


async def test_a_crash_at_every_commit_boundary_loses_and_repeats_nothing(
    world: DeviceWorld,
) -> None:
    meter = next(m for m in world.meters if m.device_type is DeviceType.ESME)
    _, first = await world.critical("1.6", meter.device, {"paymentMode": "prepayment"})
    assert first.code == "I99"
    await run(world, [None])
    crashes = 0
    for number, (at, after) in enumerate(
        [(k, after) for k in range(1, 9) for after in (False, True)], start=1
    ):
        sent = await batch(world, meter, number)
        died = await run(world, [Plan(at, after), None])
        crashes += died
        found = responses_of(world, set(sent))
        for rid, srv in sent.items():
            assert len(found[rid]) == 1, (at, after, srv, len(found[rid]))
            document = found[rid][0]
            code = response_code(document)
            if srv == "2.2":  # carried out once, or (sent when it died) reported unknown
                assert code in ("I0", "E20"), (at, after, code)
                assert "UTRN" not in debug(document), debug(document)  # never a repeat
            else:
                assert code == "I0", (at, after, srv, code, debug(document))
    assert crashes >= 8
    # the device still takes the credential the vault holds, after every replacement
    rid, read = world.request("4.1.1", meter.device)
    assert (await world.send("serviceS", read)).code == "I99"
    await run(world, [None])
    document = responses_of(world, {rid})[rid][0]
    rsp = etree.fromstring(document).find(".//ra:SMETSData", NS)
    assert rsp is not None
    assert rsp[0].get("MessageSuccess") == "true", debug(document)


async def test_several_crashes_in_a_row_during_recovery_lose_and_repeat_nothing(
    world: DeviceWorld,
) -> None:
    meter = next(m for m in world.meters if m.device_type is DeviceType.GSME)
    _, first = await world.critical(
        "1.6", meter.device, {"paymentMode": "prepayment"}, device_type=DeviceType.GSME
    )
    assert first.code == "I99"
    await run(world, [None])
    for number in range(3):
        sent = {}
        for srv, values in (("4.1.1", None), ("2.2", {"utrn": f"{number:015d}00700"})):
            rid, signed = world.request(srv, meter.device, values, device_type=DeviceType.GSME)
            assert (await world.send("serviceS", signed)).code == "I99"
            sent[rid] = srv
        died = await run(world, [Plan(1, True), Plan(1), Plan(2, True), Plan(1), None])
        assert died
        found = responses_of(world, set(sent))
        assert all(len(v) == 1 for v in found.values()), {k: len(v) for k, v in found.items()}
        for rid, srv in sent.items():
            assert request_id_of(found[rid][0]) == rid
            if srv == "4.1.1":
                assert response_code(found[rid][0]) == "I0"
