"""Shared fixtures: databases (SQLite and PostgreSQL), keys, clocks."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

SHARED = Path(__file__).resolve().parents[2] / "shared"


class StepClock:
    """A clock that moves one second on each reading, so histories are ordered."""

    def __init__(self) -> None:
        self._now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


def service_url_or_fail(variable: str, name: str, script: str) -> str:
    """A test server's URL from ``variable``; in CI its absence is a failure, elsewhere a
    skip naming ``script``, which starts it."""
    url = os.environ.get(variable)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"{variable} is not set: CI must start {name}")
    pytest.skip(f"no {name} (set {variable} or run scripts/{script})")


def postgres_url_or_fail() -> str:
    """The test PostgreSQL's URL (see ``service_url_or_fail``)."""
    return service_url_or_fail("S1ADOPT_TEST_POSTGRES_URL", "PostgreSQL", "postgres-up.sh")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    base = postgres_url_or_fail()
    name = f"s1adopt_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        make_url(base).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            make_url(base)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        _drop(admin, name)
        admin.dispose()


def _drop(admin: Engine, name: str) -> None:
    """Drop the test database; an autovacuum worker on it (a superuser's process, which the
    test role may not end) makes the drop fail until it is done: try again for a while."""
    for attempt in range(40):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except DBAPIError:
            if attempt == 39:
                raise
            time.sleep(0.25)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage test runs on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))
