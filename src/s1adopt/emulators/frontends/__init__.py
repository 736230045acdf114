"""Protocol front ends of the emulated head ends: one per wire protocol, each serving one core.

``FRONTENDS`` maps a protocol name to the function that starts its front end for a
``HeadEndCore`` on a loopback host (ephemeral port) and answers the URL clients use; the
server stops when the given exit stack closes.
"""

from __future__ import annotations

from s1adopt.emulators.frontends.binary_tcp import start_binary_frontend
from s1adopt.emulators.frontends.http_common import StartFrontend
from s1adopt.emulators.frontends.json_http import start_json_frontend
from s1adopt.emulators.frontends.xml_http import start_xml_frontend
from s1adopt.formats.wire import binary_v1, json_v2, xml_v1

FRONTENDS: dict[str, StartFrontend] = {
    json_v2.PROTOCOL: start_json_frontend,
    xml_v1.PROTOCOL: start_xml_frontend,
    binary_v1.PROTOCOL: start_binary_frontend,
}

__all__ = ["FRONTENDS", "StartFrontend"]
