//! The backend's side of a lab run, read the way any Stripe client reads
//! it: the PaymentIntents and Charges listed through `GET /v1/...` with the
//! bench's key, before the scenario, every few seconds while it runs, and
//! at its end. What appears becomes the history's backend events
//! (`backend.payment_intent.created`, `backend.charge.succeeded`,
//! `backend.payment_intent.canceled`), so the checker judges charges on a
//! bench as it does on a rig it plays itself.
//!
//! Those events carry the time they were read, not the time they happened
//! (at most one poll later: docs/lab.md).

use super::http;
use readerlab_emulator::core::EventBody;
use readerlab_emulator::core::offline::OfflineId;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

/// How long one page of a list may take.
const PAGE_DEADLINE: Duration = Duration::from_secs(15);
/// Objects asked for per page (Stripe's maximum).
const PAGE: usize = 100;
/// The most pages one list may take: a test account with more objects
/// than this is refused rather than half read.
const MAX_PAGES: usize = 200;

/// Where the ledger is and how to read it.
#[derive(Clone, Debug)]
pub struct Ledger {
    pub url: String,
    pub key: String,
}

/// The objects the ledger held at one moment.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    intents: Vec<Value>,
    charges: Vec<Value>,
}

/// What the history already says of the ledger: the intents, the
/// successful charges and the cancellations it has recorded (or that were
/// there before the scenario).
#[derive(Clone, Debug, Default)]
pub struct Seen {
    intents: BTreeSet<String>,
    charges: BTreeSet<String>,
    canceled: BTreeSet<String>,
}

impl Seen {
    /// Everything in `snapshot`, as already there.
    pub fn all_of(snapshot: &Snapshot) -> Seen {
        let mut seen = Seen::default();
        seen.intents.extend(snapshot.intents.iter().map(id_of));
        seen.charges.extend(snapshot.charges.iter().map(id_of));
        seen.canceled
            .extend(snapshot.intents.iter().filter(|i| i["status"] == "canceled").map(id_of));
        seen
    }

    /// The backend events for what `snapshot` holds that the history does
    /// not say yet, in the order the backend created them: an intent, its
    /// charges that succeeded, its cancellation. An object the events
    /// cannot carry (an unknown capture method, card brand) is an error
    /// naming it.
    pub fn news(&mut self, snapshot: &Snapshot) -> Result<Vec<EventBody>, String> {
        let mut events = Vec::new();
        for intent in &snapshot.intents {
            let id = id_of(intent);
            if !self.intents.contains(&id) {
                events
                    .push(intent_created(intent).map_err(|e| format!("PaymentIntent {id}: {e}"))?);
                self.intents.insert(id.clone());
            }
            let charges =
                snapshot.charges.iter().filter(|c| c["payment_intent"].as_str() == Some(&id));
            for charge in charges {
                let charge_id = id_of(charge);
                if self.charges.contains(&charge_id) || charge["status"] != "succeeded" {
                    continue;
                }
                events.push(
                    charge_succeeded(charge).map_err(|e| format!("Charge {charge_id}: {e}"))?,
                );
                self.charges.insert(charge_id);
            }
            if intent["status"] == "canceled" && self.canceled.insert(id.clone()) {
                events.push(EventBody::IntentCanceled { intent: id, released_charge: None });
            }
        }
        Ok(events)
    }
}

impl Ledger {
    /// Every PaymentIntent and Charge the key can list now.
    pub fn snapshot(&self) -> Result<Snapshot, String> {
        Ok(Snapshot { intents: self.list("payment_intents")?, charges: self.list("charges")? })
    }

    /// Every object of a list, page by page, oldest first.
    fn list(&self, what: &str) -> Result<Vec<Value>, String> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = format!("{}/v1/{what}?limit={PAGE}", self.url);
            if let Some(after) = &after {
                url.push_str(&format!("&starting_after={after}"));
            }
            let answer = http::get(&url, Some(&self.key), PAGE_DEADLINE)?;
            if answer.status != 200 {
                return Err(format!(
                    "GET /v1/{what}: {}: {}",
                    answer.status,
                    super::probe::tail(&answer.body)
                ));
            }
            let page: Value = serde_json::from_str(&answer.body)
                .map_err(|e| format!("GET /v1/{what}: not JSON: {e}"))?;
            let data = page["data"]
                .as_array()
                .ok_or_else(|| format!("GET /v1/{what}: no `data` list in the answer"))?;
            after = data.last().and_then(|o| o["id"].as_str()).map(str::to_owned);
            all.extend(data.iter().cloned());
            if page["has_more"].as_bool() != Some(true) || after.is_none() {
                all.sort_by_key(|o| (o["created"].as_i64().unwrap_or(0), id_of(o)));
                return Ok(all);
            }
        }
        Err(format!("GET /v1/{what}: more than {} objects; not read", MAX_PAGES * PAGE))
    }
}

fn id_of(object: &Value) -> String {
    object["id"].as_str().unwrap_or_default().to_owned()
}

fn offline_id(object: &Value) -> Option<OfflineId> {
    object["metadata"]["offline_id"].as_str().map(|id| OfflineId(id.to_owned()))
}

fn money(object: &Value) -> Result<readerlab_emulator::core::Money, String> {
    serde_json::from_value(json!({"amount": object["amount"], "currency": object["currency"]}))
        .map_err(|e| format!("amount {} {}: {e}", object["amount"], object["currency"]))
}

fn intent_created(intent: &Value) -> Result<EventBody, String> {
    Ok(EventBody::IntentCreated {
        intent: id_of(intent),
        amount: money(intent)?,
        capture: serde_json::from_value(intent["capture_method"].clone())
            .map_err(|e| format!("capture_method {}: {e}", intent["capture_method"]))?,
        offline_id: offline_id(intent),
        payment: intent["metadata"]["readerlab_payment"].as_str().map(str::to_owned),
    })
}

fn charge_succeeded(charge: &Value) -> Result<EventBody, String> {
    let card = &charge["payment_method_details"]["card_present"];
    let summary =
        json!({"brand": card["brand"], "funding": card["funding"], "last4": card["last4"]});
    Ok(EventBody::ChargeSucceeded {
        charge: id_of(charge),
        intent: charge["payment_intent"].as_str().unwrap_or_default().to_owned(),
        amount: money(charge)?,
        card: serde_json::from_value(summary).map_err(|e| format!("card_present {card}: {e}"))?,
        captured: charge["captured"].as_bool().unwrap_or(false),
        offline_id: offline_id(charge),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(id: &str, status: &str, payment: &str) -> Value {
        json!({"id": id, "object": "payment_intent", "amount": 500, "currency": "usd",
               "capture_method": "automatic", "status": status, "created": 1,
               "metadata": {"readerlab_payment": payment}})
    }

    fn charge(id: &str, intent: &str, status: &str) -> Value {
        json!({"id": id, "object": "charge", "amount": 500, "currency": "usd",
               "status": status, "captured": true, "payment_intent": intent, "created": 1,
               "metadata": {"offline_id": "off_1"},
               "payment_method_details": {"card_present":
                   {"brand": "visa", "funding": "credit", "last4": "4242"}}})
    }

    #[test]
    fn only_what_appeared_becomes_events_in_order_and_once() {
        let before =
            Snapshot { intents: vec![intent("pi_old", "succeeded", "old")], charges: vec![] };
        let mut seen = Seen::all_of(&before);
        let first = Snapshot {
            intents: vec![
                intent("pi_old", "succeeded", "old"),
                intent("pi_tea", "processing", "tea"),
            ],
            charges: vec![],
        };
        let names = |events: Vec<EventBody>| events.iter().map(EventBody::name).collect::<Vec<_>>();
        assert_eq!(names(seen.news(&first).unwrap()), ["backend.payment_intent.created"]);
        let later = Snapshot {
            intents: vec![
                intent("pi_old", "succeeded", "old"),
                intent("pi_tea", "succeeded", "tea"),
                intent("pi_gone", "canceled", "gone"),
            ],
            charges: vec![
                charge("ch_tea", "pi_tea", "succeeded"),
                charge("ch_no", "pi_gone", "failed"),
            ],
        };
        let events = seen.news(&later).unwrap();
        assert!(matches!(&events[0],
            EventBody::ChargeSucceeded { offline_id: Some(id), .. } if id.0 == "off_1"));
        assert_eq!(
            names(events),
            [
                "backend.charge.succeeded",
                "backend.payment_intent.created",
                "backend.payment_intent.canceled"
            ]
        );
        assert!(seen.news(&later).unwrap().is_empty(), "each fact is said once");
    }

    #[test]
    fn an_object_the_history_cannot_carry_is_named() {
        let mut odd = intent("pi_odd", "succeeded", "x");
        odd["capture_method"] = json!("whenever");
        let after = Snapshot { intents: vec![odd], charges: vec![] };
        let error = Seen::default().news(&after).unwrap_err();
        assert!(error.starts_with("PaymentIntent pi_odd: capture_method"), "{error}");
    }
}
