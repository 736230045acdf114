"""Delivering responses and alerts to users' registered endpoints, in order, with retries.

Rules:
- a user's documents go in the order they entered the outbox (the order the devices
  answered): only the oldest pending one is tried, and the next one waits until it is
  delivered or dead. Different users are served side by side;
- a failed POST is tried again after a backoff (``first_backoff`` doubling to
  ``max_backoff``); after ``max_attempts`` failures, or at once when the endpoint refused the
  document itself (HTTP 4xx), it is dead-lettered: kept with its last error, listed for the
  operator and redeliverable; a user without a registered endpoint counts as a failure;
- a document is marked delivered once its POST succeeded; if the service stops between the
  two it is delivered again after the restart (at least once): its RequestID or ResponseID
  lets the user's system recognise it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TypeVar

from s1adopt.domain.identities import Eui64
from s1adopt.services.duis.device_ports import Delivery, DeliveryFailed, ResponseEndpoint
from s1adopt.services.ports import Clock, UnitOfWorkFactory

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """Retries and pace of deliveries."""

    first_backoff: float = 0.5  # seconds
    max_backoff: float = 60.0
    max_attempts: int = 20
    batch: int = 200  # documents of one user sent in one go, at most
    recipients: int = 32  # users served at once
    poll_interval: float = 0.02
    mark_every: int = 50  # delivered documents recorded at least this often

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failure."""
        return float(min(self.first_backoff * 2.0 ** max(0, attempts - 1), self.max_backoff))


@dataclass
class PassReport:
    """What one delivery pass did."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0


class Deliverer:
    """Delivers the outbox (see the module rules)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        endpoint: ResponseEndpoint,
        settings: DeliverySettings | None = None,
    ) -> None:
        self._uow_factory, self._clock, self._endpoint = uow_factory, clock, endpoint
        self._settings = settings or DeliverySettings()
        self._busy: set[Eui64] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set."""
        while not stop.is_set():
            try:
                report = await self.deliver_once()
            except Exception:
                log.exception("a delivery pass failed; trying again")
                report = PassReport()
            if not (report.delivered or report.failed or report.dead):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._settings.poll_interval)

    async def deliver_once(self) -> PassReport:
        """One pass: every user whose oldest pending document is due, side by side."""
        recipients = await self._db(partial(self._pending_recipients, self._settings.recipients))
        report = PassReport()
        jobs = [self._recipient(r, report) for r in recipients if r not in self._busy]
        if jobs:
            await asyncio.gather(*jobs)
        return report

    async def _recipient(self, recipient: Eui64, report: PassReport) -> None:
        self._busy.add(recipient)
        try:
            url, items = await self._db(lambda: self._work_of(recipient))
            delivered: list[int] = []
            for item in items:
                try:
                    if url is None:
                        raise DeliveryFailed(f"{recipient} has no registered endpoint")
                    await self._endpoint.post(url, item.document)
                except DeliveryFailed as exc:
                    await self._db(partial(self._failed, item, exc, report))
                    break
                delivered.append(item.id)
                report.delivered += 1
                if len(delivered) >= self._settings.mark_every:
                    await self._db(partial(self._delivered, list(delivered)))
                    delivered.clear()
            if delivered:
                await self._db(lambda: self._delivered(delivered))
        finally:
            self._busy.discard(recipient)

    # --- the store -------------------------------------------------------------------------------

    def _pending_recipients(self, limit: int) -> list[Eui64]:
        with self._uow_factory() as uow:
            return uow.devices.pending_recipients(self._clock.now(), limit)

    def _work_of(self, recipient: Eui64) -> tuple[str | None, list[Delivery]]:
        with self._uow_factory() as uow:
            url = uow.duis.endpoint_of(recipient)
            items = uow.devices.pending_for(recipient, self._settings.batch)
        return url, items

    def _delivered(self, ids: list[int]) -> None:
        with self._uow_factory() as uow:
            uow.devices.delivered(ids, self._clock.now())
            uow.commit()

    def _failed(self, item: Delivery, exc: DeliveryFailed, report: PassReport) -> None:
        attempts = item.attempts + 1
        dead = exc.permanent or attempts >= self._settings.max_attempts
        wait = timedelta(seconds=self._settings.backoff(attempts))
        with self._uow_factory() as uow:
            uow.devices.delivery_failed(item.id, str(exc), self._clock.now() + wait, dead)
            uow.commit()
        if dead:
            report.dead += 1
            log.warning("delivery %s to %s dead-lettered: %s", item.id, item.recipient, exc)
        else:
            report.failed += 1

    @staticmethod
    async def _db(call: Callable[[], T]) -> T:
        return await asyncio.to_thread(call)
