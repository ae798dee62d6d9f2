//! The toxics: what each one is, and its JSON in Toxiproxy's shape.
//!
//! A [`Toxic`] is plain data: a name, the stream it acts on, its toxicity
//! and its kind with the kind's attributes. Reading one from JSON checks
//! every field and names the field it refuses, so a client that sends
//! `"latency": "200"` learns which attribute was wrong. What a toxic does to
//! the bytes is `chain.rs`'s job; nothing here touches a socket.

use super::error::ProxyError;
use serde_json::{Map, Value, json};
use std::fmt;

/// Which way through the proxy a toxic acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// From the client to the upstream server.
    Upstream,
    /// From the upstream server back to the client (Toxiproxy's default).
    Downstream,
}

impl Stream {
    /// The name Toxiproxy's JSON uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a toxic does, with its attributes in Toxiproxy's units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToxicKind {
    /// Delays each chunk by `latency` ms, plus or minus up to `jitter` ms.
    Latency {
        /// Milliseconds added to every chunk.
        latency: u64,
        /// Milliseconds of random variation either side of `latency`.
        jitter: u64,
    },
    /// Limits the stream to `rate` KB/s (1 KB = 1000 bytes); 0 means no limit.
    Bandwidth {
        /// Kilobytes per second.
        rate: u64,
    },
    /// Cuts each chunk into pieces of about `average_size` bytes (plus or
    /// minus `size_variation`), `delay` microseconds apart.
    Slicer {
        /// The mean piece size in bytes.
        average_size: u64,
        /// How far a piece may stray from the mean, in bytes.
        size_variation: u64,
        /// Microseconds between pieces.
        delay: u64,
    },
    /// Lets no data through; closes the connection `timeout` ms after it
    /// took hold, or never when `timeout` is 0.
    Timeout {
        /// Milliseconds before the connection is closed; 0: never.
        timeout: u64,
    },
    /// Once data arrives, drops it and resets the connection (TCP RST)
    /// `timeout` ms later.
    ResetPeer {
        /// Milliseconds between the first data and the reset.
        timeout: u64,
    },
    /// Closes the connection once `bytes` bytes have passed.
    LimitData {
        /// Bytes let through before the close.
        bytes: u64,
    },
}

impl ToxicKind {
    /// The type name in Toxiproxy's JSON (`latency`, `reset_peer`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            ToxicKind::Latency { .. } => "latency",
            ToxicKind::Bandwidth { .. } => "bandwidth",
            ToxicKind::Slicer { .. } => "slicer",
            ToxicKind::Timeout { .. } => "timeout",
            ToxicKind::ResetPeer { .. } => "reset_peer",
            ToxicKind::LimitData { .. } => "limit_data",
        }
    }

    /// The kind named `type_name` with every attribute at Toxiproxy's
    /// default (zero), or `None` for a type this proxy does not know.
    fn zeroed(type_name: &str) -> Option<ToxicKind> {
        Some(match type_name {
            "latency" => ToxicKind::Latency { latency: 0, jitter: 0 },
            "bandwidth" => ToxicKind::Bandwidth { rate: 0 },
            "slicer" => ToxicKind::Slicer { average_size: 0, size_variation: 0, delay: 0 },
            "timeout" => ToxicKind::Timeout { timeout: 0 },
            "reset_peer" => ToxicKind::ResetPeer { timeout: 0 },
            "limit_data" => ToxicKind::LimitData { bytes: 0 },
            _ => return None,
        })
    }

    /// Each attribute by its JSON name, mutably, so one loop can read them all.
    fn attributes_mut(&mut self) -> Vec<(&'static str, &mut u64)> {
        match self {
            ToxicKind::Latency { latency, jitter } => {
                vec![("latency", latency), ("jitter", jitter)]
            }
            ToxicKind::Bandwidth { rate } => vec![("rate", rate)],
            ToxicKind::Slicer { average_size, size_variation, delay } => vec![
                ("average_size", average_size),
                ("size_variation", size_variation),
                ("delay", delay),
            ],
            ToxicKind::Timeout { timeout } | ToxicKind::ResetPeer { timeout } => {
                vec![("timeout", timeout)]
            }
            ToxicKind::LimitData { bytes } => vec![("bytes", bytes)],
        }
    }

    /// The attributes as Toxiproxy prints them.
    pub fn attributes_json(&self) -> Value {
        let mut copy = self.clone();
        let map: Map<String, Value> = copy
            .attributes_mut()
            .into_iter()
            .map(|(name, value)| (name.to_string(), Value::from(*value)))
            .collect();
        Value::Object(map)
    }

    /// Sets the attributes present in `attributes` (a JSON object); absent
    /// ones keep their value. Unknown attributes are ignored, as Go's
    /// decoder in Toxiproxy ignores them.
    fn apply_attributes(&mut self, attributes: &Value) -> Result<(), ProxyError> {
        let object = match attributes {
            Value::Object(object) => object,
            Value::Null => return Ok(()),
            _ => return Err(ProxyError::bad_field("attributes", "must be a JSON object")),
        };
        for (name, slot) in self.attributes_mut() {
            if let Some(value) = object.get(name) {
                *slot = value.as_u64().ok_or_else(|| {
                    ProxyError::bad_field(
                        name,
                        format!("must be a whole number of at least 0, not {value}"),
                    )
                })?;
            }
        }
        Ok(())
    }
}

/// One toxic on one proxy.
#[derive(Debug, Clone, PartialEq)]
pub struct Toxic {
    /// Unique per proxy; Toxiproxy's default is `<type>_<stream>`.
    pub name: String,
    /// The direction it acts on.
    pub stream: Stream,
    /// The chance, from 0 to 1, that it applies to a given connection.
    pub toxicity: f64,
    /// What it does.
    pub kind: ToxicKind,
}

impl Toxic {
    /// A toxic on `stream` that applies to every connection, named
    /// `<type>_<stream>` as Toxiproxy names it.
    pub fn new(kind: ToxicKind, stream: Stream) -> Toxic {
        Toxic { name: format!("{}_{stream}", kind.type_name()), stream, toxicity: 1.0, kind }
    }

    /// The same toxic under another name.
    pub fn named(mut self, name: impl Into<String>) -> Toxic {
        self.name = name.into();
        self
    }

    /// The same toxic applying to each connection with this chance (0 to 1).
    pub fn with_toxicity(mut self, toxicity: f64) -> Toxic {
        self.toxicity = toxicity;
        self
    }

    /// Checks what the typed constructors cannot: a name, a toxicity in 0..=1.
    pub fn validate(&self) -> Result<(), ProxyError> {
        if self.name.is_empty() {
            return Err(ProxyError::bad_field("name", "must not be empty"));
        }
        if !(0.0..=1.0).contains(&self.toxicity) {
            return Err(ProxyError::bad_field(
                "toxicity",
                format!("must be a number from 0 to 1, not {}", self.toxicity),
            ));
        }
        Ok(())
    }

    /// Toxiproxy's JSON for this toxic.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind.type_name(),
            "stream": self.stream.as_str(),
            "toxicity": self.toxicity,
            "attributes": self.kind.attributes_json(),
        })
    }

    /// Reads a new toxic from the body of `POST /proxies/{name}/toxics`.
    pub fn from_json(body: &Value) -> Result<Toxic, ProxyError> {
        let object = body.as_object().ok_or_else(|| {
            ProxyError::BadRequest("the body must be a JSON object describing a toxic".into())
        })?;
        let type_name = match object.get("type") {
            Some(Value::String(name)) => name.as_str(),
            Some(other) => return Err(ProxyError::bad_field("type", format!("not {other}"))),
            None => return Err(ProxyError::MissingField("type")),
        };
        let mut kind = ToxicKind::zeroed(type_name)
            .ok_or_else(|| ProxyError::InvalidToxicType(type_name.to_string()))?;
        let stream = match object.get("stream") {
            None | Some(Value::Null) => Stream::Downstream,
            Some(Value::String(s)) if s == "upstream" => Stream::Upstream,
            Some(Value::String(s)) if s == "downstream" => Stream::Downstream,
            Some(_) => return Err(ProxyError::InvalidStream),
        };
        if let Some(attributes) = object.get("attributes") {
            kind.apply_attributes(attributes)?;
        }
        let mut toxic = Toxic::new(kind, stream);
        match object.get("name") {
            None | Some(Value::Null) => {}
            Some(Value::String(name)) if name.is_empty() => {}
            Some(Value::String(name)) => toxic.name.clone_from(name),
            Some(other) => {
                return Err(ProxyError::bad_field(
                    "name",
                    format!("must be a string, not {other}"),
                ));
            }
        }
        if let Some(value) = object.get("toxicity") {
            toxic.toxicity = read_toxicity(value)?;
        }
        toxic.validate()?;
        Ok(toxic)
    }

    /// Applies the body of `POST /proxies/{name}/toxics/{toxic}`: new
    /// attributes and toxicity; name, type and stream stay as they are.
    pub fn update_from_json(&self, body: &Value) -> Result<Toxic, ProxyError> {
        let object = body.as_object().ok_or_else(|| {
            ProxyError::BadRequest("the body must be a JSON object describing a toxic".into())
        })?;
        let mut updated = self.clone();
        if let Some(attributes) = object.get("attributes") {
            updated.kind.apply_attributes(attributes)?;
        }
        if let Some(value) = object.get("toxicity") {
            updated.toxicity = read_toxicity(value)?;
        }
        updated.validate()?;
        Ok(updated)
    }
}

fn read_toxicity(value: &Value) -> Result<f64, ProxyError> {
    value.as_f64().filter(|t| (0.0..=1.0).contains(t)).ok_or_else(|| {
        ProxyError::bad_field("toxicity", format!("must be a number from 0 to 1, not {value}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_toxiproxy() {
        let toxic = Toxic::from_json(&json!({"type": "latency"})).unwrap();
        assert_eq!(toxic.name, "latency_downstream");
        assert_eq!(toxic.stream, Stream::Downstream);
        assert_eq!(toxic.toxicity, 1.0);
        assert_eq!(toxic.kind, ToxicKind::Latency { latency: 0, jitter: 0 });
    }

    #[test]
    fn json_round_trips_every_kind() {
        for type_name in ["latency", "bandwidth", "slicer", "timeout", "reset_peer", "limit_data"] {
            let mut kind = ToxicKind::zeroed(type_name).unwrap();
            for (_, value) in kind.attributes_mut() {
                *value = 7;
            }
            let toxic = Toxic::new(kind, Stream::Upstream).named("x").with_toxicity(0.5);
            assert_eq!(Toxic::from_json(&toxic.to_json()).unwrap(), toxic);
        }
    }

    #[test]
    fn refusals_name_the_field() {
        let cases = [
            (json!({"type": "latency", "attributes": {"latency": "200"}}), "latency"),
            (json!({"type": "latency", "attributes": {"jitter": -1}}), "jitter"),
            (json!({"type": "bandwidth", "attributes": {"rate": 1.5}}), "rate"),
            (json!({"type": "latency", "toxicity": 2}), "toxicity"),
            (json!({"type": "latency", "attributes": []}), "attributes"),
            (json!({"type": "latency", "name": 3}), "name"),
            (json!({"type": "latency", "stream": "sideways"}), "stream"),
            (json!({"type": "wormhole"}), "wormhole"),
            (json!({"name": "x"}), "type"),
        ];
        for (body, field) in cases {
            let error = Toxic::from_json(&body).unwrap_err();
            assert_eq!(error.status(), 400, "{body}");
            assert!(error.to_string().contains(field), "{body}: {error}");
        }
    }

    #[test]
    fn an_update_keeps_what_it_does_not_name() {
        let toxic = Toxic::new(ToxicKind::Latency { latency: 100, jitter: 5 }, Stream::Upstream);
        let updated = toxic.update_from_json(&json!({"attributes": {"latency": 300}})).unwrap();
        assert_eq!(updated.kind, ToxicKind::Latency { latency: 300, jitter: 5 });
        assert_eq!(updated.name, "latency_upstream");
    }
}
