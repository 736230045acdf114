"""The unit of work on SQLAlchemy: one connection, one transaction."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from s1adopt.adapters.db.device_service import SqlDeviceServiceRepository
from s1adopt.adapters.db.duis import SqlDuisRepository
from s1adopt.adapters.db.programme import SqlProgrammeRepository
from s1adopt.adapters.db.repository import SqlMigrationRepository
from s1adopt.adapters.work.store_queue import StoreWorkQueue
from s1adopt.domain.errors import ConfigurationError
from s1adopt.services.duis.device_ports import DeviceServiceRepository
from s1adopt.services.duis.ports import DuisRepository
from s1adopt.services.ports import MigrationRepository, ProgrammeRepository, WorkQueue


class SqlUnitOfWork:
    """``services.ports.UnitOfWork``: leaving without ``commit()`` rolls back."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __enter__(self) -> SqlUnitOfWork:
        try:
            self._connection: Connection = self._engine.connect()
        except OperationalError as exc:
            raise ConfigurationError(f"database unreachable: {exc.orig}") from exc
        self._transaction = self._connection.begin()
        self.migration: MigrationRepository = SqlMigrationRepository(self._connection)
        self.programme: ProgrammeRepository = SqlProgrammeRepository(self._connection)
        self.work: WorkQueue = StoreWorkQueue(self._connection)
        self.duis: DuisRepository = SqlDuisRepository(self._connection)
        self.devices: DeviceServiceRepository = SqlDeviceServiceRepository(self._connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self._connection.close()

    def commit(self) -> None:
        """Make the transaction's work durable."""
        self._transaction.commit()
