"""Engines for SQLite (embedded default) and PostgreSQL, and schema upgrades with Alembic.

Engines are made with ``hide_parameters=True``: a database error never carries the statement's
parameters (which include sealed credentials) into messages or logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from s1adopt.domain.errors import ConfigurationError

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys and a busy timeout."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
            event.listen(engine, "connect", _sqlite_pragmas)
        elif url.startswith(("postgresql", "postgres")):
            if url.startswith("postgres://") or url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            engine = create_engine(url, pool_pre_ping=True, hide_parameters=True)
        else:
            raise ConfigurationError(
                f"unsupported database URL {url.split(':', 1)[0]}:...; use sqlite:///FILE or "
                "postgresql://USER@HOST/DB"
            )
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise ConfigurationError(f"database URL cannot be used: {exc}") from exc
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_SCHEMA_LOCK = 0x51AD0B7  # the advisory lock that serialises schema upgrades


def upgrade_schema(engine: Engine) -> None:
    """Bring the database schema to the latest Alembic revision."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":  # processes starting at once: in turn
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK}
                )
            elif connection.dialect.name == "sqlite":
                # pysqlite runs DDL outside a transaction unless one is open: open it, so a
                # kill during the first upgrade leaves no tables without their revision (and
                # processes starting at once wait for each other)
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise ConfigurationError(
            f"database cannot be prepared: {exc.__class__.__name__}: {exc}"
        ) from exc
