"""Signed answers of the device service: SMETS1 responses, device alerts and S1SP alerts.

Rules:
- the S1SP signs its part (the MMC header and payload, or its own alert) with its key, then
  the DSP signs the DUIS Response that carries it: two signatures, each over its own document;
- a device that answered, even to refuse, gives a response with code I0 whose payload says
  whether the message succeeded (``MessageSuccess``) and, when it did not, which step failed,
  with the project's failure code (``FailureCode``) and the device's reason;
- a request that got no answer from the device gives E21 (no response), E20 (the head end
  could not be reached or the outcome is unknown) or, for a future-dated request, E30, with
  no S1SP payload; the S1SP raises an S1SP alert beside it;
- the MMC header's target is the user, or the DSP for a DCC schedule's run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import IntEnum
from typing import Any

from s1adopt.domain.duis import ResponseCode
from s1adopt.domain.identities import Eui64
from s1adopt.formats.duis import mmc, smets1
from s1adopt.services.duis.ports import ResponseSigner

S1SP_ALERT_DCC_CODE = "N999"  # project's choice: the DCC alert code carrying S1SP alerts


class FailureCode(IntEnum):
    """The ``ResponseCode`` of a failed step in ``SMETS1Debug`` (the project's numbering)."""

    NOT_SUPPORTED = 1  # the device does not support the operation
    REJECTED = 2  # the device refused the command (state, parameters, duplicate)
    AUTHENTICATION = 3  # the device refused the S1SP's credential
    HAN = 4  # the communications hub could not reach the HAN device
    GARBLED = 5  # the head end's answer could not be read
    UNMAPPABLE = 6  # the S1SP could not express the device's answer in the MMC
    DCO = 7  # the command lacked a valid DCO countersignature: not sent


class ResponseFactory:
    """Builds and signs the device service's documents (see the module rules)."""

    def __init__(self, s1sp: ResponseSigner, dsp: ResponseSigner, dsp_eui: Eui64) -> None:
        self._s1sp, self._dsp, self._dsp_eui = s1sp, dsp, dsp_eui

    def answered(
        self,
        header: smets1.Smets1Header,
        render: mmc.RenderContext,
        answers: Sequence[Mapping[str, Any]],
        request_id: str | None,
        schedule_id: int | None = None,
    ) -> bytes:
        """The signed Response carrying the device's answer."""
        payload = mmc.response_payload(render, answers)
        return self._wrap(header, payload, request_id, render.srv, schedule_id)

    def failed(
        self,
        header: smets1.Smets1Header,
        render: mmc.RenderContext,
        position: int,
        code: FailureCode,
        message: str,
        request_id: str | None,
        schedule_id: int | None = None,
    ) -> bytes:
        """The signed Response of a step the device (or the S1SP) refused."""
        payload = mmc.failure_payload(render, position, int(code), message)
        return self._wrap(header, payload, request_id, render.srv, schedule_id)

    def unanswered(
        self, request_id: str | None, code: ResponseCode, srv: str, at: datetime
    ) -> bytes:
        """The signed Response of a request the device did not answer (E20, E21, E30)."""
        return self._dsp.sign(smets1.plain_response(request_id, code, srv, at))

    def device_alert(
        self,
        device: Eui64,
        recipient: Eui64,
        counter: int,
        description: str,
        at: datetime,
        gbcs_code: str | None,
    ) -> bytes:
        """The signed Response carrying a device's alert to one recipient."""
        header = smets1.Smets1Header(device, recipient, counter, None, at)
        part = self._s1sp.sign(
            smets1.signed_alert_document(header, mmc.alert_payload(description, at, gbcs_code))
        )
        response_id = f"{device.value}:{recipient.value}:{counter}"
        return self._dsp.sign(smets1.device_alert_response(response_id, at, part))

    def s1sp_alert(
        self,
        recipient: Eui64,
        counter: int,
        code: str,
        at: datetime,
        *,
        request_id: str | None = None,
        device: Eui64 | None = None,
        information: str | None = None,
        schedule_id: int | None = None,
    ) -> bytes:
        """The signed Response carrying an S1SP alert to one recipient."""
        part = self._s1sp.sign(
            smets1.s1sp_alert_document(
                code, at, request_id=request_id, device=device, information=information
            )
        )
        response_id = f"{self._dsp_eui.value}:{recipient.value}:{counter}"
        return self._dsp.sign(
            smets1.s1sp_alert_response(response_id, S1SP_ALERT_DCC_CODE, at, part, schedule_id)
        )

    def _wrap(
        self,
        header: smets1.Smets1Header,
        payload: list[Any],
        request_id: str | None,
        srv: str,
        schedule_id: int | None,
    ) -> bytes:
        part = self._s1sp.sign(smets1.signed_response_document(header, payload))
        response = smets1.device_response(
            request_id, ResponseCode.SUCCESS, srv, header.at, part, schedule_id=schedule_id
        )
        return self._dsp.sign(response)

    @property
    def dsp_eui(self) -> Eui64:
        """The DSP's EUI-64 (the target of a schedule's responses)."""
        return self._dsp_eui
