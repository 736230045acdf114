"""Streaming writer of migration files (used by SMSOs' tooling and the fleet generator)."""

from __future__ import annotations

import base64
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

from lxml import etree

from s1adopt.domain.records import InstallationRecord, MigrationFileHeader
from s1adopt.formats.credentials import ALGORITHM
from s1adopt.formats.migration import NAMESPACE_V1

_NSMAP: Any = {None: NAMESPACE_V1}  # lxml accepts None as the default prefix


def _q(tag: str) -> str:
    return "{" + NAMESPACE_V1 + "}" + tag


class MigrationFileWriter(AbstractContextManager["MigrationFileWriter"]):
    """Write a header then installations one at a time, in constant memory."""

    def __init__(self, path: Path, header: MigrationFileHeader) -> None:
        self._path, self._header = path, header
        self._stack = ExitStack()

    def __enter__(self) -> MigrationFileWriter:
        h, stack = self._header, self._stack
        xf = stack.enter_context(etree.xmlfile(str(self._path), encoding="UTF-8"))
        xf.write_declaration()
        stack.enter_context(
            xf.element(_q("MigrationFile"), {"schemaVersion": h.schema_version}, nsmap=_NSMAP)
        )
        header = etree.Element(_q("Header"), nsmap=_NSMAP)
        for tag, value in (
            ("FileID", h.file_id),
            ("SMSO", h.smso),
            ("ResponsibleSupplier", h.responsible_supplier),
            ("CreatedAt", h.created_at),
            ("RecordCount", str(h.record_count)),
        ):
            etree.SubElement(header, _q(tag)).text = value
        etree.SubElement(
            header,
            _q("CredentialTransport"),
            algorithm=ALGORITHM,
            ephemeralPublicKey=base64.b64encode(h.transport_public_key).decode(),
        )
        xf.write(header)
        stack.enter_context(xf.element(_q("Installations")))
        self._xf = xf
        return self

    def write(self, record: InstallationRecord) -> None:
        """Append one installation."""
        self._xf.write(_installation_element(record))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()


def _installation_element(record: InstallationRecord) -> etree._Element:
    inst = etree.Element(
        _q("Installation"),
        reference=record.reference,
        type=record.installation_type,
        cohort=record.cohort,
        nsmap=_NSMAP,
    )
    if record.mpan is not None:
        etree.SubElement(inst, _q("MPAN")).text = record.mpan
    if record.mprn is not None:
        etree.SubElement(inst, _q("MPRN")).text = record.mprn
    for dev in record.devices:
        attrs = {
            "id": dev.device_id,
            "type": dev.device_type,
            "manufacturer": dev.manufacturer,
            "model": dev.model,
        }
        if dev.firmware_version is not None:
            attrs["firmware"] = dev.firmware_version
        if dev.associated_with is not None:
            attrs["associatedWith"] = dev.associated_with
        el = etree.SubElement(inst, _q("Device"), attrs)
        if dev.credential is not None:
            cred = etree.SubElement(
                el, _q("Credential"), nonce=base64.b64encode(dev.credential.nonce).decode()
            )
            cred.text = base64.b64encode(dev.credential.ciphertext).decode()
    return inst
