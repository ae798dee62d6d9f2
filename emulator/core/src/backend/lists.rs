//! Stripe's list object (`{"object": "list", "data": [...], "has_more",
//! "url"}`) and its cursor paging: newest first, `limit` 1..=100 (default
//! 10), `starting_after` (older than an id) and `ending_before` (newer than
//! an id).
//!
//! Pure paging over ids the ledger hands in, oldest first; rendering each
//! object is the caller's closure, so only the page is rendered.

use crate::backend::api::{ApiError, ApiErrorKind, ListParams};
use crate::backend::objects;
use serde_json::{Value, json};

/// Stripe's default page size.
const DEFAULT_LIMIT: u64 = 10;
/// Stripe's largest page.
const MAX_LIMIT: u64 = 100;

/// One page of `ids_oldest_first` (ids of `object`, e.g. `payment_intent`)
/// as a Stripe list at `url`.
pub(super) fn page(
    object: &str,
    url: &str,
    ids_oldest_first: Vec<String>,
    params: &ListParams,
    render: impl Fn(&str) -> Value,
) -> Result<Value, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        let message = if limit == 0 {
            "This value must be greater than or equal to 1."
        } else {
            "This value must be less than or equal to 100."
        };
        return Err(param_error("parameter_invalid_integer", message, "limit"));
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut newest_first = ids_oldest_first;
    newest_first.reverse();
    let position = |id: &str, param: &str| {
        newest_first.iter().position(|i| i == id).ok_or_else(|| {
            param_error("resource_missing", &format!("No such {object}: '{id}'"), param)
        })
    };
    let (chosen, has_more) = if let Some(after) = &params.starting_after {
        let start = position(after, "starting_after")? + 1;
        let rest = &newest_first[start..];
        (&rest[..rest.len().min(limit)], rest.len() > limit)
    } else if let Some(before) = &params.ending_before {
        let end = position(before, "ending_before")?;
        let start = end.saturating_sub(limit);
        (&newest_first[start..end], start > 0)
    } else {
        (&newest_first[..newest_first.len().min(limit)], newest_first.len() > limit)
    };
    let data: Vec<Value> = chosen.iter().map(|id| render(id)).collect();
    Ok(json!({
        "object": "list",
        "data": data,
        "has_more": has_more,
        "url": url,
    }))
}

fn param_error(code: &str, message: &str, param: &str) -> ApiError {
    let status = if code == "resource_missing" { 404 } else { 400 };
    let mut error = objects::error(status, ApiErrorKind::InvalidRequestError, Some(code), message);
    error.param = Some(Box::new(param.to_owned()));
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("x_{i:02}")).collect()
    }

    fn data_ids(list: &Value) -> Vec<String> {
        list["data"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
    }

    fn params(limit: Option<u64>, after: Option<&str>, before: Option<&str>) -> ListParams {
        ListParams {
            limit,
            starting_after: after.map(str::to_owned),
            ending_before: before.map(str::to_owned),
        }
    }

    #[test]
    fn pages_run_newest_first_with_cursors_both_ways() {
        let render = |id: &str| json!(id);
        let first = page("x", "/v1/x", ids(5), &params(Some(2), None, None), render).unwrap();
        assert_eq!(data_ids(&first), ["x_05", "x_04"]);
        assert_eq!(first["has_more"], true);
        let next = page("x", "/v1/x", ids(5), &params(Some(2), Some("x_04"), None), render);
        assert_eq!(data_ids(&next.unwrap()), ["x_03", "x_02"]);
        let last = page("x", "/v1/x", ids(5), &params(Some(2), Some("x_02"), None), render);
        let last = last.unwrap();
        assert_eq!(data_ids(&last), ["x_01"]);
        assert_eq!(last["has_more"], false);
        let back = page("x", "/v1/x", ids(5), &params(Some(2), None, Some("x_02")), render);
        let back = back.unwrap();
        assert_eq!(data_ids(&back), ["x_04", "x_03"]);
        assert_eq!(back["has_more"], true);
        let all = page("x", "/v1/x", ids(3), &ListParams::default(), render).unwrap();
        assert_eq!(data_ids(&all), ["x_03", "x_02", "x_01"]);
        assert_eq!(all["object"], "list");
        assert_eq!(all["url"], "/v1/x");
    }

    #[test]
    fn limits_outside_one_to_a_hundred_and_unknown_cursors_are_refused() {
        let render = |id: &str| json!(id);
        for limit in [0, 101] {
            let error =
                page("x", "/v1/x", ids(1), &params(Some(limit), None, None), render).unwrap_err();
            assert_eq!(error.param.as_deref().map(String::as_str), Some("limit"));
        }
        let error =
            page("x", "/v1/x", ids(1), &params(None, Some("nope"), None), render).unwrap_err();
        assert_eq!((error.status, error.code.as_deref()), (404, Some("resource_missing")));
    }
}
