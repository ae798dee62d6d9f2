#!/usr/bin/env python3
"""A smart reader's offline payment over sockets, with a reboot in the middle.

Against a `readerlab serve --clock virtual`: the backend through the official
`stripe` library (only its API base changed), the rig through the control API
(urllib). The flow:

  1. register a simulated S700, create a PaymentIntent, process it on the reader;
  2. cut the reader's internet (control API fault);
  3. present a test card: the reader stores the payment offline;
  4. reboot the reader; it comes back with the payment still stored;
  5. restore the internet: the payment is forwarded, the intent succeeds and
     its charge shows card_present.offline;
  6. finish the rig and write its history (`--history FILE`) for
     `readerlab check`.

One line per check; exits non-zero on the first failure.
"""

import argparse
import json
import sys
import urllib.request

import stripe


def control(base, method, path, body=None, raw=False):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}/_readerlab{path}", data=data, method=method,
        headers={"content-type": "application/json"})
    with urllib.request.urlopen(request) as response:
        text = response.read()
    return text if raw else json.loads(text)


def advance(base, ms):
    return control(base, "POST", "/clock/advance", {"by_ms": ms})["now_ms"]


def check(ok, what, detail=""):
    if not ok:
        print(f"FAIL {what}{': ' + detail if detail else ''}")
        sys.exit(1)
    print(f"ok   {what}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="http://HOST:PORT of readerlab serve")
    parser.add_argument("--api-key", default="sk_test_readerlab")
    parser.add_argument("--history", required=True, help="where to write the served history")
    args = parser.parse_args()
    stripe.api_key = args.api_key
    stripe.api_base = args.base

    clock = control(args.base, "GET", "/clock")
    check(clock["mode"] == "virtual", "the server runs a virtual clock", str(clock))
    advance(args.base, 5_000)  # the readers connect to the POS

    location = stripe.terminal.Location.create(
        display_name="Offline counter",
        address={"line1": "1 Main St", "city": "San Francisco", "country": "US",
                 "postal_code": "94111", "state": "CA"})
    reader = stripe.terminal.Reader.create(registration_code="simulated-s700",
                                           location=location.id)
    serial = reader.serial_number
    rig = control(args.base, "GET", "/rig")
    index = next(r["index"] for r in rig["readers"] if r["serial"] == serial)
    check(reader.status == "online", f"registered {reader.id} ({serial}, rig reader #{index})")

    intent = stripe.PaymentIntent.create(amount=4200, currency="usd",
                                         payment_method_types=["card_present"])
    stripe.terminal.Reader.process_payment_intent(reader.id, payment_intent=intent.id)
    check(True, f"{intent.id} sent to the reader")

    internet = {"link_down": {"link": {"ReaderBackend": index}}}
    control(args.base, "POST", "/faults", {"fault": internet})
    check(stripe.terminal.Reader.retrieve(reader.id).status == "offline",
          "the reader's internet is cut; the backend lists it offline")

    stripe.terminal.Reader.TestHelpers.present_payment_method(
        reader.id, type="card_present", card_present={"number": "4242424242424242"})
    advance(args.base, 10_000)
    view = control(args.base, "GET", f"/readers/{serial}")
    check(view["queued"] == 1, "the payment is stored on the reader", json.dumps(view))
    check(stripe.PaymentIntent.retrieve(intent.id).status == "requires_payment_method",
          "the backend has not seen the card yet")

    control(args.base, "POST", f"/readers/{serial}/reboot")
    advance(args.base, 5_000)
    check(not control(args.base, "GET", f"/readers/{serial}")["powered"], "the reader is rebooting")
    for _ in range(30):
        advance(args.base, 5_000)
        view = control(args.base, "GET", f"/readers/{serial}")
        if view["powered"] and view["status"] == "connected":
            break
    check(view["powered"] and view["queued"] == 1,
          "the reader is back and its payment is still stored", json.dumps(view))

    control(args.base, "POST", "/faults/clear", {"fault": internet})
    for _ in range(60):
        advance(args.base, 5_000)
        if stripe.PaymentIntent.retrieve(intent.id).status == "succeeded":
            break
    intent = stripe.PaymentIntent.retrieve(intent.id)
    check(intent.status == "succeeded", f"forwarded: {intent.id} is {intent.status}")
    charge = stripe.Charge.retrieve(intent.latest_charge)
    offline = charge.payment_method_details.card_present.offline
    check(offline is not None and offline.type == "deferred",
          f"{charge.id} shows card_present.offline", str(offline))
    check(control(args.base, "GET", f"/readers/{serial}")["queued"] == 0, "the reader's queue is empty")

    finished = control(args.base, "POST", "/rig/finish", {})
    history = control(args.base, "GET", "/history", raw=True)
    with open(args.history, "wb") as out:
        out.write(history)
    check(finished["events"] > 0, f"rig finished; {finished['events']} events in {args.history}")


if __name__ == "__main__":
    main()
