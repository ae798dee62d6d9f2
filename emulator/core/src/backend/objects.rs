//! Stripe's JSON shapes of the ledger's records: `payment_intent`, `charge`,
//! `terminal.connection_token`, and Stripe's error object.
//!
//! Every key written here exists in Stripe's own objects (the test binary
//! checks them against the fixtures of the public stripe/openapi repository),
//! so what a Stripe client library parses from the served target is what the
//! sim target records. Rendering only: nothing here changes a record.

use crate::backend::api::{ApiError, ApiErrorKind};
use crate::backend::config::BackendConfig;
use crate::backend::records::{Charge, ChargeStatus, IntentStatus, PaymentIntent};
use crate::backend::terminal::{Configuration, Location, RegisteredReader};
use crate::backend::tokens::ConnectionToken;
use crate::offline::CaptureMethod;
use crate::profile::EntryMode;
use serde_json::{Value, json};

/// The `payment_intent` object.
pub(crate) fn payment_intent(intent: &PaymentIntent, config: &BackendConfig) -> Value {
    let amount = intent.amount.amount;
    let capturable = if intent.status == IntentStatus::RequiresCapture { amount } else { 0 };
    let received = if intent.status == IntentStatus::Succeeded { amount } else { 0 };
    let mut metadata: serde_json::Map<String, Value> =
        intent.metadata.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    if let Some(offline_id) = &intent.offline_id {
        metadata.insert("offline_id".to_owned(), json!(offline_id.as_str()));
    }
    json!({
        "id": intent.id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": capturable,
        "amount_received": received,
        "application": null,
        "application_fee_amount": null,
        "canceled_at": intent.canceled_at.map(|t| config.unix_secs(t)),
        "cancellation_reason": null,
        "capture_method": capture_method(intent.capture),
        "client_secret": format!("{}_secret_readerlab", intent.id),
        "confirmation_method": "automatic",
        "created": config.unix_secs(intent.created),
        "currency": intent.amount.currency.as_str(),
        "customer": null,
        "description": intent.description,
        "last_payment_error": intent.last_payment_error.as_ref().map(|e| {
            let mut body = error_body(e);
            if let Some(map) = body.as_object_mut() {
                map.remove("payment_intent");
                map.insert("charge".to_owned(), json!(intent.latest_charge));
                map.insert("payment_method".to_owned(), json!(intent.payment_method));
            }
            body
        }),
        "latest_charge": intent.latest_charge,
        "livemode": intent.livemode,
        "metadata": metadata,
        "next_action": null,
        "on_behalf_of": null,
        "payment_method": intent.payment_method,
        "payment_method_options": {},
        "payment_method_types": ["card_present"],
        "processing": null,
        "receipt_email": null,
        "review": null,
        "setup_future_usage": null,
        "shipping": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": intent.status.as_str(),
        "transfer_data": null,
        "transfer_group": null,
    })
}

/// The `charge` object, with `payment_method_details.card_present`.
pub(crate) fn charge(charge: &Charge, config: &BackendConfig) -> Value {
    let amount = charge.amount.amount;
    let succeeded = charge.status == ChargeStatus::Succeeded;
    let mut metadata = serde_json::Map::new();
    if let Some(offline) = &charge.offline {
        metadata.insert("offline_id".to_owned(), json!(offline.offline_id.as_str()));
    }
    let failure = charge.failure.as_ref();
    json!({
        "id": charge.id,
        "object": "charge",
        "amount": amount,
        "amount_captured": if charge.captured { amount } else { 0 },
        "amount_refunded": if charge.released { amount } else { 0 },
        "application": null,
        "application_fee": null,
        "application_fee_amount": null,
        "balance_transaction": null,
        "billing_details": {
            "address": {
                "city": null, "country": null, "line1": null, "line2": null,
                "postal_code": null, "state": null
            },
            "email": null,
            "name": null,
            "phone": null
        },
        "calculated_statement_descriptor": null,
        "captured": charge.captured,
        "created": config.unix_secs(charge.created),
        "currency": charge.amount.currency.as_str(),
        "customer": null,
        "description": null,
        "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": failure.map(|f| f.error_code.as_str()),
        "failure_message": failure.map(|_| "Your card was declined."),
        "fraud_details": {},
        "livemode": charge.livemode,
        "metadata": metadata,
        "on_behalf_of": null,
        "outcome": {
            "network_status": if succeeded { "approved_by_network" } else { "declined_by_network" },
            "reason": failure.map(|f| f.decline_code.as_str()),
            "seller_message": if succeeded {
                "Payment complete."
            } else {
                "The bank did not return any further details with this decline."
            },
            "type": if succeeded { "authorized" } else { "issuer_declined" },
        },
        "paid": succeeded,
        "payment_intent": charge.intent,
        "payment_method": charge.payment_method,
        "payment_method_details": {
            "card_present": {
                "amount_authorized": if succeeded { Some(amount) } else { None },
                "brand": charge.card.brand,
                "funding": charge.card.funding,
                "last4": charge.card.last4,
                "network": charge.card.brand,
                "offline": charge.offline.as_ref().map(|o| json!({
                    "stored_at": config.unix_secs(o.stored_at),
                    "type": "deferred",
                })),
                "read_method": read_method(charge.entry_mode),
            },
            "type": "card_present",
        },
        "receipt_email": null,
        "receipt_number": null,
        "refunded": charge.released,
        "review": null,
        "shipping": null,
        "source_transfer": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": if succeeded { "succeeded" } else { "failed" },
        "transfer_data": null,
        "transfer_group": null,
    })
}

/// The `terminal.connection_token` object; `location` only when the token
/// was restricted to one, as Stripe omits it otherwise.
pub(crate) fn connection_token(token: &ConnectionToken) -> Value {
    let mut object = json!({
        "object": "terminal.connection_token",
        "secret": token.secret,
    });
    if let (Some(location), Some(map)) = (&token.location, object.as_object_mut()) {
        map.insert("location".to_owned(), json!(location));
    }
    object
}

/// Stripe's error body (the inside of `{"error": ...}`).
pub fn error_body(error: &ApiError) -> Value {
    let mut body = json!({
        "type": error.kind,
        "message": error.message,
    });
    if let Some(map) = body.as_object_mut() {
        if let Some(code) = &error.code {
            map.insert("code".to_owned(), json!(code));
        }
        if let Some(decline_code) = &error.decline_code {
            map.insert("decline_code".to_owned(), json!(decline_code));
        }
        if let Some(param) = &error.param {
            map.insert("param".to_owned(), json!(param));
        }
        if let Some(intent) = &error.payment_intent {
            map.insert("payment_intent".to_owned(), intent.clone());
        }
    }
    body
}

/// Stripe's `capture_method` values.
fn capture_method(capture: CaptureMethod) -> &'static str {
    match capture {
        CaptureMethod::Automatic => "automatic",
        CaptureMethod::Manual => "manual",
    }
}

/// Stripe's `card_present.read_method` values.
fn read_method(entry: EntryMode) -> &'static str {
    match entry {
        EntryMode::Chip => "contact_emv",
        EntryMode::Contactless => "contactless_emv",
        EntryMode::Swipe => "magnetic_stripe_track2",
    }
}

/// An error of `kind` with `status`, `code` and a message.
pub(crate) fn error(
    status: u16,
    kind: ApiErrorKind,
    code: Option<&str>,
    message: &str,
) -> ApiError {
    ApiError {
        status,
        kind,
        code: code.map(str::to_owned),
        decline_code: None,
        message: message.to_owned(),
        payment_intent: None,
        param: None,
    }
}

/// The `terminal.location` object.
pub(crate) fn location(location: &Location) -> Value {
    let address = &location.address;
    json!({
        "id": location.id,
        "object": "terminal.location",
        "address": {
            "city": address.city,
            "country": address.country,
            "line1": address.line1,
            "line2": address.line2,
            "postal_code": address.postal_code,
            "state": address.state,
        },
        "display_name": location.display_name,
        "livemode": location.livemode,
        "metadata": {},
    })
}

/// The `terminal.configuration` object, with its `offline` part only.
pub(crate) fn configuration(configuration: &Configuration) -> Value {
    json!({
        "id": configuration.id,
        "object": "terminal.configuration",
        "is_account_default": configuration.is_account_default,
        "livemode": configuration.livemode,
        "name": configuration.name,
        "offline": configuration.offline_enabled.map(|enabled| json!({"enabled": enabled})),
    })
}

/// The `terminal.reader` object; `online` is the rig's view of its internet.
pub(crate) fn reader(reader: &RegisteredReader, online: bool) -> Value {
    let action = reader.action.as_ref().map(|action| {
        let mut process = json!({"payment_intent": action.intent});
        if !action.process_config.is_empty()
            && let Some(map) = process.as_object_mut()
        {
            map.insert("process_config".to_owned(), Value::Object(action.process_config.clone()));
        }
        json!({
            "type": "process_payment_intent",
            "status": action.status.as_str(),
            "process_payment_intent": process,
            "failure_code": action.failure_code,
            "failure_message": action.failure_message,
        })
    });
    json!({
        "id": reader.id,
        "object": "terminal.reader",
        "action": action,
        "device_sw_version": null,
        "device_type": reader.model.stripe_device_type(),
        "ip_address": null,
        "label": reader.label,
        "last_seen_at": null,
        "livemode": reader.livemode,
        "location": reader.location,
        "metadata": {},
        "serial_number": reader.serial,
        "status": if online { "online" } else { "offline" },
    })
}
