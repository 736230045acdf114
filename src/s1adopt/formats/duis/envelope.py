"""DUIS ``Request`` documents for users' tools: the header and a body element, unsigned.

Rules: the header holds RequestID, CommandVariant, ServiceReference and
ServiceReferenceVariant in the schema's order; the document is compact and ready for
``xmldsig.sign`` (which appends the signature after the Body).
"""

from __future__ import annotations

from lxml import etree

from s1adopt.domain.duis import DUIS_NAMESPACE, SCHEMA_VERSION
from s1adopt.formats.duis.responses import service_reference_of

_NS = "{" + DUIS_NAMESPACE + "}"


def request_document(
    request_id: str, command_variant: int, srv: str, body: etree._Element
) -> etree._Element:
    """An unsigned DUIS Request carrying ``body`` (an ``sr:`` element)."""
    root = etree.Element(
        _NS + "Request", {"schemaVersion": SCHEMA_VERSION}, nsmap={"sr": DUIS_NAMESPACE}
    )
    header = etree.SubElement(root, _NS + "Header")
    etree.SubElement(header, _NS + "RequestID").text = request_id
    etree.SubElement(header, _NS + "CommandVariant").text = str(command_variant)
    etree.SubElement(header, _NS + "ServiceReference").text = service_reference_of(srv)
    etree.SubElement(header, _NS + "ServiceReferenceVariant").text = srv
    etree.SubElement(root, _NS + "Body").append(body)
    return root
