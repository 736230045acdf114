"""``s1-xml/1``: device operations as typed XML documents over HTTP (the FOC cohort).

``POST /s1xml/request`` with ``Content-Type: application/xml`` and a request document, in the
namespace ``NS``::

    <request device="HEX" operation="op" nonce="..." tag="...">
      <params><m k="name">VALUE</m>...</params>
    </request>

answered (HTTP 200 for every answer the head end gives) by
``<answer><result><m k="name">VALUE</m>...</result></answer>`` or
``<answer><error code="CODE">message</error></answer>``. A VALUE is one of ``<n/>`` (null),
``<b>true|false</b>``, ``<i>int</i>``, ``<f>float</f>`` (Python's shortest round-trip form),
``<s>text</s>``, ``<h>hex</h>`` (a string holding characters XML cannot carry, as the hex of
its UTF-8), ``<l>VALUE*</l>`` (list) or ``<o><m k="name">VALUE</m>*</o>`` (object), so every
value of ``formats.wire.values`` round-trips exactly.

Safety rules for every document read: at most ``MAX_REQUEST_BYTES`` (requests) or
``MAX_ANSWER_BYTES`` (answers); UTF-8 only; any ``<!DOCTYPE`` or ``<!ENTITY`` rejects it
before parsing, and a parsed DTD or entity reference after; libxml2 runs without DTD loading,
entity resolution or network; elements must be those above, in ``NS``, nested at most
``values.MAX_DEPTH`` deep; text between elements must be whitespace.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from s1adopt.formats.wire.values import (
    MAX_DEPTH,
    XML_UNSAFE,
    Answer,
    Result,
    WireDecodeError,
    WireError,
    WireRequest,
    check_key,
    check_value,
    checked_error,
    checked_request,
)

PROTOCOL = "s1-xml/1"
NS = "urn:s1adopt:headend:xml:v1"
PATH = "/s1xml/request"
CONTENT_TYPE = "application/xml"
MAX_REQUEST_BYTES = 64 * 1024
MAX_ANSWER_BYTES = 2 * 1024 * 1024
_Q = "{" + NS + "}"
_INT = re.compile(r"-?[0-9]{1,19}")
_FLOAT = re.compile(r"-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?")
_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY")
_PARSER = etree.XMLParser(
    encoding="utf-8",
    resolve_entities=False,
    load_dtd=False,
    dtd_validation=False,
    no_network=True,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    collect_ids=False,
)


def _el(parent: etree._Element | None, name: str, **attrs: str) -> etree._Element:
    if parent is None:
        # lxml-stubs do not know that None names the default namespace.
        return etree.Element(_Q + name, attrs, nsmap={None: NS})  # type: ignore[dict-item]
    return etree.SubElement(parent, _Q + name, attrs)


def _put_value(parent: etree._Element, value: Any) -> None:
    if value is None:
        _el(parent, "n")
    elif isinstance(value, bool):
        _el(parent, "b").text = "true" if value else "false"
    elif isinstance(value, int):
        _el(parent, "i").text = str(value)
    elif isinstance(value, float):
        _el(parent, "f").text = repr(value)
    elif isinstance(value, str):
        if XML_UNSAFE.search(value):
            _el(parent, "h").text = value.encode("utf-8").hex()
        else:
            _el(parent, "s").text = value
    elif isinstance(value, list):
        items = _el(parent, "l")
        for item in value:
            _put_value(items, item)
    else:
        _put_members(_el(parent, "o"), value)


def _put_members(parent: etree._Element, members: dict[str, Any]) -> None:
    for key, item in members.items():
        _put_value(_el(parent, "m", k=key), item)


def _serialise(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, encoding="utf-8", xml_declaration=False))


def encode_request(request: WireRequest) -> bytes:
    """The request document of one operation."""
    root = _el(
        None,
        "request",
        device=request.device_hex,
        operation=request.operation,
        nonce=request.nonce,
        tag=request.tag,
    )
    _put_members(_el(root, "params"), request.params)
    return _serialise(root)


def encode_answer(answer: Answer) -> bytes:
    """The answer document of one operation."""
    root = _el(None, "answer")
    if isinstance(answer, WireError):
        _el(root, "error", code=answer.code.value).text = XML_UNSAFE.sub("?", answer.message)
    else:
        _put_members(_el(root, "result"), answer)
    return _serialise(root)


def parse_document(data: bytes, limit: int) -> etree._Element:
    """The root of a safe, bounded document; ``WireDecodeError`` for anything else."""
    if len(data) > limit:
        raise WireDecodeError(f"document larger than {limit} bytes")
    if any(marker in data for marker in _FORBIDDEN):
        raise WireDecodeError("document type declarations and entities are not allowed")
    try:
        data.decode("utf-8")
        root = etree.fromstring(data, _PARSER)
    except (UnicodeDecodeError, etree.XMLSyntaxError, ValueError) as exc:
        raise WireDecodeError(f"not a well-formed UTF-8 XML document: {exc}") from None
    info = root.getroottree().docinfo
    if info.internalDTD is not None or info.public_id:
        raise WireDecodeError("document type declarations are not allowed")
    return root


def decode_request(data: bytes) -> WireRequest:
    """The operation a request document asks for."""
    root = parse_document(data, MAX_REQUEST_BYTES)
    _expect(root, "request")
    _no_text(root)
    children = list(root)
    if len(children) != 1:
        raise WireDecodeError("a request holds exactly one <params>")
    params = children[0]
    _expect(params, "params")
    get = root.get
    return checked_request(
        get("device"), get("operation"), _members(params, 1), get("nonce"), get("tag")
    )


def decode_answer(data: bytes) -> Answer:
    """The result or error an answer document carries."""
    root = parse_document(data, MAX_ANSWER_BYTES)
    _expect(root, "answer")
    _no_text(root)
    children = list(root)
    if len(children) != 1:
        raise WireDecodeError("an answer holds exactly one <result> or <error>")
    body = children[0]
    if body.tag == _Q + "error":
        if len(body):
            raise WireDecodeError("<error> holds no elements")
        return checked_error(body.get("code"), body.text or "")
    _expect(body, "result")
    return _members(body, 1)


def _expect(element: etree._Element, name: str) -> None:
    if element.tag != _Q + name:
        raise WireDecodeError(f"expected <{name}> in {NS}, found {str(element.tag)[:80]!r}")


def _no_text(element: etree._Element) -> None:
    """Only whitespace may stand between the children of a container element."""
    texts = [element.text, *(child.tail for child in element)]
    if any(text is not None and text.strip() for text in texts):
        raise WireDecodeError(f"text inside <{etree.QName(element).localname}>")


def _members(element: etree._Element, depth: int) -> Result:
    if depth > MAX_DEPTH:
        raise WireDecodeError(f"values nest deeper than {MAX_DEPTH}")
    _no_text(element)
    members: Result = {}
    for member in element:
        _expect(member, "m")
        key = check_key(member.get("k"))
        if key in members:
            raise WireDecodeError(f"member {key[:80]!r} appears twice")
        values = list(member)
        if len(values) != 1:
            raise WireDecodeError("a member holds exactly one value")
        _no_text(member)
        members[key] = _value(values[0], depth + 1)
    return members


def _leaf_text(element: etree._Element) -> str:
    if len(element):
        raise WireDecodeError("a scalar value holds no elements")
    return element.text or ""


def _value(element: etree._Element, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise WireDecodeError(f"values nest deeper than {MAX_DEPTH}")
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith(_Q):
        raise WireDecodeError("a value element outside the protocol's namespace")
    kind = tag[len(_Q) :]
    if kind == "l":
        _no_text(element)
        return [_value(item, depth + 1) for item in element]
    if kind == "o":
        return _members(element, depth + 1)
    text = _leaf_text(element)
    if kind == "s":
        return text
    if kind == "n" and not text:
        return None
    if kind == "b" and text in ("true", "false"):
        return text == "true"
    if kind == "i" and _INT.fullmatch(text):
        value = int(text)
        check_value(value)
        return value
    if kind == "f" and _FLOAT.fullmatch(text.lower()):
        number = float(text)
        check_value(number)
        return number
    if kind == "h":
        try:
            return bytes.fromhex(text).decode("utf-8")
        except ValueError:
            raise WireDecodeError("<h> is not the hex of UTF-8 text") from None
    raise WireDecodeError(f"<{kind[:20]}> is not a value of the protocol or is malformed")
