"""``s1-json/2``: device operations as JSON over HTTP (the IOC cohort's head end).

Requests (``POST``, ``Content-Type: application/json``, UTF-8):
- ``/v2/devices/{device}/{operation}`` with ``{"nonce", "tag", "params": {...}}``; answered
  ``200`` with the result object, or an error;
- ``/v2/batch`` with ``{"waitMs": int, "operations": [{"device", "operation", "nonce", "tag",
  "params"}]}`` (1 to ``MAX_BATCH_OPERATIONS``); answered ``200`` with ``{"results": [...]}``
  in the order of the operations, each ``{"status", "body"}`` as the single request would have
  been answered, or ``null`` for an operation that gave no answer within ``waitMs`` (at most
  ``MAX_WAIT_MS``): the head end answers the batch once every operation has answered or
  ``waitMs`` has passed. A result whose ``body`` is not an object is a garbled answer of that
  operation alone.
Errors: ``{"error": CODE, "message": text}`` with ``HTTP_STATUS[CODE]``; the code decides,
the status is for people and proxies. Any other answer is undecodable (``WireDecodeError``).
Sizes: a single request at most ``MAX_REQUEST_BYTES``, a batch ``MAX_BATCH_REQUEST_BYTES``; a
single answer at most ``MAX_ANSWER_BYTES``, a batch answer ``MAX_BATCH_ANSWER_BYTES``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from s1adopt.formats.device_auth import ErrorCode
from s1adopt.formats.wire.values import (
    Answer,
    WireDecodeError,
    WireError,
    WireRequest,
    check_object,
    checked_error,
    checked_request,
)

PROTOCOL = "s1-json/2"
CONTENT_TYPE = "application/json"
BATCH_PATH = "/v2/batch"
DEVICE_PATH = re.compile(r"/v2/devices/([^/]+)/([^/]+)")
MAX_BATCH_OPERATIONS = 256
MAX_WAIT_MS = 120_000
MAX_REQUEST_BYTES = 64 * 1024
MAX_BATCH_REQUEST_BYTES = 4 * 1024 * 1024
MAX_ANSWER_BYTES = 1024 * 1024
MAX_BATCH_ANSWER_BYTES = 32 * 1024 * 1024

HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.AUTH_FAILED: 401,
    ErrorCode.UNKNOWN_DEVICE: 404,
    ErrorCode.REJECTED: 422,
    ErrorCode.BUSY: 429,
    ErrorCode.NOT_SUPPORTED: 501,
    ErrorCode.HAN_FAILURE: 502,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.NO_RESPONSE: 504,
}
BatchItem = tuple[int, bytes] | None  # (HTTP status, single answer body) or no answer


def device_path(device_hex: str, operation: str) -> str:
    """The URL path of one operation on one device."""
    return f"/v2/devices/{device_hex}/{operation}"


def _dumps(doc: object) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _loads(raw: bytes, limit: int) -> Any:
    if len(raw) > limit:
        raise WireDecodeError(f"message larger than {limit} bytes")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise WireDecodeError(f"not JSON: {exc.__class__.__name__}") from None


def _no_constant(name: str) -> None:
    raise WireDecodeError(f"{name} is not a JSON value")


def _operation_fields(request: WireRequest) -> dict[str, Any]:
    return {"nonce": request.nonce, "tag": request.tag, "params": request.params}


def encode_request(request: WireRequest) -> tuple[str, bytes]:
    """The path and body of a single request."""
    path = device_path(request.device_hex, request.operation)
    return path, _dumps(_operation_fields(request))


def decode_request(device_hex: str, operation: str, body: bytes) -> WireRequest:
    """A single request from its path segments and body."""
    doc = _loads(body, MAX_REQUEST_BYTES)
    if not isinstance(doc, dict):
        raise WireDecodeError("request body is not a JSON object")
    return checked_request(
        device_hex, operation, doc.get("params", {}), doc.get("nonce"), doc.get("tag")
    )


def encode_batch(requests: list[WireRequest], wait_ms: int) -> bytes:
    """The body of a batch of 1 to ``MAX_BATCH_OPERATIONS`` requests."""
    if not 0 < len(requests) <= MAX_BATCH_OPERATIONS:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH_OPERATIONS} operations")
    operations = [
        {"device": r.device_hex, "operation": r.operation, **_operation_fields(r)} for r in requests
    ]
    return _dumps({"waitMs": min(max(wait_ms, 1), MAX_WAIT_MS), "operations": operations})


def decode_batch(body: bytes) -> tuple[int, list[WireRequest | WireError]]:
    """A batch's ``waitMs`` and operations; a malformed operation is its own BAD_REQUEST.

    A body that is not a batch at all is a ``WireDecodeError``.
    """
    doc = _loads(body, MAX_BATCH_REQUEST_BYTES)
    operations = doc.get("operations") if isinstance(doc, dict) else None
    if not isinstance(operations, list) or not 0 < len(operations) <= MAX_BATCH_OPERATIONS:
        raise WireDecodeError(f"'operations' must list 1 to {MAX_BATCH_OPERATIONS} operations")
    wait_ms = doc.get("waitMs", MAX_WAIT_MS)
    if isinstance(wait_ms, bool) or not isinstance(wait_ms, int) or wait_ms <= 0:
        raise WireDecodeError("'waitMs' must be a positive integer")
    items: list[WireRequest | WireError] = []
    for item in operations:
        try:
            if not isinstance(item, dict):
                raise WireDecodeError("an operation must be a JSON object")
            items.append(
                checked_request(
                    item.get("device"),
                    item.get("operation"),
                    item.get("params", {}),
                    item.get("nonce"),
                    item.get("tag"),
                )
            )
        except WireDecodeError as exc:
            items.append(WireError(ErrorCode.BAD_REQUEST, str(exc)))
    return min(wait_ms, MAX_WAIT_MS), items


def encode_answer(answer: Answer) -> tuple[int, bytes]:
    """The HTTP status and body of a single answer."""
    if isinstance(answer, WireError):
        doc = {"error": answer.code.value, "message": answer.message}
        return HTTP_STATUS[answer.code], _dumps(doc)
    return 200, _dumps(answer)


def decode_answer(status: int, body: bytes) -> Answer:
    """A single answer from its HTTP status and body."""
    return _answer_of(status, _loads(body, MAX_ANSWER_BYTES))


def _answer_of(status: object, doc: object) -> Answer:
    if status == 200:
        return check_object(doc)
    if not isinstance(doc, dict) or not isinstance(status, int) or isinstance(status, bool):
        raise WireDecodeError(f"HTTP {status} without an error object")
    return checked_error(doc.get("error"), doc.get("message", ""))


def encode_batch_answer(items: list[BatchItem]) -> bytes:
    """The body of a batch answer: each item's status and single-answer body, or null.

    The bodies are spliced in as they are, so an item whose body is not JSON (a garbled
    answer) must already be a JSON string.
    """
    parts = [
        b"null" if item is None else b'{"status":%d,"body":%s}' % (item[0], item[1])
        for item in items
    ]
    return b'{"results":[' + b",".join(parts) + b"]}"


def decode_batch_answer(body: bytes, expected: int) -> list[Answer | WireDecodeError | None]:
    """Each operation's answer, its own decode error (garbled), or None (no answer).

    A body that is not a batch answer of ``expected`` results is a ``WireDecodeError``.
    """
    doc = _loads(body, MAX_BATCH_ANSWER_BYTES)
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, list) or len(results) != expected:
        raise WireDecodeError(f"a batch answer must hold {expected} results")
    answers: list[Answer | WireDecodeError | None] = []
    for item in results:
        if item is None:
            answers.append(None)
            continue
        try:
            if not isinstance(item, dict):
                raise WireDecodeError("a batch result is not an object")
            answers.append(_answer_of(item.get("status"), item.get("body")))
        except WireDecodeError as exc:
            answers.append(exc)
    return answers
