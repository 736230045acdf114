"""Head-end sessions shared by every process of a cluster, leased from the store.

Rules:
- a head end with limit L has L session slots (``session_lease`` rows); a slot is held by one
  process at a time until its lease runs out, and a process uses a slot for a session only
  while its lease has more than ``guard`` seconds left (longer than one attempt can last),
  so the head end never carries more than L sessions from all processes together;
- a process that wants sessions says so with a heartbeat (``session_claimant``); the live
  claimants share the limit equally (the first ``L mod n`` of them, by name, one more), each
  sheds unused slots above its share and claims free or run-out slots up to it;
- leases are renewed every ``renew_every`` seconds and last ``ttl`` seconds: a process that
  dies gives its slots back when their leases run out; one that stops wanting sessions gives
  them back at its next renewal;
- time is each process's UTC clock: the processes of one cluster must keep their clocks in
  step (NTP), within a small fraction of ``ttl - guard``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from s1adopt.adapters.db import tables as t

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Tenure:
    """What one renewal left a process with: its slots, until when, and its fair share."""

    slots: frozenset[int]
    until: datetime
    share: int


class SessionLeaseStore:
    """The slots and claimants of every head end, on the store (sync; one call a renewal)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._slots_made: set[tuple[str, int]] = set()  # (head end, limit) known to exist

    def renew(
        self,
        headend: str,
        holder: str,
        limit: int,
        wanted: bool,
        in_use: frozenset[int],
        ttl: float,
    ) -> Tenure:
        """Heartbeat, renew ``holder``'s slots, shed those above its share (never one in
        use), claim free ones up to it; the slots it holds afterwards."""
        self._ensure_slots(headend, limit)
        now = datetime.now(UTC)
        until = now + timedelta(seconds=ttl)
        with self._engine.begin() as c:
            share = self._heartbeat(c, headend, holder, limit, wanted, now, until)
            lease = t.session_lease
            mine = lease.c.headend == headend, lease.c.holder == holder
            c.execute(update(lease).where(*mine).values(expires_at=until))
            held = set(c.execute(select(lease.c.slot).where(*mine)).scalars())
            in_range = sorted(s for s in held if s < limit)
            surplus = [s for s in held if s >= limit and s not in in_use]
            surplus += [s for s in in_range if s not in in_use][: max(0, len(in_range) - share)]
            if surplus:
                c.execute(
                    update(lease)
                    .where(*mine, lease.c.slot.in_(surplus))
                    .values(holder=None, expires_at=None)
                )
                held.difference_update(surplus)
            if len(held) < share:
                held.update(self._claim(c, headend, holder, limit, share - len(held), now, until))
        return Tenure(frozenset(held), until, share)

    def give_back(self, headend: str, holder: str) -> None:
        """Drop ``holder``'s claim and slots (a process closing down)."""
        with self._engine.begin() as c:
            lease, claimant = t.session_lease, t.session_claimant
            c.execute(
                update(lease)
                .where(lease.c.headend == headend, lease.c.holder == holder)
                .values(holder=None, expires_at=None)
            )
            c.execute(
                delete(claimant).where(claimant.c.headend == headend, claimant.c.holder == holder)
            )

    def _ensure_slots(self, headend: str, limit: int) -> None:
        """Make the head end's slot rows once per store (not at every renewal)."""
        if (headend, limit) in self._slots_made:
            return
        self._make_slots(headend, limit)
        self._slots_made.add((headend, limit))

    def _make_slots(self, headend: str, limit: int) -> None:
        lease = t.session_lease
        with self._engine.begin() as c:
            present = c.execute(
                select(func.count()).select_from(lease).where(lease.c.headend == headend)
            ).scalar_one()
        if present >= limit:
            return
        try:
            with self._engine.begin() as c:
                have = set(
                    c.execute(select(lease.c.slot).where(lease.c.headend == headend)).scalars()
                )
                rows = [{"headend": headend, "slot": s} for s in range(limit) if s not in have]
                if rows:
                    c.execute(insert(lease), rows)
        except IntegrityError:
            pass  # another process added them at the same moment

    @staticmethod
    def _heartbeat(
        c: Connection,
        headend: str,
        holder: str,
        limit: int,
        wanted: bool,
        now: datetime,
        until: datetime,
    ) -> int:
        """Record (or drop) ``holder``'s claim; its share of ``limit`` among live claimants."""
        claimant = t.session_claimant
        me = claimant.c.headend == headend, claimant.c.holder == holder
        if not wanted:
            c.execute(delete(claimant).where(*me))
            return 0
        if c.execute(update(claimant).where(*me).values(expires_at=until)).rowcount == 0:
            c.execute(insert(claimant).values(headend=headend, holder=holder, expires_at=until))
        live = list(
            c.execute(
                select(claimant.c.holder)
                .where(claimant.c.headend == headend, claimant.c.expires_at > now)
                .order_by(claimant.c.holder)
            ).scalars()
        )
        rank = live.index(holder) if holder in live else len(live)
        count = max(len(live), rank + 1)
        return limit // count + (1 if rank < limit % count else 0)

    @staticmethod
    def _claim(
        c: Connection,
        headend: str,
        holder: str,
        limit: int,
        wanted: int,
        now: datetime,
        until: datetime,
    ) -> set[int]:
        lease = t.session_lease
        free = or_(lease.c.holder.is_(None), lease.c.expires_at < now)
        candidates = list(
            c.execute(
                select(lease.c.slot)
                .where(lease.c.headend == headend, lease.c.slot < limit, free)
                .order_by(lease.c.slot)
                .limit(wanted)
            ).scalars()
        )
        won: set[int] = set()
        for slot in candidates:  # each claim re-checks the slot: a rival may have won it
            result = c.execute(
                update(lease)
                .where(lease.c.headend == headend, lease.c.slot == slot, free)
                .values(holder=holder, expires_at=until)
            )
            if result.rowcount == 1:
                won.add(slot)
        return won


class SharedSessions:
    """``adapters.headend.base.SessionLimiter`` over leased slots (see the module rules)."""

    def __init__(
        self,
        store: SessionLeaseStore,
        headend: str,
        limit: int,
        holder: str,
        guard: float,
        ttl: float | None = None,
        renew_every: float | None = None,
    ) -> None:
        self._store, self._headend, self._limit, self._holder = store, headend, limit, holder
        self._guard = guard
        self._ttl = ttl if ttl is not None else max(6.0, 3 * guard)
        if self._ttl <= guard + 1:
            raise ValueError(f"session lease ttl {self._ttl}s must exceed the guard {guard}s + 1")
        self._renew_every = renew_every if renew_every is not None else (self._ttl - guard) / 3
        self._held: frozenset[int] = frozenset()
        self._until = datetime.min.replace(tzinfo=UTC)
        self._share = 0
        self._free: list[int] = []
        self._in_use: set[int] = set()
        self._waiters: deque[asyncio.Future[int]] = deque()
        self._last_used = datetime.min.replace(tzinfo=UTC)
        self._nudge: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None

    def session(self) -> AbstractAsyncContextManager[object]:
        """One slot, held for one attempt."""
        return self._one_session()

    @asynccontextmanager
    async def _one_session(self) -> AsyncIterator[object]:
        slot = await self._acquire()
        try:
            yield slot
        finally:
            self._release(slot)

    async def _acquire(self) -> int:
        nudge = self._start()
        slot = self._usable_slot()
        if slot is None:
            waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            if len(self._held) < max(1, self._share) or self._expiring():
                nudge.set()  # a renewal may win more slots; else a release hands one over
            try:
                slot = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._release(waiter.result())  # handed over as the waiter gave up
                elif waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise
        self._in_use.add(slot)
        return slot

    def _expiring(self) -> bool:
        """Whether the leases are too close to running out to start a session on them."""
        return (self._until - datetime.now(UTC)).total_seconds() <= self._guard

    def _usable_slot(self) -> int | None:
        if self._expiring():
            return None
        while self._free:
            slot = self._free.pop()
            if slot in self._held:
                return slot
        return None

    def _release(self, slot: int) -> None:
        self._in_use.discard(slot)
        self._last_used = datetime.now(UTC)
        # above its share a process stops using a slot; the next renewal gives it back
        if slot in self._held and len(self._in_use) < self._share:
            self._free.append(slot)
            self._hand_out()

    def _hand_out(self) -> None:
        """Give usable slots to waiters, first come first served."""
        while self._waiters:
            slot = self._usable_slot()
            if slot is None:
                return
            waiter = self._waiters.popleft()
            if waiter.done():  # cancelled
                self._free.append(slot)
                continue
            self._in_use.add(slot)  # counted from the handover, so no one else takes it
            waiter.set_result(slot)

    def _start(self) -> asyncio.Event:
        if self._nudge is None:
            self._nudge = asyncio.Event()
            self._nudge.set()
            self._loop_task = asyncio.get_running_loop().create_task(self._renewals())
        return self._nudge

    async def _renewals(self) -> None:
        assert self._nudge is not None
        while True:
            self._nudge.clear()
            idle = (datetime.now(UTC) - self._last_used).total_seconds() > self._ttl
            wanted = bool(self._waiters) or bool(self._in_use) or not idle
            try:
                tenure = await asyncio.to_thread(
                    self._store.renew,
                    self._headend,
                    self._holder,
                    self._limit,
                    wanted,
                    frozenset(self._in_use),
                    self._ttl,
                )
            except Exception:
                log.exception("head end %s: session leases could not be renewed", self._headend)
            else:
                self._take(tenure)
                self._hand_out()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._nudge.wait(), timeout=self._renew_every)
            if self._nudge.is_set():  # waiters: not more often than ten times a second
                await asyncio.sleep(0.1)

    def _take(self, tenure: Tenure) -> None:
        self._held, self._until, self._share = tenure.slots, tenure.until, tenure.share
        keep = sorted(s for s in tenure.slots if s not in self._in_use)
        self._free = keep[: max(0, tenure.share - len(self._in_use))]

    async def close(self) -> None:
        """Stop renewing and give the slots back."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        try:
            await asyncio.to_thread(self._store.give_back, self._headend, self._holder)
        except Exception:
            log.exception("head end %s: session leases could not be given back", self._headend)
        self._held, self._free = frozenset(), []
