//! Stripe's example objects (the vendored subset of stripe/openapi's
//! fixtures3.json) and their keys, for the tests that compare our objects'
//! shapes with Stripe's, and the backend's replies unwrapped. Not a test
//! binary itself (a module directory).

use readerlab_emulator::core::backend::{ApiError, ApiReply};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// Stripe's example of `resource` (`payment_intent`, `terminal.reader`, ...).
pub fn fixture(resource: &str) -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/stripe/fixtures3-subset.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let all: Value = serde_json::from_str(&text).expect("the vendored fixtures are JSON");
    all["resources"][resource].clone()
}

/// An object's keys.
pub fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().expect("an object").keys().cloned().collect()
}

/// The success a reply must be.
pub fn ok(reply: ApiReply) -> Value {
    match reply {
        ApiReply::Ok(value) => value,
        ApiReply::Err(error) => panic!("expected a success, got {error:?}"),
    }
}

/// The error a reply must be.
pub fn err(reply: ApiReply) -> ApiError {
    match reply {
        ApiReply::Err(error) => error,
        ApiReply::Ok(value) => panic!("expected an error, got {value}"),
    }
}
