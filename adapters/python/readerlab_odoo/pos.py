"""Payments, the way Odoo's point of sale takes them on Stripe smart readers.

The POS creates a PaymentIntent, asks the reader to process it
(`process_payment_intent`), then polls the reader's action on rig time. When a
request fails for a network reason the payment becomes `unconfirmed` and the
POS reconciles it from the ledger (Odoo's "force done", done by the POS
itself): it reports what the PaymentIntent and the reader show, keeps waiting
while it cannot reach the backend, and says `unknown` after GIVE_UP_MS.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import backend
from .backend import NoAnswer, Obj, Refused
from .jsonrpc import BUSY, RpcError, refused
from .store import Payment, Store

log = logging.getLogger(__name__)

POLL_INTERVAL_MS = 1_000
GIVE_UP_MS = 10 * 60 * 1_000
# Real time a clock.advance or sync.force may spend starting polls (its deadline is 10 s).
TICK_BUDGET_S = 5.0

# Odoo refuses card payments below 0.50 of the currency's major unit: that
# minimum in minor units, by the number of decimals of the currency.
MINIMUM_BY_DECIMALS = {0: 1, 2: 50, 3: 500}
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())

STATE_CREATING = "creating"  # the PaymentIntent is being created
STATE_PROCESSING = "processing"  # process_payment_intent is on its way to the reader
STATE_COLLECTING = "collecting"  # the reader waits for the card
STATE_UNCONFIRMED = "unconfirmed"  # a request got no answer: reconcile from the ledger
STATE_RESTART = "restart"  # defect fresh-key-retry: start over with new keys
STATE_ENDED = "ended"  # the outcome is decided (and `reported` once sent)
STATE_CANCELING = "canceling"  # shown by queue.inspect for cancel_requested

# The backend's refusal of process_payment_intent on a reader with an action in progress.
READER_BUSY = "terminal_reader_busy"


class Defect(enum.Enum):
    NONE = "none"
    FRESH_KEY_RETRY = "fresh-key-retry"
    FAILED_ON_LOST_ANSWER = "failed-on-lost-answer"


@dataclass(frozen=True)
class Ending:
    outcome: str
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None


Notify = Callable[[str, dict[str, Any]], None]


def minimum_amount(currency: str) -> int:
    """Odoo's minimum, in the currency's minor units."""
    decimals = 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2
    return MINIMUM_BY_DECIMALS[decimals]


class Pos:
    def __init__(self, store: Store, readers: dict[str, str], notify: Notify, defect: Defect):
        self._store = store
        self._readers = readers  # serial → backend reader id
        self._notify = notify
        self._defect = defect
        self._now_ms = 0

    # Requests

    def collect(self, name: str, serial: str, amount: int, currency: str, now_ms: int) -> Obj:
        self._now_ms = now_ms
        self._check_rules(name, serial, amount, currency)
        payment = self._store.add_payment(
            name, serial, amount, currency, STATE_CREATING, now_ms + POLL_INTERVAL_MS
        )
        try:
            return self._start(payment)
        except RpcError:
            raise  # definite: the payment never started, and it is forgotten
        except Exception:
            # Answered with an indefinite error (main.py): readerlab records an
            # unknown outcome for it at once, so it must never get a payment.ended.
            # It is still followed, silently, so its reader stays busy until it ends.
            log.exception("%s: payment.collect failed; the payment is silent from now on", name)
            self._store.update(payment, silent=1)
            raise

    def resume(self, recorded: set[str]) -> None:
        """On a restart: readerlab recorded the payment.ended of `recorded` (and no other).

        Each other ended payment is reported again, once; none of these is. This
        closes the window a kill can fall into between deciding an outcome
        (durably) and writing its payment.ended, whichever side of the write it hits.
        """
        for payment in self._store.payments():
            done = bool(payment.silent) or payment.name in recorded
            if payment.state == STATE_ENDED:
                self._store.update(payment, reported=int(done))
            elif payment.name in recorded:  # it cannot be: readerlab knows better
                log.warning(
                    "%s: readerlab recorded its end; it is no longer followed", payment.name
                )
                self._store.update(payment, state=STATE_ENDED, reported=1)
        pending = [p.name for p in self._store.unreported() if p.state == STATE_ENDED]
        if pending:
            log.info("outcomes readerlab has not recorded, to report again: %s", pending)

    def report_pending(self) -> None:
        """Write the payment.ended of every decided outcome not written yet."""
        for payment in self._store.unreported():
            if payment.state == STATE_ENDED:
                self._report(payment)

    def cancel(self, name: str, now_ms: int) -> None:
        self._now_ms = now_ms
        payment = self._store.payment(name)
        if payment is None:
            raise refused(f"no payment {name!r}")
        if payment.state == STATE_ENDED:
            return
        self._store.update(payment, cancel_requested=1)
        self._poll(payment)

    def tick(self, now_ms: int, *, force: bool = False) -> None:
        """Do what is due by `now_ms` (everything pending when `force`)."""
        self._now_ms = now_ms
        budget_end = time.monotonic() + TICK_BUDGET_S
        for payment in self._store.unreported():
            if payment.state == STATE_ENDED:
                self._report(payment)
            elif time.monotonic() > budget_end:
                log.warning("out of time: %s waits for the next tick", payment.name)
            elif force or payment.next_poll_ms <= now_ms:
                self._store.update(payment, next_poll_ms=now_ms + POLL_INTERVAL_MS)
                self._poll(payment)

    def queue(self) -> list[Obj]:
        return [
            {
                "payment": p.name,
                "reader": p.reader,
                "intent": p.intent,
                "state": STATE_CANCELING if p.cancel_requested else p.state,
            }
            for p in self._store.unreported()
            if not p.silent
        ]

    # Starting a payment

    def _check_rules(self, name: str, serial: str, amount: int, currency: str) -> None:
        if self._store.payment(name) is not None:
            raise refused(f"payment {name!r} was already taken", "duplicate_payment")
        if serial not in self._readers:
            raise refused(f"reader {serial} is not registered with this POS", "unknown_reader")
        if any(p.reader == serial and p.state != STATE_ENDED for p in self._store.unreported()):
            raise RpcError(BUSY, f"reader {serial} is busy with another payment", definite=True)
        if amount < minimum_amount(currency):
            raise refused(
                f"the minimum card payment is {minimum_amount(currency)} {currency} minor units",
                "amount_too_small",
            )

    def _start(self, payment: Payment) -> Obj:
        """Create the intent and have the reader process it: payment.collect's result."""
        try:
            self._create_intent(payment)
        except Refused as err:
            self._store.delete_payment(payment.name)
            raise refused(
                f"the backend refused the PaymentIntent: {err.message}", err.code
            ) from err
        except NoAnswer as err:
            self._lost(payment, err)
            return {}
        self._process(payment, starting=True)
        return {"intent": payment.intent}

    def _create_intent(self, payment: Payment) -> None:
        """Create the attempt's intent under its stored key: when an earlier create got
        no answer, this replay answers the intent that one made (or makes it now)."""
        key = self._store.idempotency_key(f"create:{payment.name}:{payment.attempt}")
        intent = backend.create_intent(payment.amount, payment.currency, payment.name, key)
        self._store.update(payment, intent=intent["id"])

    def _process(self, payment: Payment, *, starting: bool = False) -> None:
        assert payment.intent is not None
        self._store.update(payment, state=STATE_PROCESSING)
        key = self._store.idempotency_key(f"process:{payment.name}:{payment.attempt}")
        try:
            backend.process_intent(self._readers[payment.reader], payment.intent, key)
        except Refused as err:
            if starting and err.code == READER_BUSY:
                self._withdraw(payment)
                raise RpcError(
                    BUSY, f"reader {payment.reader} is busy: {err.message}", definite=True
                ) from err
            self._end(payment, Ending("failed", err.code, message=err.message))
        except NoAnswer as err:
            self._lost(payment, err)
        else:
            self._store.update(payment, state=STATE_COLLECTING, unreachable_since_ms=None)

    def _withdraw(self, payment: Payment) -> None:
        """Forget a payment the reader refused to start, its intent canceled (if it can be:
        an intent no reader processes cannot be paid anyway)."""
        assert payment.intent is not None
        key = self._store.idempotency_key(f"cancel:{payment.name}:{payment.attempt}")
        try:
            backend.cancel_intent(payment.intent, key)
        except (NoAnswer, Refused) as err:
            log.warning("%s: canceling %s: %s", payment.name, payment.intent, err)
        self._store.delete_payment(payment.name)

    def _restart(self, payment: Payment) -> None:
        """Defect fresh-key-retry: a new PaymentIntent under fresh keys, processed again."""
        self._store.update(payment, attempt=payment.attempt + 1, intent=None, state=STATE_CREATING)
        try:
            self._create_intent(payment)
        except Refused as err:
            self._end(payment, Ending("failed", err.code, message=err.message))
            return
        self._process(payment)

    # Following a payment

    def _poll(self, payment: Payment) -> None:
        try:
            if payment.cancel_requested:
                self._finish_cancel(payment)
            elif payment.state == STATE_RESTART:
                self._restart(payment)
            elif payment.state == STATE_COLLECTING:
                self._check_reader(payment)
            else:
                self._reconcile(payment)
        except NoAnswer as err:
            self._lost(payment, err)
        except Refused as err:
            self._unanswered(payment, f"refused: {err.message}")

    def _check_reader(self, payment: Payment) -> None:
        """The regular poll: the reader's action, then the intent once it is over."""
        action = self._our_action(payment)
        if _status(action) == "in_progress":
            self._store.update(payment, unreachable_since_ms=None)
            return
        self._settle(payment, self._retrieve_intent(payment), action)

    def _reconcile(self, payment: Payment) -> None:
        """After a lost answer: the ledger (the intent) first, then the reader."""
        intent = self._retrieve_intent(payment)
        action = None if intent["status"] == "succeeded" else self._our_action(payment)
        self._settle(payment, intent, action)

    def _finish_cancel(self, payment: Payment) -> None:
        """Stop the reader, then cancel the intent, unless the customer paid first."""
        intent = self._retrieve_intent(payment)
        action = self._our_action(payment)
        if _status(action) == "in_progress":
            action = self._cancel_reader_action(payment)
        paid = intent["status"] == "succeeded" or _status(action) == "succeeded"
        self._end(payment, Ending("succeeded") if paid else self._cancel_intent(payment, intent))

    def _cancel_reader_action(self, payment: Payment) -> Obj | None:
        key = self._store.idempotency_key(f"cancel_action:{payment.name}:{payment.attempt}")
        try:
            reader = backend.cancel_action(self._readers[payment.reader], key)
        except Refused:  # the action ended meanwhile: see how
            return self._our_action(payment)
        return _action_for(reader, payment)

    def _cancel_intent(self, payment: Payment, intent: Obj) -> Ending:
        if intent["status"] == "canceled":
            return Ending("canceled")
        key = self._store.idempotency_key(f"cancel:{payment.name}:{payment.attempt}")
        try:
            backend.cancel_intent(intent["id"], key)
        except Refused:  # it left requires_payment_method meanwhile: see how
            intent = backend.retrieve_intent(intent["id"])
            if intent["status"] not in ("succeeded", "canceled"):
                raise
            return Ending(intent["status"])
        return Ending("canceled")

    def _settle(self, payment: Payment, intent: Obj, action: Obj | None) -> None:
        ending = _verdict(intent, action)
        if ending is None:
            self._store.update(payment, state=STATE_COLLECTING, unreachable_since_ms=None)
        else:
            self._end(payment, ending)

    def _retrieve_intent(self, payment: Payment) -> Obj:
        if payment.intent is None:  # its creation got no answer
            self._create_intent(payment)
        assert payment.intent is not None
        return backend.retrieve_intent(payment.intent)

    def _our_action(self, payment: Payment) -> Obj | None:
        return _action_for(backend.retrieve_reader(self._readers[payment.reader]), payment)

    # Failures and endings

    def _lost(self, payment: Payment, err: NoAnswer) -> None:
        """A request for this payment got no answer: it may have happened."""
        log.warning("%s: no answer from the backend: %s", payment.name, err)
        if self._defect is Defect.FAILED_ON_LOST_ANSWER:
            self._end(payment, Ending("failed", "api_connection_error", message=str(err)))
            return
        if self._defect is Defect.FRESH_KEY_RETRY:
            self._store.update(payment, state=STATE_RESTART)
        self._unanswered(payment, str(err))

    def _unanswered(self, payment: Payment, why: str) -> None:
        since = payment.unreachable_since_ms
        since = self._now_ms if since is None else since
        if self._now_ms - since >= GIVE_UP_MS:
            message = f"no usable answer from the backend for {GIVE_UP_MS // 1000} s: {why}"
            self._end(payment, Ending("unknown", message=message))
            return
        state = STATE_RESTART if payment.state == STATE_RESTART else STATE_UNCONFIRMED
        self._store.update(payment, state=state, unreachable_since_ms=since)

    def _end(self, payment: Payment, ending: Ending) -> None:
        """Decide the outcome durably, then report it."""
        self._store.update(
            payment,
            state=STATE_ENDED,
            outcome=ending.outcome,
            code=ending.code,
            decline_code=ending.decline_code,
            message=ending.message,
            reported=0,
        )
        self._report(payment)

    def _report(self, payment: Payment) -> None:
        """Send payment.ended, then record it sent (see README: exactly once)."""
        if payment.silent:
            log.info(
                "%s ended %s; not reported (payment.collect failed)", payment.name, payment.outcome
            )
            self._store.update(payment, reported=1)
            return
        params = {
            "payment": payment.name,
            "outcome": payment.outcome,
            "intent": payment.intent,
            "code": payment.code,
            "decline_code": payment.decline_code,
            "message": payment.message,
        }
        self._notify("payment.ended", {k: v for k, v in params.items() if v is not None})
        self._store.update(payment, reported=1)
        log.info("%s ended %s", payment.name, payment.outcome)


def _action_for(reader: Obj, payment: Payment) -> Obj | None:
    """The reader's action when it is this payment's, else None."""
    action = reader.get("action") or {}
    target = (action.get("process_payment_intent") or {}).get("payment_intent")
    return action if target is not None and target == payment.intent else None


def _status(action: Obj | None) -> str | None:
    return None if action is None else action.get("status")


def _verdict(intent: Obj, action: Obj | None) -> Ending | None:
    """What the intent and the payment's reader action say, or None while it is still open.

    A succeeded action with an intent not yet succeeded is a payment the reader
    took and stored offline, to forward: paid, for the cashier.
    """
    status = intent["status"]
    if status == "succeeded" or _status(action) == "succeeded":
        return Ending("succeeded")
    if _status(action) == "in_progress":
        return None
    if status == "canceled":
        return Ending("failed", "payment_intent_canceled")
    if status != "requires_payment_method":
        return None
    action = action or {}
    error = intent.get("last_payment_error") or {}
    code = action.get("failure_code") or error.get("code") or "reader_action_missing"
    message = error.get("message") or action.get("failure_message")
    if code == "card_declined":
        return Ending("declined", code, error.get("decline_code"), message)
    return Ending("failed", code, message=message)
