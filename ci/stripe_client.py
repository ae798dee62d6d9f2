#!/usr/bin/env python3
"""Drive readerlab's Stripe-compatible backend with the official `stripe`
Python library (v16), changing nothing but its API base.

Usage: stripe_client.py --api-base http://127.0.0.1:12111 [--api-key sk_test_readerlab]

The served rig must hold at least one S700 (registration code
`simulated-s700`) whose actions its shell completes. Prints one line per
check and exits 1 at the first failure, naming what was expected.
Outcomes are those of fixtures/cards.toml, the emulator's single issuer.
"""

import argparse
import sys
import time

import stripe

# (card number, expected action status, failure_code, decline_code) per
# fixtures/cards.toml; amount 1000 ends in 00, which approves.
CARDS = [
    ("4242424242424242", "succeeded", None, None),
    ("4000000000000002", "failed", "card_declined", "generic_decline"),
    ("4000000000009995", "failed", "card_declined", "insufficient_funds"),
    ("4000000000000069", "failed", "expired_card", "expired_card"),
]
ACTION_TIMEOUT_S = 10.0


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def ok(name):
    print(f"ok   {name}", flush=True)


def wait_for_action(reader_id):
    """Polls the reader until its action leaves in_progress."""
    deadline = time.monotonic() + ACTION_TIMEOUT_S
    while True:
        reader = stripe.terminal.Reader.retrieve(reader_id)
        action = reader.action
        if action is not None and action.status != "in_progress":
            return reader
        if time.monotonic() > deadline:
            status = None if action is None else action.status
            raise CheckFailed(
                f"reader {reader_id}: action still {status!r} after {ACTION_TIMEOUT_S:.0f} s "
                "(is the served rig's shell completing reader actions?)"
            )
        time.sleep(0.1)


def register_s700(location_id):
    """Registers a free S700, or reuses one an earlier run registered."""
    try:
        return stripe.terminal.Reader.create(
            registration_code="simulated-s700", location=location_id, label="stripe_client.py"
        )
    except stripe.InvalidRequestError as error:
        readers = stripe.terminal.Reader.list(limit=100)
        for reader in readers.data:
            if reader.device_type == "stripe_s700":
                if reader.action is not None and reader.action.status == "in_progress":
                    stripe.terminal.Reader.cancel_action(reader.id)
                return reader
        raise CheckFailed(f"could not register simulated-s700: {error.user_message}")


def create_intent(capture_method="automatic", amount=1000, **extra):
    return stripe.PaymentIntent.create(
        amount=amount,
        currency="usd",
        payment_method_types=["card_present"],
        capture_method=capture_method,
        **extra,
    )


def pay(reader_id, intent_id, number):
    processing = stripe.terminal.Reader.process_payment_intent(reader_id, payment_intent=intent_id)
    check(
        processing.action is not None and processing.action.status == "in_progress",
        f"process_payment_intent: action should be in_progress, got {processing.action}",
    )
    stripe.terminal.Reader.TestHelpers.present_payment_method(
        reader_id, type="card_present", card_present={"number": number}
    )
    return wait_for_action(reader_id)


def run(api_base, api_key):
    stripe.api_key = api_key
    stripe.api_base = api_base
    stripe.max_network_retries = 0

    location = stripe.terminal.Location.create(
        display_name="stripe_client.py",
        address={
            "line1": "1 Main St",
            "city": "San Francisco",
            "country": "US",
            "postal_code": "94110",
            "state": "CA",
        },
    )
    check(location.id.startswith("tml_"), f"location id {location.id!r}")
    ok(f"create location {location.id}")

    reader = register_s700(location.id)
    check(reader.device_type == "stripe_s700", f"device_type {reader.device_type!r}")
    check(reader.status == "online", f"reader status {reader.status!r}")
    ok(f"register simulated-s700 -> {reader.id} ({reader.serial_number})")

    for number, status, failure_code, decline_code in CARDS:
        last4 = number[-4:]
        intent = create_intent()
        done = pay(reader.id, intent.id, number)
        action = done.action
        check(
            action.status == status,
            f"card ...{last4}: action {action.status!r} (failure {action.failure_code!r}), "
            f"expected {status!r}",
        )
        check(
            action.failure_code == failure_code,
            f"card ...{last4}: failure_code {action.failure_code!r}, expected {failure_code!r}",
        )
        intent = stripe.PaymentIntent.retrieve(intent.id)
        if status == "succeeded":
            check(intent.status == "succeeded", f"card ...{last4}: PI status {intent.status!r}")
        else:
            check(
                intent.status == "requires_payment_method",
                f"card ...{last4}: PI status {intent.status!r}, expected requires_payment_method",
            )
            error = intent.last_payment_error
            check(error is not None, f"card ...{last4}: no last_payment_error")
            check(
                error.decline_code == decline_code,
                f"card ...{last4}: decline_code {error.decline_code!r}, expected {decline_code!r}",
            )
        ok(f"card ...{last4}: action {status}, PI {intent.status}")

    intent = create_intent(capture_method="manual")
    done = pay(reader.id, intent.id, "4242424242424242")
    check(done.action.status == "succeeded", f"manual capture: action {done.action.status!r}")
    intent = stripe.PaymentIntent.retrieve(intent.id)
    check(intent.status == "requires_capture", f"manual capture: PI status {intent.status!r}")
    intent = stripe.PaymentIntent.capture(intent.id)
    check(intent.status == "succeeded", f"after capture: PI status {intent.status!r}")
    check(intent.amount_received == 1000, f"after capture: amount_received {intent.amount_received}")
    ok(f"manual capture {intent.id}: requires_capture -> succeeded")

    key = f"stripe-client-{time.time_ns()}"
    first = create_intent(idempotency_key=key)
    again = create_intent(idempotency_key=key)
    check(first.id == again.id, f"idempotent retry: {first.id} then {again.id}")
    ok(f"idempotent retry returns {first.id} again")

    try:
        stripe.PaymentIntent.list(limit=1, api_key="sk_test_not_the_right_key")
        raise CheckFailed("a wrong API key was accepted")
    except stripe.AuthenticationError as error:
        check(error.http_status == 401, f"wrong key: HTTP {error.http_status}")
    ok("wrong API key raises stripe.AuthenticationError (401)")

    intent = create_intent()
    stripe.terminal.Reader.process_payment_intent(reader.id, payment_intent=intent.id)
    canceled = stripe.terminal.Reader.cancel_action(reader.id)
    check(
        canceled.action is not None and canceled.action.status == "failed",
        f"cancel_action: action {canceled.action}",
    )
    intent = stripe.PaymentIntent.retrieve(intent.id)
    check(
        intent.status == "requires_payment_method",
        f"after cancel_action: PI status {intent.status!r}",
    )
    ok(f"cancel_action: action failed ({canceled.action.failure_code}), PI still open")

    page = stripe.PaymentIntent.list(limit=3)
    check(page.object == "list" and len(page.data) == 3, f"list: {len(page.data)} intents")
    check(page.has_more, "list: has_more should be true")
    newer = page.data[0].created >= page.data[-1].created
    check(newer and page.data[0].id > page.data[-1].id, "list: not newest first")
    older = stripe.PaymentIntent.list(limit=3, starting_after=page.data[-1].id)
    check(
        all(i.id < page.data[-1].id for i in older.data),
        "list: starting_after returned newer intents",
    )
    ok(f"list payment intents: newest first, has_more, paging ({len(older.data)} older)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-base", required=True, help="e.g. http://127.0.0.1:12111")
    parser.add_argument("--api-key", default="sk_test_readerlab")
    args = parser.parse_args()
    try:
        run(args.api_base.rstrip("/"), args.api_key)
    except CheckFailed as failure:
        print(f"FAIL {failure}", flush=True)
        return 1
    except stripe.StripeError as error:
        print(f"FAIL unexpected {type(error).__name__}: {error.user_message} "
              f"(HTTP {error.http_status}, code {error.code})", flush=True)
        return 1
    print("all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
