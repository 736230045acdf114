"""Finding the head ends: asks an emulator's (or SMSO gateway's) control address."""

from __future__ import annotations

import json
from types import TracebackType

import aiohttp

from s1adopt.adapters.headend.json_http import JsonHttpHeadEnd, RetryPolicy
from s1adopt.domain.errors import ConfigurationError, InvalidIdentity
from s1adopt.domain.identities import Eui64
from s1adopt.formats.headend_wire import PROTOCOL as JSON_PROTOCOL
from s1adopt.services.ports import HeadEnd

MAX_DIRECTORY_BYTES = 1024 * 1024


class HeadEndDirectory:
    """``services.ports.HeadEndDirectory`` built from a control address's ``/headends``.

    Use as an async context manager: it owns the HTTP session the adapters share.
    """

    def __init__(
        self, control_url: str | None, concurrency: int = 128, policy: RetryPolicy | None = None
    ) -> None:
        self._control_url = control_url.rstrip("/") if control_url else None
        self._concurrency, self._policy = concurrency, policy
        self._by_smso: dict[Eui64, HeadEnd] = {}

    async def __aenter__(self) -> HeadEndDirectory:
        connector = aiohttp.TCPConnector(limit=self._concurrency, limit_per_host=self._concurrency)
        self._session = aiohttp.ClientSession(connector=connector)
        if self._control_url is not None:
            try:
                await self._discover(self._control_url)
            except BaseException:
                await self._session.close()
                raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._session.close()

    async def _discover(self, control_url: str) -> None:
        try:
            async with self._session.get(
                control_url + "/headends", timeout=aiohttp.ClientTimeout(total=10)
            ) as response:
                raw = await response.content.read(MAX_DIRECTORY_BYTES + 1)
                if response.status != 200 or len(raw) > MAX_DIRECTORY_BYTES:
                    raise ConfigurationError(
                        f"{control_url}/headends answered HTTP {response.status}"
                    )
            listing = json.loads(raw)["headends"]
            for entry in listing:
                smso = Eui64.parse(entry["smso"])
                if entry["protocol"] != JSON_PROTOCOL:
                    raise ConfigurationError(
                        f"head end {entry['name']} speaks {entry['protocol']!r}, which this "
                        "version has no adapter for"
                    )
                self._by_smso[smso] = JsonHttpHeadEnd(
                    self._session, entry["url"], entry["name"], self._policy
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise ConfigurationError(
                f"head-end control address {control_url} unreachable ({exc.__class__.__name__}); "
                "is the emulator running? Start it with `s1adopt emulator serve DIR`"
            ) from exc
        except (ValueError, KeyError, TypeError, InvalidIdentity) as exc:
            raise ConfigurationError(f"{control_url}/headends: unexpected listing: {exc}") from exc

    def for_smso(self, smso: Eui64) -> HeadEnd | None:
        """The head end serving ``smso``'s installations, if known."""
        return self._by_smso.get(smso)

    @property
    def smsos(self) -> list[Eui64]:
        """The SMSOs with a known head end."""
        return sorted(self._by_smso)
