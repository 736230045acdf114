"""Finding the head ends: asks an emulator's (or SMSO gateway's) control address.

Rules:
- ``GET {control}/headends`` lists ``{name, smso, cohort, protocol, url, sessionLimit}`` per
  head end; each gets the adapter of its protocol (``ADAPTERS``), limited to its
  ``sessionLimit`` requests in progress;
- a protocol without an adapter, a malformed listing or an unreachable control address is a
  ``ConfigurationError`` that names it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp

from s1adopt.adapters.headend.base import SessionLimiter, WireHeadEnd
from s1adopt.adapters.headend.binary_tcp import BinaryTcpHeadEnd
from s1adopt.adapters.headend.http_client import read_limited
from s1adopt.adapters.headend.json_http import JsonHttpHeadEnd
from s1adopt.adapters.headend.policy import RetryPolicy, Transient
from s1adopt.adapters.headend.xml_http import XmlHttpHeadEnd
from s1adopt.domain.errors import ConfigurationError, InvalidIdentity
from s1adopt.domain.identities import Eui64
from s1adopt.formats.wire import binary_v1, json_v2, xml_v1
from s1adopt.services.ports import HeadEnd

MAX_DIRECTORY_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class HeadEndEntry:
    """One head end as the control address lists it."""

    name: str
    smso: Eui64
    cohort: str
    protocol: str
    url: str
    session_limit: int

    @classmethod
    def parse(cls, entry: dict[str, Any]) -> HeadEndEntry:
        """An entry of the listing (``KeyError``, ``TypeError`` or ``ValueError`` if bad)."""
        limit = entry["sessionLimit"]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"head end {entry['name']}: sessionLimit {limit!r}")
        texts = [entry[k] for k in ("name", "cohort", "protocol", "url")]
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("name, cohort, protocol and url must be strings")
        name, cohort, protocol, url = texts
        return cls(name, Eui64.parse(entry["smso"]), cohort, protocol, url, limit)


MakeAdapter = Callable[[aiohttp.ClientSession, HeadEndEntry, RetryPolicy | None], WireHeadEnd]

ADAPTERS: dict[str, MakeAdapter] = {
    json_v2.PROTOCOL: lambda s, e, p: JsonHttpHeadEnd(s, e.url, e.name, p, e.session_limit),
    xml_v1.PROTOCOL: lambda s, e, p: XmlHttpHeadEnd(s, e.url, e.name, p, e.session_limit),
    binary_v1.PROTOCOL: lambda s, e, p: BinaryTcpHeadEnd(e.url, e.name, p, e.session_limit),
}


def adapter_for(
    session: aiohttp.ClientSession, entry: HeadEndEntry, policy: RetryPolicy | None
) -> WireHeadEnd:
    """The adapter of ``entry``'s protocol; ``ConfigurationError`` if there is none."""
    make = ADAPTERS.get(entry.protocol)
    if make is None:
        raise ConfigurationError(
            f"head end {entry.name} speaks {entry.protocol!r}, which this version has no "
            f"adapter for (known: {', '.join(sorted(ADAPTERS))})"
        )
    return make(session, entry, policy)


class HeadEndDirectory:
    """``services.ports.HeadEndDirectory`` built from a control address's ``/headends``.

    Use as an async context manager: it owns the HTTP session the HTTP adapters share and
    the binary adapters' connections.
    """

    def __init__(
        self,
        control_url: str | None,
        concurrency: int = 128,
        policy: RetryPolicy | None = None,
        shared_sessions: Callable[[str, int], SessionLimiter] | None = None,
    ) -> None:
        """``shared_sessions(name, limit)``, when given, makes each head end's limiter: the
        limit then holds across every process that uses the same factory's store."""
        self._control_url = control_url.rstrip("/") if control_url else None
        self._concurrency, self._policy = concurrency, policy
        self._shared_sessions = shared_sessions
        self._by_smso: dict[Eui64, WireHeadEnd] = {}

    async def __aenter__(self) -> HeadEndDirectory:
        connector = aiohttp.TCPConnector(limit=self._concurrency, limit_per_host=self._concurrency)
        self._session = aiohttp.ClientSession(connector=connector)
        if self._control_url is not None:
            try:
                await self._discover(self._control_url)
            except BaseException:
                await self._close()
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        for adapter in self._by_smso.values():
            await adapter.close()
        await self._session.close()

    async def _discover(self, control_url: str) -> None:
        try:
            async with self._session.get(
                control_url + "/headends", timeout=aiohttp.ClientTimeout(total=10)
            ) as response:
                if response.status != 200:
                    raise ConfigurationError(
                        f"{control_url}/headends answered HTTP {response.status}"
                    )
                raw = await read_limited(response, MAX_DIRECTORY_BYTES)
            entries = [HeadEndEntry.parse(e) for e in json.loads(raw)["headends"]]
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise ConfigurationError(
                f"head-end control address {control_url} unreachable ({exc.__class__.__name__}); "
                "is the emulator running? Start it with `s1adopt emulator serve DIR`"
            ) from exc
        except (ValueError, KeyError, TypeError, InvalidIdentity, Transient) as exc:
            raise ConfigurationError(f"{control_url}/headends: unexpected listing: {exc}") from exc
        for entry in entries:
            adapter = adapter_for(self._session, entry, self._policy)
            if self._shared_sessions is not None:
                adapter.share_sessions(self._shared_sessions(entry.name, entry.session_limit))
            self._by_smso[entry.smso] = adapter

    async def register_alert_endpoint(self, url: str | None) -> None:
        """Tell the control address where the head ends push device alerts (None: nowhere);
        ``ConfigurationError`` when it does not take it."""
        if self._control_url is None:
            return
        target = self._control_url + "/alerts/endpoint"
        try:
            async with self._session.put(
                target, json={"url": url}, timeout=aiohttp.ClientTimeout(total=10)
            ) as response:
                if response.status >= 300:
                    raise ConfigurationError(f"{target} answered HTTP {response.status}")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise ConfigurationError(f"{target} unreachable ({exc.__class__.__name__})") from exc

    def for_smso(self, smso: Eui64) -> HeadEnd | None:
        """The head end serving ``smso``'s installations, if known."""
        return self._by_smso.get(smso)

    @property
    def smsos(self) -> list[Eui64]:
        """The SMSOs with a known head end."""
        return sorted(self._by_smso)
