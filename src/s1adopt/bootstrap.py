"""The one place that wires adapters into services."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from s1adopt.adapters.db.engine import make_engine, upgrade_schema
from s1adopt.adapters.db.queries import SqlMigrationQueries
from s1adopt.adapters.db.uow import SqlUnitOfWork
from s1adopt.adapters.delivery.http import HttpEndpoint
from s1adopt.adapters.exchange.directory import DirectoryExchange
from s1adopt.adapters.headend.directory import HeadEndDirectory
from s1adopt.adapters.headend.policy import RetryPolicy
from s1adopt.adapters.keys.countersign import Countersigner
from s1adopt.adapters.keys.signing import SigningIdentity, identity_in, load_identity
from s1adopt.adapters.keys.vault import Keyring
from s1adopt.adapters.work.claims import WorkClaims, process_name
from s1adopt.adapters.work.inprocess import InProcessEngine
from s1adopt.adapters.work.locks import StoreLock
from s1adopt.adapters.work.processes import ProcessPoolEngine
from s1adopt.adapters.work.sessions import SessionLeaseStore, SharedSessions
from s1adopt.config import Settings
from s1adopt.domain.dco import DcoRules
from s1adopt.domain.eligibility import EligibleProducts
from s1adopt.domain.errors import ConfigurationError
from s1adopt.domain.identities import Eui64
from s1adopt.domain.retry import RetryRules
from s1adopt.formats.duis.schemas import OfficialSchemas, own_schema
from s1adopt.formats.eligible_products import load_eligible_products
from s1adopt.services.duis.alerts import AlertIntake
from s1adopt.services.duis.answers import ResponseFactory
from s1adopt.services.duis.dco import DualControl
from s1adopt.services.duis.delivery import Deliverer, DeliverySettings
from s1adopt.services.duis.device_ports import ResponseEndpoint
from s1adopt.services.duis.device_requests import DeviceRequests, DeviceRequestSettings
from s1adopt.services.duis.device_service import DeviceService, DeviceServiceSettings
from s1adopt.services.duis.gateway import Gateway, GatewaySettings
from s1adopt.services.duis.ports import RequestValidator
from s1adopt.services.duis.runtime import DeviceRuntime
from s1adopt.services.duis.schedules import Scheduler
from s1adopt.services.intake import IntakeResult, take_in_migration_file
from s1adopt.services.migrate import Migrator
from s1adopt.services.migration.steps import StepContext
from s1adopt.services.migration.worker import MigrationWorker
from s1adopt.services.ports import (
    ChunkHandler,
    Clock,
    Partition,
    Progress,
    UnitOfWork,
    WorkEngine,
)
from s1adopt.services.ports import HeadEndDirectory as HeadEndDirectoryPort
from s1adopt.services.programme.admin import InstallationAdmin
from s1adopt.services.programme.capacity import ProgrammeRules
from s1adopt.services.programme.exchange_intake import ExchangeIntake
from s1adopt.services.programme.registration import RegistrationLoad, load_registration
from s1adopt.services.programme.run import Programme, ProgrammeClock
from s1adopt.services.queries import MigrationQueries

if TYPE_CHECKING:  # Celery is imported only where a broker is used (it costs 0.2 s a start)
    from celery import Celery

    from s1adopt.adapters.work.celery_app import ChunkRunner


class SystemClock:
    """UTC wall clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(UTC)


@dataclass
class Application:
    """The wired service for one process."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        """The database engine, its schema brought up to date on first use."""
        engine = make_engine(self.settings.database_url)
        upgrade_schema(engine)
        return engine

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work on the store."""
        return SqlUnitOfWork(self.engine)

    @cached_property
    def keyring(self) -> Keyring:
        """The service's keys (created in the key directory on first use)."""
        vault_key = None
        if self.settings.vault_key:
            try:
                vault_key = base64.b64decode(self.settings.vault_key, validate=True)
            except binascii.Error as exc:
                raise ConfigurationError("S1ADOPT_VAULT_KEY is not base64") from exc
        return Keyring(self.settings.key_dir, vault_key)

    @cached_property
    def eligible_products(self) -> EligibleProducts:
        """The Eligible Product Combinations list in force."""
        return load_eligible_products(self.settings.eligible_products)

    clock_override: Clock | None = None

    @cached_property
    def clock(self) -> Clock:
        """The clock (the system's, unless the programme set its own)."""
        return self.clock_override or SystemClock()

    @cached_property
    def queries(self) -> MigrationQueries:
        """Read-side queries."""
        return SqlMigrationQueries(self.engine)

    def headend_directory(self, control_url: str | None) -> HeadEndDirectory:
        """Head ends known at a control address (an async context manager). With a broker
        (a cluster), each head end's session limit is shared by every process through the
        store; otherwise it holds in this process."""
        timeout = self.settings.headend_timeout
        policy = RetryPolicy(self.settings.headend_retries, 0.05, timeout)
        shared = None
        if self.settings.broker_url:
            store, holder = SessionLeaseStore(self.engine), process_name()

            def shared(name: str, limit: int) -> SharedSessions:
                return SharedSessions(store, name, limit, holder, guard=timeout + 1)

        return HeadEndDirectory(control_url, self.settings.concurrency, policy, shared)

    @cached_property
    def celery(self) -> Celery:
        """The Celery application on ``S1ADOPT_BROKER_URL``, with the chunk task."""
        if not self.settings.broker_url:
            raise ConfigurationError(
                "S1ADOPT_BROKER_URL is not set: set it to RabbitMQ's amqp:// URL (start one "
                "with scripts/rabbitmq-up.sh, which prints it)"
            )
        from s1adopt.adapters.work.celery_app import make_celery, register_chunk_task

        app = make_celery(self.settings.broker_url, self.settings.work_queue)
        register_chunk_task(app, lambda: self.chunk_runner)
        return app

    @cached_property
    def chunk_runner(self) -> ChunkRunner:
        """This worker process's runner of chunk tasks (made on its first task)."""
        from s1adopt.adapters.work.celery_app import ChunkRunner

        @asynccontextmanager
        async def open_handler(control_url: str) -> AsyncIterator[ChunkHandler]:
            async with self.headend_directory(control_url) as directory:
                yield self.migration_worker(directory)

        per_group = max(1, self.settings.worker_concurrency // 2)
        return ChunkRunner(self._claims(), open_handler, per_group)

    def singleton_lock(self, name: str) -> StoreLock:
        """A lock on the store that one process of the cluster holds at a time."""
        return StoreLock(self.engine, name, process_name(), self.settings.claim_ttl)

    def _claims(self) -> WorkClaims:
        return WorkClaims(self.engine, self.settings.claim_ttl)

    def run_worker(self, loglevel: str = "WARNING") -> None:
        """Run a Celery worker on this process until stopped (``s1adopt worker``)."""
        if self.settings.database_url.startswith("sqlite") and ":memory:" in (
            self.settings.database_url
        ):
            raise ConfigurationError("a worker needs a shared database, not SQLite in memory")
        self.engine  # noqa: B018 - the schema is brought up to date before work arrives
        self.celery.worker_main(
            [
                "worker",
                "--pool=threads",
                f"--concurrency={self.settings.worker_concurrency}",
                f"--loglevel={loglevel}",
                "--without-gossip",
                "--without-mingle",
                f"--queues={self.settings.work_queue}",
                f"--hostname=s1adopt-{os.getpid()}@%h",
            ]
        )

    def migration_worker(self, headends: HeadEndDirectoryPort) -> MigrationWorker:
        """The migration steps' handler on these head ends."""
        return MigrationWorker(
            StepContext(
                self.unit_of_work,
                headends,
                self.keyring.vault(),
                self.clock,
                self.programme_rules().retry,
            )
        )

    def work_engine(
        self, partition: Partition | None = None, headend_url: str | None = None
    ) -> WorkEngine:
        """The work engine: Celery workers when a broker is set; else in process, or a pool
        of processes when ``workers`` > 1."""
        if self.settings.broker_url and partition is None and headend_url is not None:
            from s1adopt.adapters.work.celery_engine import CeleryEngine

            return CeleryEngine(
                self.celery, self._claims(), headend_url, self.settings.task_chunk_size
            )
        local = InProcessEngine(
            self.unit_of_work, self.settings.chunk_size, self.settings.chunks_in_flight, partition
        )
        if self.settings.workers > 1 and partition is None and headend_url is not None:
            return ProcessPoolEngine(self.settings, self.settings.workers, headend_url, local)
        return local

    def intake(self, progress: Progress | None = None) -> Callable[..., IntakeResult]:
        """Migration-file intake with this service's keys and settings: ``take_in(path,
        sender=None)``."""
        keyring, settings = self.keyring, self.settings

        def take_in(path: Path, sender: Eui64 | None = None) -> IntakeResult:
            return take_in_migration_file(
                path,
                self.unit_of_work,
                self.eligible_products,
                keyring.unsealer(),
                keyring.vault(),
                self.clock,
                settings.max_migration_file_bytes,
                progress,
                sender,
            )

        return take_in

    def migrator(
        self,
        headends: HeadEndDirectoryPort,
        headend_url: str | None,
        progress: Progress | None = None,
    ) -> Migrator:
        """The ``migrate`` use case, wired."""
        return Migrator(
            self.unit_of_work,
            self.intake(progress),
            self.work_engine(headend_url=headend_url),
            self.migration_worker(headends),
            self.queries,
            self.clock,
            self.settings.report_dir,
        )

    def programme_rules(self) -> ProgrammeRules:
        """The programme's rules from the settings (``ConfigurationError`` if they clash)."""
        s = self.settings
        try:
            return ProgrammeRules(
                capacity=s.capacities(),
                dmin=s.dmin,
                lead_days=s.lead_days,
                notice_days=s.notice_days,
                cutoff_days=s.cutoff_days,
                retry=RetryRules(s.max_attempts, s.backoff_days()),
            )
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from exc

    def programme(self, exchange_dir: Path, headends: HeadEndDirectoryPort) -> Programme:
        """The migration programme on an exchange directory (the clock must be a
        ``ProgrammeClock``: see ``clock_override``)."""
        clock = self.clock
        if not isinstance(clock, ProgrammeClock):
            raise ConfigurationError("the programme runs on a ProgrammeClock")
        rules = self.programme_rules()
        exchange = DirectoryExchange(exchange_dir)
        intake = ExchangeIntake(
            self.unit_of_work,
            exchange,
            clock,
            self.intake(),
            rules,
            self.settings.max_exchange_file_bytes,
        )
        worker = MigrationWorker(
            StepContext(self.unit_of_work, headends, self.keyring.vault(), clock, rules.retry)
        )
        return Programme(
            self.unit_of_work,
            exchange,
            clock,
            intake,
            self.work_engine(),  # in this process: the programme's clock is this process's
            worker,
            rules,
            self.settings.report_dir,
        )

    def admin(self) -> InstallationAdmin:
        """Operator and supplier actions on installations."""
        return InstallationAdmin(self.unit_of_work, self.clock, self.settings.cutoff_days)

    def load_registration(self, path: Path, progress: Progress | None = None) -> RegistrationLoad:
        """Take in one registration data file."""
        return load_registration(
            path,
            self.unit_of_work,
            self.clock,
            self.settings.max_exchange_file_bytes,
            None,
            progress,
        )

    @cached_property
    def dsp(self) -> SigningIdentity:
        """The DSP's signing identity: configured, or made in the key directory."""
        s = self.settings
        return self._signing_identity("dsp", s.dsp_key, s.dsp_cert, s.dsp_eui)

    @cached_property
    def s1sp(self) -> SigningIdentity:
        """The S1SP's signing identity: configured, or made in the key directory."""
        s = self.settings
        return self._signing_identity("s1sp", s.s1sp_key, s.s1sp_cert, s.s1sp_eui)

    def _signing_identity(
        self, name: str, key: Path | None, cert: Path | None, eui: str
    ) -> SigningIdentity:
        """``S1ADOPT_<NAME>_KEY`` and ``_CERT`` when both are set; else the key directory's
        ``<name>.key`` and ``<name>.pem`` (made on first use for ``S1ADOPT_<NAME>_EUI``)."""
        prefix = f"S1ADOPT_{name.upper()}"
        if (key is None) != (cert is None):
            raise ConfigurationError(f"set both {prefix}_KEY and {prefix}_CERT, or neither")
        if key is not None and cert is not None:
            return load_identity(key, cert)
        return identity_in(self.settings.key_dir, name, _eui(eui, f"{prefix}_EUI"), "89")

    @cached_property
    def dco(self) -> DualControl:
        """The DCO with its own key (made in the key directory on first use)."""
        s = self.settings
        identity = identity_in(s.key_dir, "dco", _eui(s.dco_eui, "S1ADOPT_DCO_EUI"), "89")
        rules = DcoRules(interruptions_per_hour=s.dco_interruptions_per_hour)
        return DualControl(rules, Countersigner(identity), self.clock)

    def response_factory(self) -> ResponseFactory:
        """Signs the device service's documents as the S1SP and the DSP."""
        return ResponseFactory(self.s1sp, self.dsp, _eui(self.settings.dsp_eui, "S1ADOPT_DSP_EUI"))

    def device_service(self, headends: HeadEndDirectoryPort) -> DeviceService:
        """The S1SP's command execution on these head ends."""
        s = self.settings
        return DeviceService(
            self.unit_of_work,
            self.clock,
            headends,
            self.keyring.vault(),
            self.response_factory(),
            self.dco,
            DeviceServiceSettings(deadline=s.device_deadline, in_flight=s.device_in_flight),
        )

    def response_endpoint(self) -> HttpEndpoint:
        """Delivery by HTTP POST to users' endpoints (an async context manager)."""
        return HttpEndpoint()

    def deliverer(self, endpoint: ResponseEndpoint) -> Deliverer:
        """Delivery of the outbox to users' endpoints."""
        s = self.settings
        return Deliverer(
            self.unit_of_work,
            self.clock,
            endpoint,
            DeliverySettings(max_attempts=s.delivery_attempts, max_backoff=s.delivery_max_backoff),
        )

    def alert_intake(self) -> AlertIntake:
        """Head-end alerts into DUIS device alerts."""
        return AlertIntake(self.unit_of_work, self.clock, self.response_factory())

    def device_runtime(
        self, headends: HeadEndDirectory, endpoint: ResponseEndpoint, alert_url: str | None
    ) -> DeviceRuntime:
        """The device service's background work on open head ends and an open endpoint."""
        return DeviceRuntime(
            self.device_service(headends),
            self.deliverer(endpoint),
            Scheduler(self.unit_of_work, self.clock),
            headends.smsos,
            headends,
            alert_url,
        )

    def request_validators(self) -> list[RequestValidator]:
        """The project's schema, and the official DUIS schemas when configured."""
        validators: list[RequestValidator] = [own_schema()]
        if self.settings.duis_schema_dir is not None:
            validators.append(OfficialSchemas(self.settings.duis_schema_dir))
        return validators

    def gateway(self) -> Gateway:
        """The DUIS gateway, wired."""
        s = self.settings
        try:
            thresholds = s.thresholds()
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from exc
        return Gateway(
            self.unit_of_work,
            self.clock,
            self.dsp,
            self.request_validators(),
            GatewaySettings(
                s.max_request_bytes, timedelta(seconds=s.anomaly_window_seconds), thresholds
            ),
            DeviceRequests(self.dco, DeviceRequestSettings(s.future_days)),
        )

    def pending_work(self, queue: str) -> int:
        """How many subjects of a queue still wait for work."""
        with self.unit_of_work() as uow:
            return uow.work.count(queue)


def _eui(text: str, setting: str) -> Eui64:
    try:
        return Eui64.parse(text)
    except ValueError as exc:
        raise ConfigurationError(f"{setting}: {exc}") from exc
