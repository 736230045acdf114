"""Locks for singleton processes (the scheduler), held on the store with a lease.

Rules: one holder at a time per name; a hold lasts ``ttl`` seconds and its holder renews it
every third of that; a holder that dies lets go when its lease runs out, and a standby takes
over then. A holder that cannot renew must stop its work before its lease runs out
(``renew`` says whether it still holds the lock). Time is each process's UTC clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, or_, update
from sqlalchemy.exc import IntegrityError

from s1adopt.adapters.db import tables as t


class StoreLock:
    """A named lock on the store for ``holder``."""

    def __init__(self, engine: Engine, name: str, holder: str, ttl: float) -> None:
        if ttl < 3:
            raise ValueError(f"a lock lease of {ttl}s is too short (at least 3 s)")
        self._engine, self.name, self.holder, self.ttl = engine, name, holder, ttl

    def acquire(self) -> bool:
        """Take the lock if it is free, run out or already ours; whether we hold it."""
        now = datetime.now(UTC)
        until = now + timedelta(seconds=self.ttl)
        lock = t.service_lock
        with self._engine.begin() as c:
            taken = c.execute(
                update(lock)
                .where(
                    lock.c.name == self.name,
                    or_(
                        lock.c.holder.is_(None),
                        lock.c.holder == self.holder,
                        lock.c.expires_at < now,
                    ),
                )
                .values(holder=self.holder, expires_at=until)
            ).rowcount
            if taken:
                return True
        try:
            with self._engine.begin() as c:
                c.execute(insert(lock).values(name=self.name, holder=self.holder, expires_at=until))
            return True
        except IntegrityError:
            return False  # someone holds it

    def renew(self) -> bool:
        """Extend our hold; False when we no longer hold the lock."""
        until = datetime.now(UTC) + timedelta(seconds=self.ttl)
        lock = t.service_lock
        with self._engine.begin() as c:
            return bool(
                c.execute(
                    update(lock)
                    .where(lock.c.name == self.name, lock.c.holder == self.holder)
                    .values(expires_at=until)
                ).rowcount
            )

    def release(self) -> None:
        """Let go, if we hold it."""
        lock = t.service_lock
        with self._engine.begin() as c:
            c.execute(
                update(lock)
                .where(lock.c.name == self.name, lock.c.holder == self.holder)
                .values(holder=None, expires_at=None)
            )
