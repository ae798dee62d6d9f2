//! Reading a request's parameters the way Stripe validates them: each one is
//! taken once, typed (text, integer, boolean, hash, list), and whatever is
//! left at the end is "Received unknown parameter". Errors are Stripe's
//! (`parameter_missing`, `parameter_invalid_integer`, `parameter_unknown`),
//! each naming the parameter in its bracketed spelling (`address[country]`).
//!
//! Also the conversions between a form tree and JSON that `process_config`
//! needs. Pure; no HTTP.

use crate::backend::{ApiError, ApiErrorKind};
use crate::wire::form::{Form, FormValue};
use serde_json::Value;
use std::collections::BTreeMap;

/// The parameters of one request (or one hash inside it) not read yet.
#[derive(Debug)]
pub(crate) struct Params {
    /// `address` for the hash `address[...]`; empty at the top level.
    prefix: String,
    form: Form,
}

impl Params {
    pub(crate) fn new(form: Form) -> Params {
        Params { prefix: String::new(), form }
    }

    /// The bracketed name of `name` here: `address[country]`.
    fn full(&self, name: &str) -> String {
        if self.prefix.is_empty() { name.to_owned() } else { format!("{}[{name}]", self.prefix) }
    }

    /// Takes `name` whatever it is; `expand` and other ignored parameters use this.
    pub(crate) fn take(&mut self, name: &str) -> Option<FormValue> {
        self.form.remove(name)
    }

    pub(crate) fn text(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        match self.form.remove(name) {
            None => Ok(None),
            Some(FormValue::Text(text)) => Ok(Some(text)),
            Some(_) => Err(invalid_param(
                "parameter_invalid_string",
                &format!(
                    "Invalid string: {} must be a string, not a hash or list.",
                    self.full(name)
                ),
                &self.full(name),
            )),
        }
    }

    pub(crate) fn required_text(&mut self, name: &str) -> Result<String, ApiError> {
        match self.text(name)? {
            Some(text) if !text.is_empty() => Ok(text),
            _ => Err(missing_param(&self.full(name))),
        }
    }

    pub(crate) fn integer(&mut self, name: &str) -> Result<Option<u64>, ApiError> {
        let Some(text) = self.text(name)? else { return Ok(None) };
        text.parse::<u64>().map(Some).map_err(|_| {
            invalid_param(
                "parameter_invalid_integer",
                &format!("Invalid integer: {text}"),
                &self.full(name),
            )
        })
    }

    pub(crate) fn boolean(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        let Some(text) = self.text(name)? else { return Ok(None) };
        match text.as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(invalid_param(
                "parameter_invalid_boolean",
                &format!("Invalid boolean: {text}"),
                &self.full(name),
            )),
        }
    }

    /// A hash `name[...]` as its own parameters (an empty value `name=` is no hash).
    pub(crate) fn hash(&mut self, name: &str) -> Result<Option<Params>, ApiError> {
        match self.form.remove(name) {
            None => Ok(None),
            Some(FormValue::Text(text)) if text.is_empty() => Ok(None),
            Some(FormValue::Map(map)) => Ok(Some(Params { prefix: self.full(name), form: map })),
            Some(_) => Err(invalid_param(
                "parameter_invalid_string",
                &format!("Invalid hash: {} must be a hash.", self.full(name)),
                &self.full(name),
            )),
        }
    }

    /// A list of text (`name[0]=…`); a single value counts as a list of one.
    pub(crate) fn texts(&mut self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        let invalid = |full: String| {
            invalid_param("parameter_invalid_string", &format!("Invalid array: {full}"), &full)
        };
        match self.form.remove(name) {
            None => Ok(None),
            Some(FormValue::Text(text)) => Ok(Some(vec![text])),
            Some(FormValue::List(items)) => items
                .into_iter()
                .map(|item| match item {
                    FormValue::Text(text) => Ok(text),
                    _ => Err(invalid(self.full(name))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(FormValue::Map(_)) => Err(invalid(self.full(name))),
        }
    }

    /// `metadata[k]=v`: a hash of text; `metadata=` is an empty one.
    pub(crate) fn string_map(&mut self, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
        let Some(mut hash) = self.hash(name)? else { return Ok(BTreeMap::new()) };
        let keys: Vec<String> = hash.form.keys().cloned().collect();
        keys.into_iter()
            .map(|key| Ok((key.clone(), hash.text(&key)?.unwrap_or_default())))
            .collect()
    }

    /// A hash as JSON (see [`form_to_json`]).
    pub(crate) fn json_map(
        &mut self,
        name: &str,
    ) -> Result<serde_json::Map<String, Value>, ApiError> {
        let Some(hash) = self.hash(name)? else { return Ok(serde_json::Map::new()) };
        Ok(hash.form.into_iter().map(|(k, v)| (k, form_to_json(v))).collect())
    }

    /// Refuses whatever was not read: Stripe names the first unknown one.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        match self.form.keys().next() {
            None => Ok(()),
            Some(name) => {
                let full = self.full(name);
                Err(invalid_param(
                    "parameter_unknown",
                    &format!("Received unknown parameter: {full}"),
                    &full,
                ))
            }
        }
    }
}

/// A form value as JSON: `true`/`false` become booleans and canonical
/// unsigned integers numbers, the way Stripe types `process_config[...]`.
pub(crate) fn form_to_json(value: FormValue) -> Value {
    match value {
        FormValue::Text(text) => match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => match text.parse::<u64>() {
                Ok(number) if number.to_string() == text => Value::from(number),
                _ => Value::String(text),
            },
        },
        FormValue::Map(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, form_to_json(v))).collect())
        }
        FormValue::List(items) => Value::Array(items.into_iter().map(form_to_json).collect()),
    }
}

/// JSON as a form value (the inverse of [`form_to_json`]); `null` is `None`
/// (an absent parameter).
pub(crate) fn json_to_form(value: &Value) -> Option<FormValue> {
    match value {
        Value::Null => None,
        Value::Bool(b) => Some(FormValue::Text(b.to_string())),
        Value::Number(n) => Some(FormValue::Text(n.to_string())),
        Value::String(s) => Some(FormValue::Text(s.clone())),
        Value::Array(items) => {
            Some(FormValue::List(items.iter().filter_map(json_to_form).collect()))
        }
        Value::Object(map) => Some(FormValue::Map(
            map.iter().filter_map(|(k, v)| json_to_form(v).map(|v| (k.clone(), v))).collect(),
        )),
    }
}

/// A 400 `invalid_request_error` with `code` about `param`.
pub(crate) fn invalid_param(code: &str, message: &str, param: &str) -> ApiError {
    ApiError {
        status: 400,
        kind: ApiErrorKind::InvalidRequestError,
        code: Some(code.to_owned()),
        decline_code: None,
        message: message.to_owned(),
        payment_intent: None,
        param: Some(Box::new(param.to_owned())),
    }
}

pub(crate) fn missing_param(param: &str) -> ApiError {
    invalid_param("parameter_missing", &format!("Missing required param: {param}."), param)
}
