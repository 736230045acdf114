"""What the gateway's synchronous (non-device) handlers share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from s1adopt.domain.duis import ResponseCode
from s1adopt.domain.parties import Party
from s1adopt.formats.duis.requests import MalformedRequest, RequestHeader
from s1adopt.services.ports import UnitOfWork

Result = tuple[ResponseCode, etree._Element | None, str]


@dataclass
class NonDeviceContext:
    """What a non-device handler works with: the open unit of work, the user, the time."""

    uow: UnitOfWork
    user: Party
    at: datetime


def body_of(header: RequestHeader) -> etree._Element:
    """The request's body element (``MalformedRequest`` when it has none)."""
    if header.body is None:
        raise MalformedRequest("the request's Body holds no element")
    return header.body
