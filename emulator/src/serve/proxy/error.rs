//! `ProxyError`: every refusal of the fault proxy, with the HTTP status
//! and the wording Toxiproxy's API uses for it.
//!
//! The API turns one into `{"error": "...", "status": N}`; the Rust API
//! returns it as is, so a caller can match on the kind.

use serde_json::{Value, json};

/// Why the proxy refused a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// No proxy has this name.
    #[error("proxy not found: {0}")]
    ProxyNotFound(String),
    /// A proxy of this name exists already.
    #[error("proxy already exists: {0}")]
    ProxyAlreadyExists(String),
    /// The proxy has no toxic of this name.
    #[error("toxic not found: {0}")]
    ToxicNotFound(String),
    /// The proxy has a toxic of this name already.
    #[error("toxic already exists: {0}")]
    ToxicAlreadyExists(String),
    /// The body is not the JSON the endpoint takes.
    #[error("bad request body: {0}")]
    BadRequest(String),
    /// A field the request needs is absent or empty.
    #[error("missing required field: {0}")]
    MissingField(&'static str),
    /// A field is present but its value is refused.
    #[error("invalid field {field}: {reason}")]
    InvalidField {
        /// The JSON name of the field.
        field: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The stream is neither `upstream` nor `downstream`.
    #[error("stream was invalid, can be either upstream or downstream")]
    InvalidStream,
    /// A toxic type this proxy does not have.
    #[error(
        "invalid toxic type: {0} (known: latency, bandwidth, slicer, timeout, reset_peer, \
         limit_data)"
    )]
    InvalidToxicType(String),
    /// The proxy could not listen on its address.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address it tried.
        address: String,
        /// What the operating system said.
        source: std::io::Error,
    },
}

impl ProxyError {
    /// A refused field with the reason.
    pub fn bad_field(field: &'static str, reason: impl Into<String>) -> ProxyError {
        ProxyError::InvalidField { field, reason: reason.into() }
    }

    /// The HTTP status Toxiproxy answers this with.
    pub fn status(&self) -> u16 {
        match self {
            ProxyError::ProxyNotFound(_) | ProxyError::ToxicNotFound(_) => 404,
            ProxyError::ProxyAlreadyExists(_) | ProxyError::ToxicAlreadyExists(_) => 409,
            ProxyError::BadRequest(_)
            | ProxyError::MissingField(_)
            | ProxyError::InvalidField { .. }
            | ProxyError::InvalidStream
            | ProxyError::InvalidToxicType(_) => 400,
            // An address that does not parse is the caller's mistake; one
            // that is taken or not ours is the machine's.
            ProxyError::Listen { source, .. }
                if source.kind() == std::io::ErrorKind::InvalidInput =>
            {
                400
            }
            ProxyError::Listen { .. } => 500,
        }
    }

    /// Toxiproxy's error body: `{"error": message, "status": code}`.
    pub fn to_json(&self) -> Value {
        json!({ "error": self.to_string(), "status": self.status() })
    }
}
