"""End to end: the adapter takes payments on a served rig (`readerlab serve --clock
virtual`), reaching its backend through a FaultProxy that plays the POS's internet."""

from __future__ import annotations

import sqlite3

import pytest
from support import CARD_DECLINED, CARD_OK, Harness

READER = "STRS7-0001"


def _is_create_intent(method: str, path: str) -> bool:
    return method == "POST" and path == "/v1/payment_intents"


def _is_process(method: str, path: str) -> bool:
    return method == "POST" and path.endswith("/process_payment_intent")


def _succeeded(harness: Harness, payment: str) -> list[str]:
    return [i["id"] for i in harness.rig.intents_for(payment) if i["status"] == "succeeded"]


def test_a_newer_protocol_offered_is_answered_with_this_adapters_own(harness: Harness) -> None:
    # readerlab offers the newest version it speaks; version 2 only adds to 1.
    assert harness.start_adapter(protocol=2)["protocol"] == 1


def test_session_new_registers_the_readers_and_declares_capabilities(harness: Harness) -> None:
    result = harness.start_adapter()
    assert result["protocol"] == 1
    capabilities = result["capabilities"]
    assert capabilities["integration"] == "server_driven"
    assert capabilities["models"] == ["s700", "wisepos_e"]
    for name in ("clock", "payment.cancel", "app.kill", "sync.force", "queue.inspect"):
        assert capabilities[name] is True
    assert "x-odoo:defect" not in capabilities
    # Both S700s share one registration code: each is matched by its serial.
    assert harness.collect("a", "STRS7-0001")["result"]["intent"].startswith("pi_")
    assert harness.collect("b", "STRS7-0002")["result"]["intent"].startswith("pi_")


def test_a_fresh_start_finds_the_readers_it_registered_before(harness: Harness) -> None:
    harness.start_adapter()
    harness.adapter.call("session.end", {})
    harness.data_dir = harness.tmp_path / "wiped"  # the app's data is gone
    harness.start_adapter()
    assert "intent" in harness.collect("tart", READER)["result"]


def test_a_payment_succeeds(harness: Harness) -> None:
    harness.start_adapter()
    intent = harness.adapter.call(
        "payment.collect",
        {
            "payment": "coffee",
            "reader": READER,
            "amount": {"amount": 1250, "currency": "usd"},
            "behavior": "PREFER_ONLINE",
        },
    )["intent"]
    assert harness.rig.busy(READER)
    queue = harness.adapter.call("queue.inspect", {})["payments"]
    assert queue == [
        {"payment": "coffee", "reader": READER, "intent": intent, "state": "collecting"}
    ]

    assert harness.pay("coffee", READER, CARD_OK) == [
        {"payment": "coffee", "outcome": "succeeded", "intent": intent}
    ]
    [ledger_intent] = harness.rig.intents_for("coffee")
    assert (ledger_intent["id"], ledger_intent["status"], ledger_intent["amount"]) == (
        intent,
        "succeeded",
        1250,
    )
    assert harness.adapter.call("queue.inspect", {}) == {"payments": []}


def test_a_declined_card(harness: Harness) -> None:
    harness.start_adapter()
    intent = harness.collect("tea", READER)["result"]["intent"]
    assert harness.pay("tea", READER, CARD_DECLINED) == [
        {
            "payment": "tea",
            "outcome": "declined",
            "intent": intent,
            "code": "card_declined",
            "decline_code": "generic_decline",
            "message": "Your card was declined.",
        }
    ]
    assert _succeeded(harness, "tea") == []


def test_below_the_minimum_is_refused_and_never_ends(harness: Harness) -> None:
    harness.start_adapter()
    error = harness.collect("gum", READER, amount=49)["error"]
    assert error["code"] == -32000
    assert error["data"] == {"definite": True, "sdk_code": "amount_too_small"}
    harness.advance(3_000)
    assert harness.ended("gum") == []
    assert harness.rig.intents_for("gum") == []
    assert harness.collect("gum-50", READER, amount=50)["result"]["intent"]


def test_a_second_payment_on_a_busy_reader_is_refused(harness: Harness) -> None:
    harness.start_adapter()
    assert "result" in harness.collect("first", READER)
    error = harness.collect("second", READER)["error"]
    assert (error["code"], error["data"]["definite"]) == (-32001, True)


def test_a_cancel_stops_the_reader_and_cancels_the_intent(harness: Harness) -> None:
    harness.start_adapter()
    intent = harness.collect("cake", READER)["result"]["intent"]
    assert harness.adapter.call("payment.cancel", {"payment": "cake"}) == {}
    assert harness.ended("cake") == [{"payment": "cake", "outcome": "canceled", "intent": intent}]
    assert [i["status"] for i in harness.rig.intents_for("cake")] == ["canceled"]
    harness.advance(1_000)
    assert not harness.rig.busy(READER)
    # A cancel after the end changes nothing and ends nothing twice.
    assert harness.adapter.call("payment.cancel", {"payment": "cake"}) == {}
    assert len(harness.ended("cake")) == 1


def test_a_cancel_after_the_customer_paid_reports_the_payment(harness: Harness) -> None:
    harness.start_adapter()
    intent = harness.collect("pie", READER)["result"]["intent"]
    harness.rig.present_card(READER, CARD_OK)
    harness.rig.advance(1_000)
    harness.adapter.call("payment.cancel", {"payment": "pie"})
    assert harness.ended("pie") == [{"payment": "pie", "outcome": "succeeded", "intent": intent}]


def test_killed_mid_payment_it_resumes_and_reports_once(harness: Harness) -> None:
    harness.start_adapter()
    intent = harness.collect("soup", READER)["result"]["intent"]
    harness.advance(1_000)
    harness.adapter.kill()
    harness.rig.present_card(READER, CARD_OK)  # the customer pays while the app is down
    harness.rig.advance(2_000)

    harness.start_adapter(resumed=True)
    assert harness.adapter.call("queue.inspect", {})["payments"][0]["payment"] == "soup"
    assert harness.pay("soup", READER, CARD_OK) == [
        {"payment": "soup", "outcome": "succeeded", "intent": intent}
    ]
    # Killed again after the outcome was reported: nothing is reported twice.
    harness.adapter.kill()
    harness.start_adapter(resumed=True)
    harness.advance(3_000)
    harness.adapter.call("sync.force", {})
    assert len(harness.ended("soup")) == 1
    assert _succeeded(harness, "soup") == [intent]


def test_internet_down_keeps_the_payment_pending_until_it_comes_back(harness: Harness) -> None:
    harness.start_adapter()
    intent = harness.collect("bread", READER)["result"]["intent"]
    harness.proxy.down = True
    harness.rig.present_card(READER, CARD_OK)
    for _ in range(3):
        harness.advance(1_000)
    harness.adapter.call("sync.force", {})
    assert harness.ended("bread") == []
    [pending] = harness.adapter.call("queue.inspect", {})["payments"]
    assert pending["state"] == "unconfirmed"

    harness.proxy.down = False
    harness.adapter.call("sync.force", {})
    assert harness.ended("bread") == [
        {"payment": "bread", "outcome": "succeeded", "intent": intent}
    ]


def test_no_answer_for_ten_minutes_is_an_unknown_outcome(harness: Harness) -> None:
    harness.start_adapter()
    harness.collect("wine", READER)
    harness.proxy.down = True
    harness.rig.present_card(READER, CARD_OK)
    for _ in range(10):
        harness.advance(60_000)
        assert harness.ended("wine") == []
    harness.advance(60_000)
    [ended] = harness.ended("wine")
    assert ended["outcome"] == "unknown"


def test_a_lost_create_answer_is_reconciled_under_the_same_key(harness: Harness) -> None:
    harness.start_adapter()
    harness.proxy.lose_next_answer(_is_create_intent)
    assert harness.collect("salt", READER) == {"jsonrpc": "2.0", "id": 2, "result": {}}
    harness.advance(1_000)
    # The replayed create answered the intent the lost one made: one intent, never
    # sent to the reader, so the customer cannot have paid.
    [intent] = harness.rig.intents_for("salt")
    assert harness.ended("salt") == [
        {
            "payment": "salt",
            "outcome": "failed",
            "intent": intent["id"],
            "code": "reader_action_missing",
        }
    ]


@pytest.mark.parametrize("defect", [None, "fresh-key-retry", "failed-on-lost-answer"])
def test_a_lost_process_answer(harness: Harness, defect: str | None) -> None:
    """process_payment_intent reaches the reader but its answer is lost."""
    capabilities = harness.start_adapter(defect=defect)["capabilities"]
    assert capabilities.get("x-odoo:defect") == defect
    harness.proxy.lose_next_answer(_is_process)
    first = harness.collect("lunch", READER)["result"]["intent"]
    assert harness.rig.busy(READER)  # the reader got it
    [ended] = harness.pay("lunch", READER, CARD_OK)
    charged = _succeeded(harness, "lunch")

    if defect is None:  # reconciled from the ledger: the truth, once
        assert ended == {"payment": "lunch", "outcome": "succeeded", "intent": first}
        assert charged == [first]
    elif defect == "fresh-key-retry":  # a new intent, tapped again: charged twice (I2)
        assert ended["outcome"] == "succeeded"
        assert len(harness.rig.intents_for("lunch")) == 2
        assert len(charged) == 2
    else:  # failed at once, yet the customer paid (I3: a wrong outcome)
        assert (ended["outcome"], ended["code"]) == ("failed", "api_connection_error")
        assert charged == [first]


def test_killed_while_offline_it_resumes_offline_then_reconciles(harness: Harness) -> None:
    harness.start_adapter()
    intent = harness.collect("jam", READER)["result"]["intent"]
    harness.proxy.down = True
    harness.rig.present_card(READER, CARD_OK)
    harness.advance(1_000)
    harness.adapter.kill()

    harness.start_adapter(resumed=True)  # no network needed: all it needs is in its database
    [pending] = harness.adapter.call("queue.inspect", {})["payments"]
    assert (pending["intent"], pending["state"]) == (intent, "unconfirmed")
    harness.advance(1_000)
    assert harness.ended("jam") == []
    harness.proxy.down = False
    harness.advance(1_000)
    assert harness.ended("jam") == [{"payment": "jam", "outcome": "succeeded", "intent": intent}]


def test_on_a_real_clock_it_polls_by_itself(harness: Harness) -> None:
    harness.start_adapter(clock="real")
    intent = harness.collect("milk", READER)["result"]["intent"]
    harness.rig.present_card(READER, CARD_OK)
    harness.rig.advance(1_000)
    # No request from the harness: the adapter's own timer polls and notifies.
    assert harness.adapter.notification() == {
        "jsonrpc": "2.0",
        "method": "payment.ended",
        "params": {"payment": "milk", "outcome": "succeeded", "intent": intent},
    }


def test_reconciling_waits_while_the_reader_still_collects(harness: Harness) -> None:
    harness.start_adapter()
    harness.proxy.lose_next_answer(_is_process)
    intent = harness.collect("cheese", READER)["result"]["intent"]
    assert harness.adapter.call("queue.inspect", {})["payments"][0]["state"] == "unconfirmed"
    harness.advance(1_000)  # the intent is open and the reader's action on it in progress
    assert harness.ended("cheese") == []
    assert harness.adapter.call("queue.inspect", {})["payments"][0]["state"] == "collecting"
    assert harness.pay("cheese", READER, CARD_OK) == [
        {"payment": "cheese", "outcome": "succeeded", "intent": intent}
    ]


def _set_unreported(harness: Harness, *payments: str) -> None:
    """As if the app had been killed after writing these payment.ended, before it
    recorded that it had: the window `session.reported` closes."""
    with sqlite3.connect(harness.data_dir / "odoo_pos.sqlite3") as db:
        db.executemany("UPDATE payments SET reported = 0 WHERE name = ?", [(p,) for p in payments])
    db.close()


def test_a_restart_reports_exactly_what_readerlab_did_not_record(harness: Harness) -> None:
    harness.start_adapter()
    soup = harness.collect("soup", "STRS7-0001")["result"]["intent"]
    stew = harness.collect("stew", "STRS7-0002")["result"]["intent"]
    assert len(harness.pay("soup", "STRS7-0001", CARD_OK)) == 1
    assert len(harness.pay("stew", "STRS7-0002", CARD_OK)) == 1
    harness.adapter.kill()
    # Killed after writing both, before recording either as written; readerlab
    # recorded soup's, while stew's (say) never reached it.
    _set_unreported(harness, "soup", "stew")

    harness.start_adapter(resumed=True, reported=["soup"])
    # Written at once after the answer to session.new, without waiting for a request.
    assert harness.adapter.notification() == {
        "jsonrpc": "2.0",
        "method": "payment.ended",
        "params": {"payment": "stew", "outcome": "succeeded", "intent": stew},
    }
    harness.advance(3_000)
    harness.adapter.call("sync.force", {})
    assert harness.adapter.ended() == [{"payment": "stew", "outcome": "succeeded", "intent": stew}]
    assert harness.adapter.call("queue.inspect", {}) == {"payments": []}

    # Restarted again with both recorded: neither is reported a third time.
    harness.adapter.kill()
    harness.start_adapter(resumed=True)
    harness.advance(1_000)
    harness.adapter.call("sync.force", {})
    assert harness.adapter.ended() == []
    assert _succeeded(harness, "soup") == [soup]


def test_an_indefinite_collect_error_is_the_payments_only_outcome(harness: Harness) -> None:
    harness.start_adapter()
    # The creation is performed but answered with something the POS cannot read.
    harness.proxy.replace_next_answer(_is_create_intent, {"object": "payment_intent"})
    error = harness.collect("fig", READER)["error"]
    assert (error["code"], error["data"]["definite"]) == (-32000, False)
    assert harness.adapter.call("queue.inspect", {}) == {"payments": []}
    for _ in range(3):
        harness.advance(1_000)
    harness.adapter.call("sync.force", {})
    # readerlab recorded an unknown outcome for it: no payment.ended, ever, and the
    # reader is free once the POS has seen the payment end (it never reached it).
    assert harness.ended("fig") == []
    [intent] = harness.rig.intents_for("fig")
    assert intent["status"] == "requires_payment_method"
    assert harness.collect("date", READER)["result"]["intent"].startswith("pi_")
    # Nor after a restart, though readerlab's session.reported does not name it.
    harness.adapter.kill()
    harness.start_adapter(resumed=True)
    harness.advance(1_000)
    harness.adapter.call("sync.force", {})
    assert harness.ended("fig") == []
    assert [p["payment"] for p in harness.adapter.call("queue.inspect", {})["payments"]] == ["date"]


def test_a_reader_busy_with_someone_elses_action_is_busy(harness: Harness) -> None:
    harness.start_adapter()
    [reader] = [
        r
        for r in harness.rig.api("GET", "/v1/terminal/readers")["data"]
        if r["serial_number"] == READER
    ]
    other = harness.rig.api(
        "POST",
        "/v1/payment_intents",
        {"amount": "700", "currency": "usd", "payment_method_types[]": "card_present"},
    )
    harness.rig.api(
        "POST",
        f"/v1/terminal/readers/{reader['id']}/process_payment_intent",
        {"payment_intent": other["id"]},
    )
    error = harness.collect("olive", READER)["error"]
    assert (error["code"], error["data"]["definite"]) == (-32001, True)
    # It never started: its intent is canceled, and it gets no outcome.
    assert [i["status"] for i in harness.rig.intents_for("olive")] == ["canceled"]
    assert harness.adapter.call("queue.inspect", {}) == {"payments": []}
    harness.advance(1_000)
    assert harness.ended("olive") == []
