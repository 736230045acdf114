"""The one place that wires adapters into services."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from sqlalchemy import Engine

from s1adopt.adapters.db.engine import make_engine, upgrade_schema
from s1adopt.adapters.db.queries import SqlMigrationQueries
from s1adopt.adapters.db.uow import SqlUnitOfWork
from s1adopt.adapters.headend.directory import HeadEndDirectory
from s1adopt.adapters.headend.policy import RetryPolicy
from s1adopt.adapters.keys.vault import Keyring
from s1adopt.config import Settings
from s1adopt.domain.eligibility import EligibleProducts
from s1adopt.domain.errors import ConfigurationError
from s1adopt.formats.eligible_products import load_eligible_products
from s1adopt.services.pipeline import MigrationPipeline, PipelineSettings
from s1adopt.services.ports import HeadEndDirectory as HeadEndDirectoryPort
from s1adopt.services.ports import Partition, UnitOfWork
from s1adopt.services.queries import MigrationQueries


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

    @cached_property
    def clock(self) -> SystemClock:
        """The clock."""
        return SystemClock()

    @cached_property
    def queries(self) -> MigrationQueries:
        """Read-side queries."""
        return SqlMigrationQueries(self.engine)

    def headend_directory(self, control_url: str | None) -> HeadEndDirectory:
        """Head ends known at a control address (an async context manager)."""
        policy = RetryPolicy(self.settings.headend_retries, 0.05, self.settings.headend_timeout)
        return HeadEndDirectory(control_url, self.settings.concurrency, policy)

    def pipeline(
        self, headends: HeadEndDirectoryPort, partition: Partition | None = None
    ) -> MigrationPipeline:
        """The migration pipeline on these head ends (for one partition of the work)."""
        return MigrationPipeline(
            self.unit_of_work,
            headends,
            self.keyring.vault(),
            self.clock,
            PipelineSettings(self.settings.chunk_size, self.settings.chunks_in_flight, partition),
        )

    def pending_work(self, batch_ids: list[int]) -> int:
        """How many installations of the batches still wait for migration work."""
        with self.unit_of_work() as uow:
            return uow.migration.pending_count(batch_ids)
