"""The Stripe-compatible backend, through the official `stripe` library.

Answers are plain dicts. Errors are sorted in two: `NoAnswer` (the request
may or may not have happened: a network error, a timeout, a 5xx or a 429)
and `Refused` (the backend answered no: nothing happened).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import stripe

# Connect and read timeouts of every request, in seconds (real time).
HTTP_TIMEOUT = (2.0, 4.0)

Obj = dict[str, Any]


class NoAnswer(Exception):
    """No usable answer: the request may have been performed."""


class Refused(Exception):
    """The backend answered with an error: the request was not performed."""

    def __init__(self, message: str, code: str | None, decline_code: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.decline_code = decline_code


def configure(base_url: str, secret_key: str) -> None:
    """Point the library at the rig's backend, with its own retries off."""
    stripe.api_key = secret_key
    stripe.api_base = base_url.rstrip("/")
    stripe.max_network_retries = 0
    stripe.default_http_client = stripe.RequestsClient(timeout=HTTP_TIMEOUT)


def _call(request: Callable[..., Any], *args: Any, **kwargs: Any) -> Obj:
    try:
        answer: stripe.StripeObject = request(*args, **kwargs)
    except (stripe.APIConnectionError, stripe.RateLimitError) as err:
        raise NoAnswer(str(err)) from err
    except stripe.StripeError as err:
        # Only a 4xx is a refusal; anything else (no status, a 5xx, or a 2xx
        # whose body the library could not read) may have been performed.
        if err.http_status is None or not 400 <= err.http_status < 500:
            raise NoAnswer(str(err)) from err
        raise Refused(err.user_message or str(err), err.code, _decline_code(err)) from err
    return answer.to_dict()


def _decline_code(err: stripe.StripeError) -> str | None:
    error = err.json_body.get("error") if isinstance(err.json_body, dict) else None
    return error.get("decline_code") if isinstance(error, dict) else None


def create_location(idempotency_key: str) -> Obj:
    return _call(
        stripe.terminal.Location.create,
        display_name="readerlab Odoo POS",
        address={
            "line1": "1 Counter Street",
            "city": "Brussels",
            "country": "BE",
            "postal_code": "1000",
            "state": "BRU",
        },
        idempotency_key=idempotency_key,
    )


def list_readers() -> list[Obj]:
    return list(_call(stripe.terminal.Reader.list, limit=100)["data"])


def register_reader(registration_code: str, location: str, idempotency_key: str) -> Obj:
    return _call(
        stripe.terminal.Reader.create,
        registration_code=registration_code,
        location=location,
        idempotency_key=idempotency_key,
    )


def create_intent(amount: int, currency: str, payment: str, idempotency_key: str) -> Obj:
    return _call(
        stripe.PaymentIntent.create,
        amount=amount,
        currency=currency,
        payment_method_types=["card_present"],
        capture_method="automatic",
        metadata={"readerlab_payment": payment},
        idempotency_key=idempotency_key,
    )


def retrieve_intent(intent: str) -> Obj:
    return _call(stripe.PaymentIntent.retrieve, intent)


def cancel_intent(intent: str, idempotency_key: str) -> Obj:
    return _call(stripe.PaymentIntent.cancel, intent, idempotency_key=idempotency_key)


def process_intent(reader_id: str, intent: str, idempotency_key: str) -> Obj:
    return _call(
        stripe.terminal.Reader.process_payment_intent,
        reader_id,
        payment_intent=intent,
        idempotency_key=idempotency_key,
    )


def retrieve_reader(reader_id: str) -> Obj:
    return _call(stripe.terminal.Reader.retrieve, reader_id)


def cancel_action(reader_id: str, idempotency_key: str) -> Obj:
    return _call(stripe.terminal.Reader.cancel_action, reader_id, idempotency_key=idempotency_key)
