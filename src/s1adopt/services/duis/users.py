"""DUIS users: parties with their XML-signing certificates and their response endpoint.

Rules:
- a user is a party (EUI-64, short code, roles, status) as the registration data knows it, or
  added here; adding roles to a known party keeps the roles it had;
- a certificate is accepted only for the user it names (its subject's EUI-64) and only with an
  ECDSA P-256 key; it is found later by its issuer and serial;
- the endpoint, where asynchronous responses and alerts go, is an http(s) URL;
- a suspended user's requests are refused (E3) until it is activated again.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from s1adopt.domain.duis import MAX_SERIAL_DIGITS
from s1adopt.domain.errors import InvalidRequest, NotFound
from s1adopt.domain.identities import Eui64
from s1adopt.domain.parties import Party, PartyStatus, Role
from s1adopt.formats.duis.certificates import (
    CertificateError,
    certificate_eui,
    issuer_name,
    load_certificate,
)
from s1adopt.services.duis.ports import UserCertificate
from s1adopt.services.ports import Clock, UnitOfWorkFactory

MAX_ENDPOINT = 512


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as ``users list`` shows it."""

    party: Party
    endpoint: str | None
    certificates: tuple[tuple[str, int], ...]  # (issuer, serial)


def check_endpoint(endpoint: str | None) -> str | None:
    """``endpoint`` if it is an http(s) URL with a host (``InvalidRequest`` otherwise)."""
    if endpoint is None or endpoint == "":
        return None
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(endpoint) > MAX_ENDPOINT:
        raise InvalidRequest(
            f"endpoint {endpoint[:80]!r} is not an http(s) URL with a host, e.g. "
            "https://supplier.example/duis/responses"
        )
    return endpoint


def add_user(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    eui: Eui64,
    roles: frozenset[Role],
    certificate_pem: bytes,
    endpoint: str | None = None,
    name: str | None = None,
    short_code: str | None = None,
) -> UserView:
    """Add (or extend) a user with a certificate (see the module rules)."""
    if not roles:
        raise InvalidRequest("a user needs at least one role (--role IS, ES, GS, ED, GT, OU, RSA)")
    endpoint = check_endpoint(endpoint)
    try:
        cert = load_certificate(certificate_pem)
        holder = certificate_eui(cert)
    except CertificateError as exc:
        raise InvalidRequest(str(exc)) from exc
    if holder != eui:
        raise InvalidRequest(f"the certificate belongs to {holder}, not to {eui}")
    if len(str(cert.serial_number)) > MAX_SERIAL_DIGITS:
        raise InvalidRequest(
            f"the certificate's serial number has more than {MAX_SERIAL_DIGITS} digits "
            "(RFC 5280 allows 20 octets): ask its issuer for a conforming certificate"
        )
    stored = UserCertificate(issuer_name(cert), cert.serial_number, eui, certificate_pem.decode())
    now = clock.now()
    with uow_factory() as uow:
        known = uow.programme.party(eui)
        party = Party(
            eui,
            short_code or (known.short_code if known else _short_code(eui)),
            name or (known.name if known else f"User {eui}"),
            roles | (known.roles if known else frozenset()),
            known.status if known else PartyStatus.ACTIVE,
        )
        uow.programme.upsert_parties([party], now)
        uow.duis.add_certificate(stored, now)
        if endpoint is not None:
            uow.duis.set_endpoint(eui, endpoint)
        uow.commit()
    return _view(uow_factory, eui)


def set_status(uow_factory: UnitOfWorkFactory, clock: Clock, eui: Eui64, active: bool) -> UserView:
    """Suspend or activate a user."""
    with uow_factory() as uow:
        party = uow.programme.party(eui)
        if party is None:
            raise NotFound(f"{eui} is not a user (add it with `s1adopt users add`)")
        status = PartyStatus.ACTIVE if active else PartyStatus.SUSPENDED
        uow.programme.upsert_parties(
            [Party(party.eui, party.short_code, party.name, party.roles, status)], clock.now()
        )
        uow.commit()
    return _view(uow_factory, eui)


def list_users(uow_factory: UnitOfWorkFactory) -> list[UserView]:
    """Every party holding a DUIS user role or a certificate."""
    duis_roles = {
        Role.IMPORT_SUPPLIER,
        Role.EXPORT_SUPPLIER,
        Role.GAS_SUPPLIER,
        Role.ELECTRICITY_DISTRIBUTOR,
        Role.GAS_TRANSPORTER,
        Role.OTHER_USER,
        Role.REGISTERED_SUPPLIER_AGENT,
    }
    with uow_factory() as uow:
        views = []
        for party in uow.programme.parties():
            certs = uow.duis.certificates_of(party.eui)
            if certs or party.roles & duis_roles:
                views.append(
                    UserView(
                        party,
                        uow.duis.endpoint_of(party.eui),
                        tuple((c.issuer, c.serial) for c in certs),
                    )
                )
    return views


def _view(uow_factory: UnitOfWorkFactory, eui: Eui64) -> UserView:
    with uow_factory() as uow:
        party = uow.programme.party(eui)
        assert party is not None
        certs = uow.duis.certificates_of(eui)
        return UserView(
            party, uow.duis.endpoint_of(eui), tuple((c.issuer, c.serial) for c in certs)
        )


def _short_code(eui: Eui64) -> str:
    return "U" + eui.value.replace("-", "")[-8:]
