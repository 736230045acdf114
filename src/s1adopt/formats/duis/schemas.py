"""Schema validation of DUIS documents: the project's own XSDs, and the official ones if given.

Rules:
- the project's own XSDs (``xsd/``: the request envelope, the signature, the problem document)
  ship in the package; the official DUIS V5.4 schemas are not shipped: an operator may point
  ``OfficialSchemas`` at a directory holding them;
- a schema loads with network access off, DTD loading off, and every resource it refers to
  (an ``xs:import``, an ``xs:include``, a DTD, an external entity) is resolved by a resolver
  confined to one place: the package's ``xsd/`` folder for the project's schemas, the
  configured directory (and what lies under it) for the official ones. A reference to anything
  else is refused and the load fails (``SchemaUnavailable`` naming the reference). A reference
  by URL (the signature schema names its DTD by its W3C address) is served from the file of the
  same name in that place when there is one, never fetched;
- a validator accepts only the roots it is for: a schema's global elements would otherwise
  each pass as a whole document;
- a failed validation raises ``SchemaInvalid`` (answered E1001) naming the first problem, with
  its line, without file paths, the DUIS namespaces written as their prefixes (sr:, ds:, ra:),
  bounded in length;
- before a schema compiles, every document it refers to is checked to lie in its place (so
  that nothing outside it can be reached even while another thread's parse swaps lxml's
  process-wide loader hook out), and a compilation that did not load them all through the
  confined resolver is done again;
- schemas are loaded and compiled once (cached per place); a validator keeps its error log on
  itself, so it validates one document at a time (a lock: scale out with processes).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from lxml import etree

from s1adopt.domain.duis import (
    DSIG_NAMESPACE,
    DUIS_NAMESPACE,
    MMC_NAMESPACE,
    RequestRejected,
    ResponseCode,
)
from s1adopt.domain.errors import ConfigurationError
from s1adopt.formats.duis.responses import PROBLEM_NAMESPACE

OFFICIAL_MAIN = "DUIS_Schema_V5.4.xsd"
REQUEST_ROOT = "{" + DUIS_NAMESPACE + "}Request"
RESPONSE_ROOT = "{" + DUIS_NAMESPACE + "}Response"
PROBLEM_ROOT = "{" + PROBLEM_NAMESPACE + "}Problem"
_OWN_PACKAGE = "s1adopt.formats.duis"
_OWN_BASE = "s1adopt-xsd:///"  # base URL of the package's XSDs: never a file or network path
_SCHEMA_LIMIT = 16 * 1024**2  # bytes of one schema document
_MESSAGE_LIMIT = 300
_PREFIXES = (
    ("{" + DUIS_NAMESPACE + "}", "sr:"),
    ("{" + DSIG_NAMESPACE + "}", "ds:"),
    ("{" + MMC_NAMESPACE + "}", "ra:"),
    ("{" + PROBLEM_NAMESPACE + "}", "p:"),
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_COMPILING = threading.Lock()
_ATTEMPTS = 3
_XS = "{http://www.w3.org/2001/XMLSchema}"
_REFERENCES = tuple(_XS + name for name in ("import", "include", "redefine", "override"))
_Find = Callable[[str], tuple[bytes, str] | None]  # a URL -> (its bytes, its name), or None


class SchemaInvalid(RequestRejected):
    """The document does not validate against a DUIS schema; the message names the first
    problem (answered E1001)."""

    def __init__(self, message: str) -> None:
        super().__init__(ResponseCode.SCHEMA_INVALID, message)


class SchemaUnavailable(ConfigurationError):
    """A schema could not be loaded: missing, not a schema, or referring outside its place."""


class SchemaValidator:
    """One compiled XSD and the root elements it accepts (the ``RequestValidator`` port)."""

    def __init__(self, name: str, schema: etree.XMLSchema, roots: frozenset[str]) -> None:
        self.name = name
        self.roots = roots
        self._schema = schema
        self._lock = threading.Lock()

    def validate(self, root: etree._Element) -> None:
        """Raise ``SchemaInvalid`` naming the first problem unless ``root`` is valid."""
        if root.tag not in self.roots:
            expected = " or ".join(sorted(_readable(tag) for tag in self.roots))
            found = _readable(str(root.tag))[:200]  # the document's own text: bounded
            raise SchemaInvalid(f"the document's root element is {found}, not {expected}")
        with self._lock:  # the error log lives on the schema object: one validation at a time
            if self._schema.validate(root):
                return
            problem = _first_problem(self._schema.error_log)
        raise SchemaInvalid(problem)


class OfficialSchemas:
    """The official DUIS V5.4 schemas in ``directory`` (``DUIS_Schema_V5.4.xsd`` importing
    ``MMC_Schema_V5.4.xsd`` and ``xmldsig-core-schema.xsd``), for requests and responses.

    Loaded at construction (``SchemaUnavailable`` when they cannot be) and cached per
    directory, so constructing it again is cheap.
    """

    def __init__(self, directory: str | os.PathLike[str], main: str = OFFICIAL_MAIN) -> None:
        self.directory = Path(os.path.realpath(directory))
        self._validator = _official(self.directory, main)
        self.name = self._validator.name

    def validate(self, root: etree._Element) -> None:
        """Raise ``SchemaInvalid`` naming the first problem unless ``root`` is a valid DUIS
        Request or Response."""
        self._validator.validate(root)


@cache
def own_schema() -> SchemaValidator:
    """The project's own XSD of the DUIS requests the gateway takes in."""
    return SchemaValidator(
        "s1adopt DUIS request schema",
        _own_schema("duis-request.xsd"),
        frozenset({REQUEST_ROOT}),
    )


@cache
def problem_schema() -> SchemaValidator:
    """The project's own XSD of the problem document (``responses.problem_document``)."""
    return SchemaValidator(
        "s1adopt DUIS problem schema",
        _own_schema("duis-problem-v1.xsd"),
        frozenset({PROBLEM_ROOT}),
    )


# --- loading ------------------------------------------------------------------------------------


class _Refused(Exception):
    """Raised inside libxml2's loading when a reference leaves the schema's place."""


class _ConfinedResolver(etree.Resolver):
    """Serves the documents of one place and refuses every other reference."""

    def __init__(self, find: _Find, place: str) -> None:
        super().__init__()
        self._find = find
        self.place = place
        self.refused: list[str] = []
        self.served: set[str] = set()

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:  # type: ignore[override]
        try:
            found = self._find(system_url or "")
        except (OSError, _Refused):  # unreadable, or too large: refused all the same
            found = None
        if found is None:
            self.refused.append(system_url)
            raise _Refused(system_url)
        data, base_url = found
        self.served.add(base_url)
        return self.resolve_string(data, context, base_url=base_url)


def _own_schema(name: str) -> etree.XMLSchema:
    folder = resources.files(_OWN_PACKAGE).joinpath("xsd")

    def find(url: str) -> tuple[bytes, str] | None:
        if not url.startswith(_OWN_BASE):
            return None
        file_name = url[len(_OWN_BASE) :]
        if not file_name.endswith(".xsd") or "/" in file_name or "\\" in file_name:
            return None
        entry = folder.joinpath(file_name)
        if not entry.is_file():
            return None
        return entry.read_bytes(), url

    return _load(name, find, "the package's xsd folder", _OWN_BASE + name)


@cache
def _official(directory: Path, main: str) -> SchemaValidator:
    if not (directory / main).is_file():
        raise SchemaUnavailable(f"{directory}: no {main} in the official schema directory")

    def find(url: str) -> tuple[bytes, str] | None:
        path = _inside(directory, url)
        if path is None:
            return None
        return _read_schema_file(path), str(path)

    schema = _load(main, find, str(directory), str(directory / main))
    return SchemaValidator(
        f"DUIS V5.4 official schemas ({directory})",
        schema,
        frozenset({REQUEST_ROOT, RESPONSE_ROOT}),
    )


def _inside(directory: Path, url: str) -> Path | None:
    """The file under ``directory`` that ``url`` names, or None when it names anything else."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https", "ftp"):
        # A reference by address (a DTD's system identifier): served from the local copy.
        local = directory / Path(unquote(parts.path)).name
        return local if local.is_file() else None
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            return None
        text = unquote(parts.path)
    elif parts.scheme:
        return None
    else:
        text = url
    candidate = Path(text) if os.path.isabs(text) else directory / text
    real = Path(os.path.realpath(candidate))
    if not real.is_relative_to(directory) or not real.is_file():
        return None
    return real


def _read_schema_file(path: Path) -> bytes:
    with open(path, "rb") as raw:
        data = raw.read(_SCHEMA_LIMIT + 1)
    if len(data) > _SCHEMA_LIMIT:
        raise _Refused(f"{path.name} is larger than {_SCHEMA_LIMIT:,} bytes")
    return data


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _load(main: str, find: _Find, place: str, base_url: str) -> etree.XMLSchema:
    """Check every reference of the schema documents, then compile the schema once.

    lxml hooks its resolvers into libxml2 through one process-wide loader that each parse sets
    and restores, so a parse in another thread can swap the hook out in the middle of a
    compilation. The references are therefore checked beforehand (nothing outside the place
    can be reached even then), and a compilation that did not load every referenced document
    through the confined resolver is done again.
    """
    found = _found(find, main, base_url)
    expected = _referenced(find, place, main, found)
    for _ in range(_ATTEMPTS):
        resolver = _ConfinedResolver(find, place)
        parser = _safe_parser()
        parser.resolvers.add(resolver)
        document = etree.fromstring(found[0], parser, base_url=found[1])
        failure: etree.XMLSchemaParseError | None = None
        with _COMPILING:
            try:
                schema = etree.XMLSchema(document)
            except etree.XMLSchemaParseError as exc:
                failure = exc
        if resolver.refused:
            raise _unavailable(main, resolver, "") from failure
        if expected <= resolver.served:
            if failure is not None:
                raise _unavailable(main, resolver, str(failure)) from failure
            return schema
    raise SchemaUnavailable(
        f"{main}: not every schema it refers to was loaded from {place} (a namespace imported "
        "from two locations, or lxml's loader swapped out by a concurrent parse); try again"
    )


def _found(find: _Find, main: str, url: str) -> tuple[bytes, str]:
    try:
        found = find(url)
    except (OSError, _Refused) as exc:
        raise SchemaUnavailable(f"{main}: {url} cannot be read: {exc}") from exc
    if found is None:
        raise SchemaUnavailable(f"{main}: refused to load {url!r}: not a readable file")
    return found


def _referenced(find: _Find, place: str, main: str, found: tuple[bytes, str]) -> set[str]:
    """The documents the schema loads (each by the name ``find`` gives it), checked: every
    import, include, redefine and override, DTD and external entity must lie in the place."""
    seen = {found[1]}
    loaded: set[str] = set()
    pending = [found]
    while pending:
        data, base = pending.pop()
        try:
            tree = etree.fromstring(data, _safe_parser(), base_url=base).getroottree()
        except etree.XMLSyntaxError as exc:
            raise SchemaUnavailable(f"{main}: {base} is not well-formed XML: {exc}") from exc
        outside = [*_dtd_references(tree), *_schema_references(tree)]
        for reference, is_schema in outside:
            url = _join(base, reference)
            try:
                target = find(url)
            except (OSError, _Refused):
                target = None
            if target is None:
                raise SchemaUnavailable(
                    f"{main}: refused to load {url!r}: not a readable file inside {place} "
                    "(schemas are loaded only from there, never from the network)"
                )
            if is_schema and target[1] not in seen:
                seen.add(target[1])
                loaded.add(target[1])
                pending.append(target)
    return loaded


def _schema_references(tree: etree._ElementTree) -> list[tuple[str, bool]]:
    return [
        (location, True)
        for element in tree.getroot().iter(*_REFERENCES)
        if (location := element.get("schemaLocation")) is not None
    ]


def _dtd_references(tree: etree._ElementTree) -> list[tuple[str, bool]]:
    """The external subset and the external entities a document's DOCTYPE names."""
    dtd: Any = tree.docinfo.internalDTD
    if dtd is None:
        return []
    found = [(dtd.system_url, False)] if dtd.system_url else []
    found += [(entity.system_url, False) for entity in dtd.iterentities() if entity.system_url]
    return found


def _join(base: str, reference: str) -> str:
    """``reference`` read against the document at ``base``, as libxml2 does for paths."""
    if urlsplit(reference).scheme or reference.startswith("/"):
        return reference
    return base.rpartition("/")[0] + "/" + reference


def _unavailable(main: str, resolver: _ConfinedResolver, problem: str) -> SchemaUnavailable:
    if resolver.refused:
        return SchemaUnavailable(
            f"{main}: refused to load {resolver.refused[0]!r}: not a readable file inside "
            f"{resolver.place} (schemas are loaded only from there, never from the network)"
        )
    return SchemaUnavailable(f"{main} in {resolver.place} is not a usable XML schema: {problem}")


# --- messages -----------------------------------------------------------------------------------


def _first_problem(log: Any) -> str:
    """The first error of a validation log, as a line and a message without namespace URIs."""
    errors = log.filter_from_errors()
    if not errors:
        return "the document does not validate"
    entry = errors[0]
    message = _readable(str(entry.message).strip())
    if len(message) > _MESSAGE_LIMIT:  # libxml2 quotes whole values, however long
        message = message[:_MESSAGE_LIMIT] + "..."
    return f"line {entry.line}: {message}" if entry.line else message


def _readable(text: str) -> str:
    """``text`` with the DUIS namespace URIs written as their usual prefixes (another namespace
    stays as the document gives it) and no control characters."""
    for uri, prefix in _PREFIXES:
        text = text.replace(uri, prefix)
    return _CONTROL.sub(" ", text)
