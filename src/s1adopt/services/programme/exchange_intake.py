"""Taking in the files parties put in the exchange, each acknowledged or rejected.

Rules:
- every file in an inbox is answered in the sender's outbox: ``ACK_<name>.xml`` when taken
  in, ``NACK_<name>.xml`` naming each fault when not; a file already answered is not taken in
  again (it is recognised by its name and SHA-256), and the same content sent again under
  another name is refused as a duplicate, so nothing is applied twice;
- files are taken in by the date and time in their names, and on one date registration data
  first, then demand, authorisations and migration data, so that authorisations are checked
  against the registration data of their day;
- the name must be valid for the kind of file and carry the sender's own EUI-64 (the owner of
  the inbox); a party sends only the kinds parties send, and only those of its role:
  registration data from a registration data provider (while none is known, the first file
  must name its sender as one: trust on first use), demand and authorisations from a supplier,
  migration data from an SMSO about its own installations;
- an authorisation archive waits, unanswered, until its password file has arrived;
- each file's effect and its record are committed together (the migration data intake is
  idempotent by digest), and the answer is written after the commit: a crash in between is
  mended by the next run, which writes the missing answer from the record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from s1adopt.domain.errors import (
    ExchangeFileRejected,
    InvalidIdentity,
    MigrationFileRejected,
)
from s1adopt.domain.identities import Eui64
from s1adopt.domain.parties import Role
from s1adopt.formats.exchange.acknowledgement import acknowledgement_name, write_acknowledgement
from s1adopt.formats.exchange.authorisation import (
    AuthorisationResponse,
    authorisation_response_name,
    open_authorisation,
    password_name_for,
    read_password,
    write_authorisation_response,
)
from s1adopt.formats.exchange.demand import read_demand
from s1adopt.formats.exchange.names import ExchangeName, FileKind, parse_name
from s1adopt.services.intake import IntakeResult, file_digest
from s1adopt.services.ports import Clock, Exchange, InboxFile, UnitOfWork, UnitOfWorkFactory
from s1adopt.services.programme.authorise import authorise_request
from s1adopt.services.programme.capacity import ProgrammeRules, take_in_demand
from s1adopt.services.programme.registration import declares_provider, load_registration

_ORDER = {
    FileKind.REGISTRATION: 0,
    FileKind.DEMAND: 1,
    FileKind.AUTHORISATION_PASSWORD: 2,
    FileKind.AUTHORISATION: 3,
    FileKind.MIGRATION_DATA: 4,
}
UNKNOWN_KIND = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class FileAnswer:
    """How one file was answered."""

    sender: str
    name: str
    kind: str
    accepted: bool
    summary: str
    faults: tuple[tuple[str, str], ...] = ()


@dataclass
class ExchangeIntake:
    """Takes in every new file of the exchange (see the module rules)."""

    uow_factory: UnitOfWorkFactory
    exchange: Exchange
    clock: Clock
    migration_intake: Callable[..., IntakeResult]  # (path, sender=EUI-64)
    rules: ProgrammeRules
    max_bytes: int

    def take_in_all(self) -> list[FileAnswer]:
        """Answer every file not answered yet, in order; the answers given now."""
        files = self.exchange.inbox()
        names = {(f.sender, f.name) for f in files}
        answers: list[FileAnswer] = []
        for item in sorted(files, key=_order):
            answer = self._take_in(item, names)
            if answer is not None:
                answers.append(answer)
        return answers

    def _take_in(self, item: InboxFile, names: set[tuple[str, str]]) -> FileAnswer | None:
        try:
            digest = file_digest(item.path, ExchangeFileRejected)
        except ExchangeFileRejected:
            return None  # vanished or unreadable now: seen again on the next run
        parsed: ExchangeName | None = None
        try:
            parsed = parse_name(item.name)
            kind = parsed.kind.value
        except ExchangeFileRejected as exc:
            kind, bad_name = UNKNOWN_KIND, exc
        with self.uow_factory() as uow:
            known = uow.programme.file_seen(digest, kind, item.name)
            earlier = uow.programme.file_seen(digest, kind) if known is None else None
        if known is not None:
            self._write_answer(item, digest, known.accepted, known.summary, [])
            return None
        if parsed is None:
            return self._answer(item, digest, kind, False, str(bad_name), bad_name.faults)
        if earlier is not None:
            problem = f"the same file was taken in as {earlier.name}; it is not applied twice"
            return self._answer(item, digest, kind, False, problem, [("file", problem)])
        refusal = self._refusal(item, parsed)
        if refusal is not None:
            return self._answer(item, digest, kind, False, refusal, [("name", refusal)])
        if parsed.kind is FileKind.AUTHORISATION_PASSWORD:
            return None  # answered together with its archive
        if parsed.kind is FileKind.AUTHORISATION:
            if (item.sender, password_name_for(item.name)) not in names:
                return None  # its password has not arrived yet
            return self._authorisation(item, digest, parsed)
        try:
            summary = self._apply(item, digest, parsed)
        except (ExchangeFileRejected, MigrationFileRejected) as exc:
            faults = getattr(exc, "faults", [("file", str(exc))])
            return self._answer(item, digest, kind, False, str(exc), faults)
        return self._answer(item, digest, kind, True, summary, [])

    @staticmethod
    def _refusal(item: InboxFile, parsed: ExchangeName) -> str | None:
        if parsed.kind not in _ORDER:
            return f"{parsed.kind.value} files are sent by DCC, not to it"
        try:
            owner = Eui64.parse(item.sender)
        except InvalidIdentity:
            return f"the inbox {item.sender!r} is not named by an EUI-64"
        if parsed.party != owner:
            return f"the name carries {parsed.party}, but the file came from {owner}'s inbox"
        return None

    def _apply(self, item: InboxFile, digest: str, parsed: ExchangeName) -> str:
        """Take in a registration, demand or migration data file; the summary. Registration
        and demand are recorded in their own transaction; migration data afterwards."""
        if parsed.kind is FileKind.REGISTRATION:
            self._check_provider(item, parsed)
            load = load_registration(
                item.path, self.uow_factory, self.clock, self.max_bytes, item.sender
            )
            return f"{load.parties:,} parties and {load.records:,} registrations taken in"
        if parsed.kind is FileKind.DEMAND:
            demand = read_demand(item.path, self.max_bytes)
            with self.uow_factory() as uow:
                summary = take_in_demand(uow, demand, self.rules)
                self._record(uow, item, digest, parsed.kind.value, True, summary, [])
                uow.commit()
            return summary
        self._check_role(parsed.party, Role.SMSO, "migration data")
        result = self.migration_intake(item.path, sender=parsed.party)
        return (
            f"batch {result.batch_id}: {result.installations:,} installations, "
            f"{result.validated:,} valid, {result.failed:,} failed Data Validation, "
            f"{result.refused:,} refused"
        )

    def _check_role(self, party: Eui64, role: Role, what: str) -> None:
        """Only a known party holding ``role`` sends ``what``."""
        with self.uow_factory() as uow:
            known = uow.programme.party(party)
        if known is None or role not in known.roles:
            why = "is not a known party" if known is None else f"does not hold the {role} role"
            raise ExchangeFileRejected(
                f"{party} {why}; only {role.name.lower().replace('_', ' ')}s send {what}",
                [("name", f"{party} {why}")],
            )

    def _check_provider(self, item: InboxFile, parsed: ExchangeName) -> None:
        """Registration data comes from a registration data provider: a known one, or, while
        none is known (the first file), one that names itself so in its own parties (trust
        on first use, recorded like any other file)."""
        with self.uow_factory() as uow:
            providers = [
                p.eui for p in uow.programme.parties() if Role.REGISTRATION_DATA_PROVIDER in p.roles
            ]
        if providers:
            self._check_role(parsed.party, Role.REGISTRATION_DATA_PROVIDER, "registration data")
            return
        if not declares_provider(item.path, parsed.party, self.max_bytes):
            raise ExchangeFileRejected(
                f"{parsed.party} is not a known registration data provider",
                [("name", "the first registration file must list its sender as a provider")],
            )

    def _authorisation(
        self, item: InboxFile, digest: str, parsed: ExchangeName
    ) -> FileAnswer | None:
        password_path = item.path.with_name(password_name_for(item.name))
        password_digest = file_digest(password_path, ExchangeFileRejected)
        try:
            password = read_password(password_path)
            request = open_authorisation(item.path, password, self.max_bytes)
            if request.party != parsed.party:
                raise ExchangeFileRejected(
                    "the archive's party differs from its name's",
                    [("header", f"{request.party} is not {parsed.party}")],
                )
        except ExchangeFileRejected as exc:
            self._answer(
                InboxFile(item.sender, password_path.name, password_path),
                password_digest,
                FileKind.AUTHORISATION_PASSWORD.value,
                False,
                f"its archive {item.name} was refused",
                [("archive", str(exc))],
            )
            return self._answer(item, digest, parsed.kind.value, False, str(exc), exc.faults)
        now = self.clock.now()
        with self.uow_factory() as uow:
            file_id = self._record(uow, item, digest, parsed.kind.value, True, "", [])
            outcomes = authorise_request(uow, request, file_id, now.date(), now)
            accepted = sum(1 for o in outcomes if o.accepted)
            summary = (
                f"{accepted:,} of {len(outcomes):,} installations authorised; "
                f"{len(outcomes) - accepted:,} refused (see the MR response)"
            )
            uow.programme.set_file_summary(file_id, summary)
            self._record(
                uow,
                InboxFile(item.sender, password_path.name, password_path),
                password_digest,
                FileKind.AUTHORISATION_PASSWORD.value,
                True,
                f"password of {item.name}",
                [],
            )
            # The response is written before the commit: if the process dies in between, the
            # archive is taken in again and the same response written again.
            response = AuthorisationResponse(
                request.reference, request.party, now.date(), tuple(outcomes)
            )
            outbox = self.exchange.outbox(item.sender)
            write_authorisation_response(outbox / authorisation_response_name(response), response)
            uow.commit()
        self._write_answer(
            InboxFile(item.sender, password_path.name, password_path),
            password_digest,
            True,
            f"password of {item.name}",
            [],
        )
        return self._reply(item, digest, parsed.kind.value, True, summary, [])

    def _record(
        self,
        uow: UnitOfWork,
        item: InboxFile,
        digest: str,
        kind: str,
        accepted: bool,
        summary: str,
        faults: list[tuple[str, str]],
    ) -> int:
        return uow.programme.record_file(
            digest, item.name, kind, item.sender, self.clock.now(), accepted, summary, faults
        )

    def _answer(
        self,
        item: InboxFile,
        digest: str,
        kind: str,
        accepted: bool,
        summary: str,
        faults: list[tuple[str, str]],
    ) -> FileAnswer:
        """Record the answer in its own transaction, then write it."""
        with self.uow_factory() as uow:
            if uow.programme.file_seen(digest, kind, item.name) is None:
                self._record(uow, item, digest, kind, accepted, summary, faults)
                uow.commit()
        return self._reply(item, digest, kind, accepted, summary, faults)

    def _reply(
        self,
        item: InboxFile,
        digest: str,
        kind: str,
        accepted: bool,
        summary: str,
        faults: list[tuple[str, str]],
    ) -> FileAnswer:
        self._write_answer(item, digest, accepted, summary, faults)
        return FileAnswer(item.sender, item.name, kind, accepted, summary, tuple(faults))

    def _write_answer(
        self,
        item: InboxFile,
        digest: str,
        accepted: bool,
        summary: str,
        faults: list[tuple[str, str]],
    ) -> None:
        outbox = self.exchange.outbox(item.sender)
        if (outbox / acknowledgement_name(item.name, accepted)).exists():
            return
        try:
            sender: Eui64 | None = Eui64.parse(item.sender)
        except InvalidIdentity:
            sender = None
        if not accepted and not faults:
            faults = [("file", summary or "refused")]
        write_acknowledgement(
            outbox,
            item.name,
            digest,
            sender,
            self.clock.now(),
            accepted,
            summary,
            [] if accepted else faults,
        )


def _order(item: InboxFile) -> tuple[str, str, int, str]:
    """By the name's date and time, then kind (registration first), then name."""
    try:
        parsed = parse_name(item.name)
    except ExchangeFileRejected:
        return ("00000000", "000000", -1, item.name)
    day = parsed.day.strftime("%Y%m%d")
    at = parsed.time.strftime("%H%M%S") if parsed.time else "000000"
    return (day, "000000" if parsed.kind in _ORDER else at, _ORDER.get(parsed.kind, 9), item.name)
