//! The timeline report (docs/report.md): one self-contained HTML file per
//! history, and an index per run.
//!
//! What the page shows is worked out here, from the history and the
//! checker's report, so it is tested in Rust and the page only draws it:
//!
//! - [`Model`]: a lane per actor (the POS and its SDK, each reader, the
//!   backend, each link a fault hit, the rig), fault windows with the lanes
//!   they shade, instant faults, each payment's life (start, stored,
//!   forwarded, outcome) with its final state, and every violation as a
//!   sentence naming the payment and the events that prove it.
//! - [`page`]: the HTML, with the model and the history (as JSON Lines,
//!   for the event inspector) embedded, and the script and style inline:
//!   no network, no CDN; it works from a `file://` URL.
//! - [`live_page`]: the same page for `readerlab serve`'s `/_readerlab/ui`,
//!   which builds its model in the browser from `GET /_readerlab/history`
//!   as events arrive.

mod model;

pub use model::{Fault, Lane, Model, PaymentSpan, Sentence};

use crate::check::Report;
use readerlab_emulator::core::Event;
use std::fmt::Write as _;

const SCRIPT: &str = include_str!("timeline.js");
const STYLE: &str = include_str!("timeline.css");

/// The report page of one history.
pub fn page(title: &str, history: &[Event], report: &Report) -> String {
    let model = Model::build(title, history, report);
    let jsonl = readerlab_emulator::history::to_jsonl(history);
    let jsonl = String::from_utf8(jsonl).expect("histories are UTF-8");
    render(title, &serde_json::to_string(&model).expect("a model serializes"), &jsonl, false)
}

/// The live page `readerlab serve` answers at `/_readerlab/ui`.
pub fn live_page() -> String {
    render("readerlab: live rig", "null", "", true)
}

fn render(title: &str, model: &str, jsonl: &str, live: bool) -> String {
    let mut html = String::with_capacity(jsonl.len() + model.len() + SCRIPT.len() + 8192);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style></head>\n<body data-live=\"{live}\">\n\
         <div id=\"app\"><p id=\"loading\">Loading the timeline…</p></div>\n",
        escape(title)
    );
    let _ = write!(
        html,
        "<script type=\"application/json\" id=\"model\">{}</script>\n\
         <script type=\"application/x-ndjson\" id=\"history\">{}</script>\n\
         <script>{SCRIPT}</script>\n</body></html>\n",
        script_text(model),
        script_text(jsonl)
    );
    html
}

/// JSON text safe inside `<script>`: no `<` at all, so neither `</script`
/// nor `<!--` can end or bend it. Every `<` of JSON text is inside a string,
/// where `\u003c` reads back as the same character.
fn script_text(text: &str) -> String {
    text.replace('<', "\\u003c")
}

/// Text safe in HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One scenario or case of a run, for the index.
#[derive(Clone, Debug)]
pub struct IndexEntry {
    /// Where it came from (`features/x.feature:12`).
    pub location: String,
    /// Its name.
    pub name: String,
    /// `passed`, `failed`, `skipped`.
    pub verdict: String,
    /// Wall time, in milliseconds.
    pub wall_ms: u128,
    /// The timeline's file name beside the index, if there is one.
    pub timeline: Option<String>,
    /// Why it failed or was skipped.
    pub detail: String,
}

/// The index page of a run.
pub fn index_page(title: &str, summary: &str, entries: &[IndexEntry]) -> String {
    let mut rows = String::new();
    for e in entries {
        let link = match &e.timeline {
            Some(file) => format!("<a href=\"{}\">timeline</a>", escape(file)),
            None => "—".to_owned(),
        };
        let detail = e.detail.lines().next().unwrap_or_default();
        let _ = writeln!(
            rows,
            "<tr class=\"v-{v}\"><td class=\"verdict\">{v}</td><td>{name}<div class=\"loc\">{loc}</div>\
             <div class=\"detail\">{detail}</div></td><td class=\"num\">{ms} ms</td><td>{link}</td></tr>",
            v = escape(&e.verdict),
            name = escape(&e.name),
            loc = escape(&e.location),
            detail = escape(detail),
            ms = e.wall_ms,
        );
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n\
         <style>{STYLE}</style></head><body><div id=\"index\"><h1>{t}</h1><p>{s}</p>\n\
         <table class=\"runs\"><thead><tr><th>verdict</th><th>scenario</th><th>time</th>\
         <th>timeline</th></tr></thead><tbody>\n{rows}</tbody></table></div></body></html>\n",
        t = escape(title),
        s = escape(summary),
    )
}

/// The live view `readerlab serve` answers at `/_readerlab/ui`: the page,
/// and the model of the rig's history so far, judged by the checker.
#[derive(Clone, Copy, Debug)]
pub struct LiveView;

impl readerlab_emulator::serve::control::UiHost for LiveView {
    fn page(&self) -> String {
        live_page()
    }

    fn model(&self, history: &[Event]) -> serde_json::Value {
        let report = crate::check::check(history);
        let model = Model::build("readerlab: live rig", history, &report);
        serde_json::to_value(model).unwrap_or(serde_json::Value::Null)
    }
}
