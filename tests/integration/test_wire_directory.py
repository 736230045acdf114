"""The head-end directory: one adapter per listed head end, chosen by its protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from aiohttp import web

from s1adopt.adapters.headend.binary_tcp import BinaryTcpHeadEnd
from s1adopt.adapters.headend.directory import HeadEndDirectory
from s1adopt.adapters.headend.json_http import JsonHttpHeadEnd
from s1adopt.adapters.headend.xml_http import XmlHttpHeadEnd
from s1adopt.domain.errors import ConfigurationError
from s1adopt.domain.identities import Eui64
from s1adopt.emulators.frontends.http_common import http_url, serve_app

IOC, MOC, FOC = "90-B3-D5-1F-30-10-00-01", "90-B3-D5-1F-30-10-00-02", "90-B3-D5-1F-30-10-00-03"


def entry(smso: str, protocol: str, url: str, limit: object = 16) -> dict[str, Any]:
    return {
        "name": f"he-{protocol}",
        "smso": smso,
        "cohort": "X",
        "protocol": protocol,
        "url": url,
        "sessionLimit": limit,
    }


Serve = Callable[[list[dict[str, Any]]], Awaitable[str]]


@pytest.fixture
async def control() -> AsyncIterator[Serve]:
    async with AsyncExitStack() as stack:

        async def serve(listing: list[dict[str, Any]]) -> str:
            app = web.Application()

            async def headends(_: web.Request) -> web.Response:
                return web.json_response({"headends": listing})

            app.router.add_get("/headends", headends)
            return http_url("127.0.0.1", await serve_app(stack, app, "127.0.0.1", 0))

        yield serve


async def test_each_smso_gets_the_adapter_of_its_protocol_with_its_session_limit(
    control: Serve,
) -> None:
    url = await control(
        [
            entry(IOC, "s1-json/2", "http://127.0.0.1:1"),
            entry(MOC, "s1-bin/1", "tcp://127.0.0.1:2", 32),
            entry(FOC, "s1-xml/1", "http://127.0.0.1:3"),
        ]
    )

    async with HeadEndDirectory(url) as directory:
        assert directory.smsos == sorted(Eui64.parse(s) for s in (IOC, MOC, FOC))
        assert isinstance(directory.for_smso(Eui64.parse(IOC)), JsonHttpHeadEnd)
        moc = directory.for_smso(Eui64.parse(MOC))
        assert isinstance(moc, BinaryTcpHeadEnd)
        assert moc.session_limit == 32
        assert isinstance(directory.for_smso(Eui64.parse(FOC)), XmlHttpHeadEnd)


async def test_a_protocol_without_an_adapter_is_a_configuration_error_naming_it(
    control: Serve,
) -> None:
    url = await control([entry(IOC, "s1-json/1", "http://127.0.0.1:1")])

    with pytest.raises(ConfigurationError, match=r"'s1-json/1'.*known: s1-bin/1, s1-json/2"):
        async with HeadEndDirectory(url):
            pass


@pytest.mark.parametrize("limit", [None, 0, "8", True])
async def test_a_listing_without_a_usable_session_limit_is_a_configuration_error(
    control: Serve, limit: object
) -> None:
    url = await control([entry(IOC, "s1-json/2", "http://127.0.0.1:1", limit)])

    with pytest.raises(ConfigurationError, match="unexpected listing"):
        async with HeadEndDirectory(url):
            pass


async def test_an_unreachable_control_address_says_how_to_start_the_emulator() -> None:
    with pytest.raises(ConfigurationError, match="emulator serve"):
        async with HeadEndDirectory("http://127.0.0.1:9"):
            pass
