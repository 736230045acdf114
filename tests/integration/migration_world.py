"""A migration test world: a store, keys, a fake head end holding a fleet, files, the
``migrate`` use case wired on them (no mocks of our own code)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from s1adopt.adapters.db.engine import make_engine, upgrade_schema
from s1adopt.adapters.db.queries import SqlMigrationQueries
from s1adopt.adapters.db.uow import SqlUnitOfWork
from s1adopt.adapters.keys.vault import Keyring
from s1adopt.adapters.work.inprocess import InProcessEngine
from s1adopt.domain.devices import ReportedDevice
from s1adopt.domain.identities import Eui64
from s1adopt.domain.installation import OPERATOR
from s1adopt.domain.records import InstallationRecord
from s1adopt.formats.credentials import CredentialSealer
from s1adopt.formats.eligible_products import load_eligible_products
from s1adopt.services.intake import IntakeResult, take_in_migration_file
from s1adopt.services.migrate import Migrator
from s1adopt.services.migration.release import release_ready
from s1adopt.services.migration.steps import QUEUE, StepContext
from s1adopt.services.migration.worker import MigrationWorker
from s1adopt.services.ports import UnitOfWork
from tests.builders import SMSO, FleetBuilder, write_file
from tests.conftest import StepClock
from tests.fakes import FakeDevice, FakeDirectory, FakeHeadEnd


class World:
    """A store, keys, a fake head end holding the fleet's devices, and migration files."""

    def __init__(self, url: str, tmp: Path, clock: StepClock) -> None:
        self.engine = make_engine(url)
        upgrade_schema(self.engine)
        self.keyring = Keyring(tmp / "keys")
        self.clock = clock
        self.tmp = tmp
        self.headend = FakeHeadEnd()
        self.sealer = CredentialSealer(self.keyring.transport_public_key, "F1")
        self.fleet = FleetBuilder(self.sealer)
        self.uow_factory: Callable[[], UnitOfWork] = self.uow

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def install_devices(self, record: InstallationRecord) -> None:
        for dev in record.devices:
            eui = Eui64.parse(dev.device_id)
            if eui in self.fleet.credentials:
                self.headend.devices[eui] = FakeDevice(
                    self.fleet.credentials[eui],
                    ReportedDevice(
                        dev.device_type, dev.manufacturer, dev.model, dev.firmware_version
                    ),
                )

    def write(
        self, records: list[InstallationRecord], name: str = "m.xml", declared: int | None = None
    ) -> Path:
        return write_file(self.tmp / name, "F1", self.sealer, records, declared)

    def take_in(
        self, records: list[InstallationRecord], name: str = "m.xml", declared: int | None = None
    ) -> IntakeResult:
        return self.take_in_path(self.write(records, name, declared))

    def take_in_path(self, path: Path, sender: Eui64 | None = None) -> IntakeResult:
        return take_in_migration_file(
            path,
            self.uow_factory,
            load_eligible_products(),
            self.keyring.unsealer(),
            self.keyring.vault(),
            self.clock,
            1 << 30,
            None,
            sender,
        )

    def worker(self) -> MigrationWorker:
        return MigrationWorker(
            StepContext(
                self.uow_factory,
                FakeDirectory({Eui64.parse(SMSO): self.headend}),
                self.keyring.vault(),
                self.clock,
            )
        )

    def migrator(self, chunk: int = 4) -> Migrator:
        return Migrator(
            self.uow_factory,
            self.take_in_path,
            InProcessEngine(self.uow_factory, chunk, 2),
            self.worker(),
            SqlMigrationQueries(self.engine),
            self.clock,
            self.tmp / "reports",
        )

    async def migrate_batches(self, batch_ids: list[int], chunk: int = 4) -> None:
        """What ``migrate`` does after intake: authorise, release, work until done."""
        with self.uow_factory() as uow:
            uow.migration.authorise_batches(batch_ids, OPERATOR, self.clock.now().date())
            uow.commit()
        release_ready(self.uow_factory, self.clock, batch_ids=batch_ids)
        await InProcessEngine(self.uow_factory, chunk, 2).drain(QUEUE, self.worker())

    def outcomes(self, batch_id: int) -> dict[str, str]:
        return {
            o.reference: o.outcome
            for o in SqlMigrationQueries(self.engine).installation_outcomes(batch_id)
        }
