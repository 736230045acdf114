"""The S1SP at work: queued device commands carried out through their SMSO's head end.

Rules:
- one queue per head end (``device_command`` rows by SMSO), one worker task per head end:
  a slow or dead SMSO holds up only its own queue. A worker keeps at most ``in_flight``
  commands going at once; the adapter limits them further to the head end's sessions;
- a device's commands are carried out one at a time, in the order they fell due (a tariff
  update before the read that follows it); different devices' go side by side, and
  ``in_flight`` counts devices at work, so a device with a backlog holds up no other;
- a command is marked sent (committed) before anything reaches the device; its end, its
  signed response in the outbox and its credential bookkeeping are committed together, in
  batches, by one committer;
- every command gets its final response within ``deadline`` seconds of its due time: a
  command still waiting or unanswered by then is answered E21 (E30 if it was future-dated)
  and the S1SP raises an alert to the user (``S1SP_COMMAND_TIMED_OUT``); a head end that
  cannot be reached answers E20;
- critical commands go to the device only with a valid DCO countersignature;
- credential replacements (6.15.1, 6.23) store the new credential sealed (committed) before
  the device gets it, and promote it once the device has it; a change of supplier records
  the new supplier as the holder and tells the previous one (``S1SP_COS_CREDENTIALS_REPLACED``);
- an activated firmware (11.3) becomes the device's firmware in the inventory;
- a firmware transfer (11.1) is reported by an S1SP alert (``S1SP_FIRMWARE_TRANSFERRED`` or
  ``S1SP_FIRMWARE_TRANSFER_FAILED``), not by an MMC response;
- after a crash, commands left sent are resolved before anything else: a repeatable one is
  queued again; a credential replacement is settled by asking the device which credential
  it accepts; any other is answered E20 as of unknown outcome, with an S1SP alert, and never
  carried out twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from s1adopt.domain.device_models import model_for
from s1adopt.domain.devices import CredentialPurpose, DeviceType
from s1adopt.domain.duis import ResponseCode
from s1adopt.domain.equivalent_steps import (
    PlannedStep,
    StepInputs,
    StepsRefused,
    StepTarget,
    steps_for,
)
from s1adopt.domain.errors import (
    CommandRejected,
    CredentialError,
    DeviceAuthenticationFailed,
    DeviceUnreachable,
    HanFailure,
    HeadEndError,
    HeadEndUnavailable,
    OperationNotSupported,
    ProtocolViolation,
)
from s1adopt.domain.identities import Eui64
from s1adopt.domain.operations import DeviceOperation
from s1adopt.domain.secrets import Secret
from s1adopt.domain.srv import lookup
from s1adopt.formats.duis import mmc, smets1
from s1adopt.services.duis.answers import FailureCode, ResponseFactory
from s1adopt.services.duis.dco import DualControl
from s1adopt.services.duis.device_ports import (
    Command,
    CredentialChange,
    Finished,
    Outgoing,
)
from s1adopt.services.ports import (
    Clock,
    CredentialVault,
    HeadEnd,
    HeadEndDirectory,
    UnitOfWorkFactory,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
WAITING_FACTOR = 8  # commands a worker may hold waiting for their device, per in_flight

TIMED_OUT_ALERT = "S1SP_COMMAND_TIMED_OUT"
UNKNOWN_OUTCOME_ALERT = "S1SP_OUTCOME_UNKNOWN"
COS_ALERT = "S1SP_COS_CREDENTIALS_REPLACED"
FIRMWARE_TRANSFERRED = "S1SP_FIRMWARE_TRANSFERRED"
FIRMWARE_TRANSFER_FAILED = "S1SP_FIRMWARE_TRANSFER_FAILED"
UPDATE_FIRMWARE = "11.1"  # a non-device request carried out on each device it names
ACTIVATE_FIRMWARE = "11.3"
CREDENTIAL_SRVS = frozenset({"6.15.1", "6.23"})
CHANGE_OF_SUPPLIER = "6.23"

_FAILURES: dict[type[HeadEndError], FailureCode] = {
    OperationNotSupported: FailureCode.NOT_SUPPORTED,
    CommandRejected: FailureCode.REJECTED,
    DeviceAuthenticationFailed: FailureCode.AUTHENTICATION,
    HanFailure: FailureCode.HAN,
    ProtocolViolation: FailureCode.GARBLED,
}


@dataclass(frozen=True, slots=True)
class DeviceServiceSettings:
    """How the device service works its queues."""

    deadline: float = 45.0  # seconds from a command's due time to its final response
    in_flight: int = 64  # commands one head end's worker has going at once
    poll_interval: float = 0.02  # seconds between looks at an idle queue
    commit_batch: int = 256  # command ends committed at once, at most


@dataclass
class Outcome:
    """What became of one command, ready to be committed."""

    command: Command
    code: str
    outcome: str
    documents: list[Outgoing] = field(default_factory=list)
    credential: CredentialChange | None = None
    answered_at: datetime | None = None
    firmware: str | None = None  # the firmware the device now runs (11.3), for the inventory


class _Refused(Exception):
    """A step failed at the device (or at the S1SP): answered with a failure payload."""

    def __init__(self, position: int, code: FailureCode, message: str) -> None:
        super().__init__(message)
        self.position, self.code = position, code


class _NoAnswer(Exception):
    """The device gave no answer: E20 or E21."""

    def __init__(self, code: ResponseCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class DeviceService:
    """Carries out the queued device commands (see the module rules)."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        headends: HeadEndDirectory,
        vault: CredentialVault,
        answers: ResponseFactory,
        dco: DualControl,
        settings: DeviceServiceSettings | None = None,
    ) -> None:
        self._uow_factory, self._clock = uow_factory, clock
        self._headends, self._vault = headends, vault
        self._answers, self._dco = answers, dco
        self._settings = settings or DeviceServiceSettings()
        self._done: asyncio.Queue[Outcome] | None = None
        self._installed: dict[int, Secret] = {}  # command id -> credential the device took

    # --- running ---------------------------------------------------------------------------------

    async def run(self, smsos: Sequence[Eui64], stop: asyncio.Event) -> None:
        """Work the queues of these SMSOs until ``stop`` is set (recovering first)."""
        await self.recover()
        self._done = asyncio.Queue()
        committer = asyncio.create_task(self._commit_loop(stop))
        workers = {smso: asyncio.create_task(self._worker(smso, stop)) for smso in smsos}
        try:
            while not stop.is_set():  # a queue of an SMSO without a known head end gets a
                # worker too: its commands are answered (E20), never left waiting
                try:
                    queued = await self._db(self._queued_smsos)
                except Exception:
                    log.exception("looking for queues failed")
                    queued = []
                for smso in queued:
                    if smso not in workers:
                        workers[smso] = asyncio.create_task(self._worker(smso, stop))
                await _sleep_or_stop(stop, 1.0)
        finally:
            for task in workers.values():
                task.cancel()
            for task in workers.values():
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._flush()
            committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await committer

    async def drain(self, smsos: Sequence[Eui64], limit: int = 10_000) -> int:
        """Carry out every command due now, queue by queue, and commit them; how many
        (for tests and one-shot runs)."""
        total = 0
        for smso in smsos:
            while total < limit:
                commands = await self._db(partial(self._claim_due, smso, self._settings.in_flight))
                if not commands:
                    break
                by_device: dict[Eui64, list[Command]] = {}
                for command in commands:  # claimed in due order
                    by_device.setdefault(command.device_id, []).append(command)
                ends = await asyncio.gather(*(self._one_by_one(c) for c in by_device.values()))
                await self._db(partial(self._commit, [o for end in ends for o in end]))
                total += len(commands)
        return total

    async def _one_by_one(self, commands: Sequence[Command]) -> list[Outcome]:
        return [await self.carry_out(command) for command in commands]

    async def _worker(self, smso: Eui64, stop: asyncio.Event) -> None:
        running: set[asyncio.Task[None]] = set()
        last: dict[Eui64, asyncio.Task[None]] = {}  # each device's latest command
        limit = self._settings.in_flight
        while not stop.is_set():
            # room counts devices at work, not commands: those waiting behind their device's
            # previous command take no head-end session, so a device with a backlog does not
            # hold up the others (bounded: at most ``WAITING_FACTOR`` x in_flight held)
            room = min(limit - len(last), WAITING_FACTOR * limit - len(running))
            claimed: list[Command] = []
            if room > 0:
                try:
                    claimed = await self._db(partial(self._claim_due, smso, room))
                except Exception:  # the store hiccupped: try again shortly
                    log.exception("claiming commands of %s failed", smso)
            for command in claimed:  # in due order: each after its device's previous one
                before = last.get(command.device_id)
                task = asyncio.create_task(self._carry_and_queue(command, before))
                running.add(task)
                last[command.device_id] = task
            if not running:
                await _sleep_or_stop(stop, self._settings.poll_interval)
                continue
            done, _ = await asyncio.wait(
                running,
                timeout=self._settings.poll_interval,
                return_when=asyncio.FIRST_COMPLETED,
            )
            running -= done
            for device in [d for d, task in last.items() if task.done()]:
                del last[device]
        for task in running:
            task.cancel()

    async def _carry_and_queue(
        self, command: Command, before: asyncio.Task[None] | None = None
    ) -> None:
        if before is not None:
            await asyncio.wait({before})  # its device's previous command, however it ended
        outcome = await self.carry_out(command)
        assert self._done is not None
        await self._done.put(outcome)

    async def _commit_loop(self, stop: asyncio.Event) -> None:
        assert self._done is not None
        while True:
            batch = [await self._done.get()]
            while len(batch) < self._settings.commit_batch and not self._done.empty():
                batch.append(self._done.get_nowait())
            try:
                await self._db(partial(self._commit, batch))
            except Exception:
                log.exception("committing %d command ends failed; retrying", len(batch))
                await asyncio.sleep(0.5)
                for outcome in batch:
                    await self._done.put(outcome)

    async def _flush(self) -> None:
        if self._done is None:
            return
        batch: list[Outcome] = []
        while not self._done.empty():
            batch.append(self._done.get_nowait())
        if batch:
            await self._db(lambda: self._commit(batch))

    # --- recovery --------------------------------------------------------------------------------

    async def recover(self) -> dict[str, int]:
        """Resolve commands a crashed run left sent (see the module rules); counts by fate."""
        left = await self._db(self._sent_commands)
        counts = {"requeued": 0, "settled": 0, "unknown": 0}
        requeue: list[int] = []
        outcomes: list[Outcome] = []
        for command in left:
            row = steps_for(command.srv)
            if row is not None and row.repeatable:
                requeue.append(command.id)
                counts["requeued"] += 1
            elif command.srv in CREDENTIAL_SRVS:
                settled = await self._settle_credential(command)
                if settled is None:
                    requeue.append(command.id)
                    counts["requeued"] += 1
                else:
                    outcomes.append(settled)
                    counts["settled"] += 1
            else:
                outcomes.append(self._unknown(command))
                counts["unknown"] += 1
        if requeue or outcomes:
            await self._db(lambda: self._requeue_and_commit(requeue, outcomes))
        return counts

    def _requeue_and_commit(self, requeue: list[int], outcomes: list[Outcome]) -> None:
        with self._uow_factory() as uow:
            uow.devices.requeue(requeue)
            uow.commit()
        self._commit(outcomes)

    async def _settle_credential(self, command: Command) -> Outcome | None:
        """Find out whether a replacement left sent reached the device: no pending credential
        stored means it was never sent; the device taking the pending one means it was
        installed; the device taking its DCC credential means it was not. None: queue it
        again (it certainly did not happen)."""
        pending = self._credential(command, command.device_id, CredentialPurpose.DCC_PENDING)
        if pending is None:
            return None
        headend = self._headends.for_smso(command.smso)
        if headend is None:
            return self._unknown(command)
        for credential, installed in (
            (pending, True),
            (self._credential(command, command.device_id, CredentialPurpose.DCC), False),
        ):
            if credential is None:
                continue
            try:
                await headend.read_identity(command.device_id, credential)
            except HeadEndError:
                continue
            if not installed:
                return None
            return self._credential_done(
                command, self._render(command), [{"replaced": True}], pending
            )
        return self._unknown(command)

    def _unknown(self, command: Command) -> Outcome:
        now = self._clock.now()
        message = (
            "the service stopped while the device was being asked; whether the device carried "
            "it out is unknown and it is not sent again: read the device to find out"
        )
        return self._no_answer(command, ResponseCode.COMMUNICATIONS_FAILURE, message, now, True)

    # --- carrying out one command ----------------------------------------------------------------

    async def carry_out(self, command: Command) -> Outcome:
        """Carry out one command and build its signed response (never raises)."""
        now = self._clock.now()
        left = self._settings.deadline - (now - command.due_at).total_seconds()
        try:
            if left <= 0:
                raise TimeoutError
            return await asyncio.wait_for(self._carry_out(command), timeout=left)
        except TimeoutError:
            message = (
                f"no final answer within {self._settings.deadline:g} s of its due time "
                f"(head end of SMSO {command.smso} busy or not answering)"
            )
            code = (
                ResponseCode.FUTURE_DATED_TIMED_OUT
                if command.future_dated
                else ResponseCode.NO_RESPONSE
            )
            return self._no_answer(command, code, message, self._clock.now(), False)
        except Exception as exc:  # a bug must not lose the command: answer it
            log.exception("command %s failed unexpectedly", command.id)
            return self._no_answer(
                command,
                ResponseCode.COMMUNICATIONS_FAILURE,
                f"the S1SP failed: {exc.__class__.__name__}",
                self._clock.now(),
                True,
            )

    async def _carry_out(self, command: Command) -> Outcome:
        row = steps_for(command.srv)
        render = self._render(command)
        if row is None:
            return self._failed(command, render, 1, FailureCode.UNMAPPABLE, "no Equivalent Steps")
        srv = lookup(command.srv)
        if (
            srv is not None
            and srv.critical
            and not self._dco.verify(
                command.request_id or "",
                command.device_id,
                command.srv,
                command.values,
                command.dco_signature,
            )
        ):
            return self._failed(
                command,
                render,
                1,
                FailureCode.DCO,
                "no valid DCO countersignature: the command was not sent to the device",
            )
        try:
            steps = row.plan(command.values, self._inputs(command))
        except (StepsRefused, KeyError, ValueError, TypeError) as exc:
            return self._failed(command, render, 1, FailureCode.REJECTED, f"{exc}")
        headend = self._headends.for_smso(command.smso)
        if headend is None:
            return self._no_answer(
                command,
                ResponseCode.COMMUNICATIONS_FAILURE,
                f"no head end is known for SMSO {command.smso}",
                self._clock.now(),
                True,
            )
        try:
            answers = await self._steps(command, steps, headend)
        except _Refused as exc:
            self._installed.pop(command.id, None)
            if command.srv == UPDATE_FIRMWARE:
                return self._firmware_report(command, False, str(exc), ResponseCode.SUCCESS)
            return self._failed(command, render, exc.position, exc.code, str(exc))
        except _NoAnswer as exc:
            self._installed.pop(command.id, None)
            if command.srv == UPDATE_FIRMWARE:
                return self._firmware_report(command, False, str(exc), exc.code)
            code = (
                ResponseCode.FUTURE_DATED_TIMED_OUT
                if command.future_dated and exc.code is ResponseCode.NO_RESPONSE
                else exc.code
            )
            return self._no_answer(command, code, str(exc), self._clock.now(), True)
        installed = self._installed.pop(command.id, None)
        if installed is not None:
            return self._credential_done(command, render, answers, installed)
        if command.srv == UPDATE_FIRMWARE:
            version = command.values.get("version")
            message = (
                f"firmware {version} transferred to {command.device_id}; activate it with 11.3"
            )
            return self._firmware_report(command, True, message, ResponseCode.SUCCESS)
        outcome = self._answered(command, render, row.merge(command.values, answers))
        if command.srv == ACTIVATE_FIRMWARE:
            outcome.firmware = str(command.values.get("version", "")) or None
        return outcome

    def _firmware_report(
        self, command: Command, transferred: bool, message: str, code: ResponseCode
    ) -> Outcome:
        """A firmware transfer (11.1) is reported to the user by an S1SP alert."""
        now = self._clock.now()
        alert = self._answers.s1sp_alert(
            command.originator,
            command.id,
            FIRMWARE_TRANSFERRED if transferred else FIRMWARE_TRANSFER_FAILED,
            now,
            request_id=command.request_id,
            device=command.device_id,
            information=message,
        )
        reference = f"firmware:{command.id}"
        return Outcome(
            command,
            code.value,
            message,
            [Outgoing(command.originator, "alert", reference, "I0", alert, command.id)],
            answered_at=now,
        )

    async def _steps(
        self, command: Command, steps: Sequence[PlannedStep], headend: HeadEnd
    ) -> list[dict[str, Any]]:
        answers: list[dict[str, Any]] = []
        for position, step in enumerate(steps, start=1):
            device = self._step_device(command, step)
            credential = self._credential(command, device, CredentialPurpose.DCC)
            if credential is None:
                raise _Refused(
                    position, FailureCode.AUTHENTICATION, f"no DCC credential is held for {device}"
                )
            try:
                if step.operation is DeviceOperation.REPLACE_CREDENTIAL:
                    answers.append(await self._replace(command, device, credential, headend))
                else:
                    answers.append(await self._execute(command, device, credential, step, headend))
            except DeviceUnreachable as exc:
                raise _NoAnswer(ResponseCode.NO_RESPONSE, str(exc)) from exc
            except HeadEndUnavailable as exc:
                raise _NoAnswer(ResponseCode.COMMUNICATIONS_FAILURE, str(exc)) from exc
            except HeadEndError as exc:
                code = _FAILURES.get(type(exc), FailureCode.REJECTED)
                raise _Refused(position, code, str(exc)) from exc
        return answers

    async def _execute(
        self,
        command: Command,
        device: Eui64,
        credential: Secret,
        step: PlannedStep,
        headend: HeadEnd,
    ) -> dict[str, Any]:
        """One operation; a device that refuses the DCC credential while a replacement was
        left unconfirmed (the service stopped, or the answer was lost) is tried with the
        pending one, which then becomes its DCC credential."""
        try:
            return await headend.execute(device, credential, step.operation, step.params)
        except DeviceAuthenticationFailed:
            if device != command.device_id:
                raise
            pending = self._credential(command, device, CredentialPurpose.DCC_PENDING)
            if pending is None:
                raise
            answer = await headend.execute(device, pending, step.operation, step.params)
            self._installed[command.id] = pending
            return answer

    async def _replace(
        self, command: Command, device: Eui64, current: Secret, headend: HeadEnd
    ) -> dict[str, Any]:
        """Install a new DCC credential: stored sealed (committed) first, then sent."""
        new = self._vault.new_credential()
        sealed = self._vault.seal(device, CredentialPurpose.DCC_PENDING, new)
        now = self._clock.now()

        def store() -> None:
            with self._uow_factory() as uow:
                uow.devices.store_credential(device, CredentialPurpose.DCC_PENDING, sealed, now)
                uow.commit()

        await self._db(store)
        await headend.replace_credential(device, current, new)
        self._installed[command.id] = new
        return {"replaced": True}

    # --- building outcomes -----------------------------------------------------------------------

    def _render(self, command: Command) -> mmc.RenderContext:
        context = command.context
        model = model_for(
            str(context.get("deviceType", "")),
            str(context.get("manufacturer", "")),
            str(context.get("model", "")),
        )
        return mmc.RenderContext(
            command.srv,
            model.device_type.value,
            command.values,
            model.behaviour.tou_registers,
            model.behaviour.profile_stamp,
            self._clock.now(),
        )

    def _inputs(self, command: Command) -> StepInputs:
        context = command.context
        known = {str(k): str(v) for k, v in dict(context.get("known", {})).items()}
        return StepInputs(self._clock.now(), DeviceType(str(context["deviceType"])), known)

    def _header(self, command: Command, at: datetime) -> smets1.Smets1Header:
        target = self._answers.dsp_eui if command.schedule_id is not None else command.originator
        return smets1.Smets1Header(command.device_id, target, command.counter, command.srv, at)

    def _answered(
        self, command: Command, render: mmc.RenderContext, answers: list[dict[str, Any]]
    ) -> Outcome:
        now = self._clock.now()
        try:
            document = self._answers.answered(
                self._header(command, now), render, answers, command.request_id, command.schedule_id
            )
        except (ValueError, KeyError, TypeError) as exc:
            return self._failed(
                command, render, 1, FailureCode.UNMAPPABLE, f"the answer cannot be mapped: {exc}"
            )
        return Outcome(
            command,
            ResponseCode.SUCCESS.value,
            "answered",
            [self._outgoing(command, ResponseCode.SUCCESS.value, document)],
            answered_at=now,
        )

    def _credential_done(
        self,
        command: Command,
        render: mmc.RenderContext,
        answers: list[dict[str, Any]],
        installed: Secret,
    ) -> Outcome:
        """The device took a new credential: whatever the response, it is kept as the
        device's DCC credential (and, on a change of supplier, the holder changes)."""
        outcome = self._answered(command, render, answers)
        cos = command.srv == CHANGE_OF_SUPPLIER
        sealed = self._vault.seal(command.device_id, CredentialPurpose.DCC, installed)
        outcome.credential = CredentialChange(
            command.device_id, sealed, command.originator if cos else None
        )
        outcome.outcome = "credentials replaced" + (" (change of supplier)" if cos else "")
        previous = command.context.get("previousSupplier")
        if cos and previous and previous != command.originator.value:
            old = Eui64(str(previous))
            document = self._answers.s1sp_alert(
                old,
                command.id,
                COS_ALERT,
                self._clock.now(),
                device=command.device_id,
                information=(
                    f"{command.originator} replaced the supplier credentials on {command.device_id}"
                    ": requests of the previous supplier are refused from now on"
                ),
            )
            outcome.documents.append(Outgoing(old, "alert", f"cos:{command.id}", "I0", document))
        return outcome

    def _failed(
        self,
        command: Command,
        render: mmc.RenderContext,
        position: int,
        code: FailureCode,
        message: str,
    ) -> Outcome:
        now = self._clock.now()
        document = self._answers.failed(
            self._header(command, now),
            render,
            position,
            code,
            message,
            command.request_id,
            command.schedule_id,
        )
        return Outcome(
            command,
            ResponseCode.SUCCESS.value,
            f"step {position} failed ({code.name.lower()}): {message}",
            [self._outgoing(command, ResponseCode.SUCCESS.value, document)],
            answered_at=now,
        )

    def _no_answer(
        self, command: Command, code: ResponseCode, message: str, now: datetime, unknown: bool
    ) -> Outcome:
        document = self._answers.unanswered(command.request_id, code, command.srv, now)
        alert = self._answers.s1sp_alert(
            command.originator,
            command.id,
            UNKNOWN_OUTCOME_ALERT if unknown else TIMED_OUT_ALERT,
            now,
            request_id=command.request_id,
            device=command.device_id,
            information=message,
            schedule_id=command.schedule_id,
        )
        return Outcome(
            command,
            code.value,
            message,
            [
                self._outgoing(command, code.value, document),
                Outgoing(
                    command.originator, "alert", f"s1sp:{command.id}", "I0", alert, command.id
                ),
            ],
            answered_at=now,
        )

    @staticmethod
    def _outgoing(command: Command, code: str, document: bytes) -> Outgoing:
        reference = command.request_id or f"schedule:{command.schedule_id}:{command.id}"
        return Outgoing(command.originator, "response", reference, code, document, command.id)

    def _step_device(self, command: Command, step: PlannedStep) -> Eui64:
        if step.target is StepTarget.HUB:
            hub = command.context.get("hub")
            if not hub:
                raise _Refused(1, FailureCode.HAN, "the installation has no communications hub")
            return Eui64.parse(str(hub))
        return command.device_id

    def _credential(self, command: Command, device: Eui64, purpose: str) -> Secret | None:
        sealed = command.sealed.get((device.hex, purpose))
        if sealed is None and purpose == CredentialPurpose.DCC_PENDING:
            with self._uow_factory() as uow:
                sealed = uow.devices.sealed_credential(device, purpose)
        if sealed is None:
            return None
        try:
            return self._vault.open(device, purpose, sealed)
        except CredentialError:
            if purpose != CredentialPurpose.DCC:
                return None
        try:  # stored by a migration before 0005, still bound to its pending purpose
            return self._vault.open(device, CredentialPurpose.DCC_PENDING, sealed)
        except CredentialError:
            return None

    # --- the store -------------------------------------------------------------------------------

    def _claim_due(self, smso: Eui64, limit: int) -> list[Command]:
        with self._uow_factory() as uow:
            # a token per claim: only this claim's commands come back, never those still in
            # flight from an earlier one
            commands = uow.devices.claim(smso, self._clock.now(), limit, uuid.uuid4().hex)
            uow.commit()
        return commands

    def _queued_smsos(self) -> list[Eui64]:
        with self._uow_factory() as uow:
            return [Eui64.parse(s) for s in uow.devices.queue_depths()]

    def _sent_commands(self) -> list[Command]:
        with self._uow_factory() as uow:
            return uow.devices.sent_commands()

    def _commit(self, outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return
        ordered = sorted(outcomes, key=lambda o: o.answered_at or self._clock.now())
        finished = [Finished(o.command.id, o.code, o.outcome[:1000]) for o in ordered]
        documents = [d for o in ordered for d in o.documents]
        credentials = [o.credential for o in ordered if o.credential is not None]
        now = self._clock.now()
        with self._uow_factory() as uow:
            uow.devices.finish(finished, documents, credentials, now)
            for o in ordered:
                if o.firmware is not None:  # the inventory follows the device's firmware
                    fields = {"firmware_version": o.firmware}
                    uow.duis.update_device_details(o.command.device_id, fields, now)
            uow.commit()

    @staticmethod
    async def _db(call: Callable[[], T]) -> T:
        return await asyncio.to_thread(call)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
