//! What a timeline shows, worked out from a history and its checker report.

use crate::check::Report;
use readerlab_emulator::core::{Event, EventBody, RunSource};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Everything the page draws.
#[derive(Clone, Debug, Serialize)]
pub struct Model {
    pub title: String,
    /// What the time axis measures, in words.
    pub clock: String,
    /// The target that wrote the history, when it says.
    pub target: Option<String>,
    pub seed: u64,
    pub defects: Vec<String>,
    /// `holds`, `broken` or `unknown`.
    pub verdict: String,
    /// The checker's one-line summary.
    pub summary: String,
    pub lanes: Vec<Lane>,
    /// Each event's time, by its index in the history (`seq` is index + 1).
    pub event_t: Vec<u64>,
    /// Each event's name, as an index into `kinds`.
    pub event_kind: Vec<u16>,
    /// The event names of the history.
    pub kinds: Vec<String>,
    /// The lane of each event.
    pub event_lane: Vec<u16>,
    /// The payment of each event (an index into `payments`), or -1.
    pub event_payment: Vec<i32>,
    pub faults: Vec<Fault>,
    pub payments: Vec<PaymentSpan>,
    pub sentences: Vec<Sentence>,
    /// The last event's time.
    pub end_ms: u64,
}

/// One row of the timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lane {
    /// `pos`, `reader/<serial>`, `backend`, `link:<a>~<b>`, `rig`.
    pub id: String,
    pub label: String,
    /// `pos`, `reader`, `backend`, `link`, `rig`.
    pub kind: String,
}

/// A fault: a window (sustained, `to` its clearing or `None` when it held
/// to the end) or an instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fault {
    pub fault: String,
    pub target: String,
    pub from: u64,
    pub to: Option<u64>,
    pub sustained: bool,
    /// The lanes it shades.
    pub lanes: Vec<usize>,
    /// Its events' `seq`.
    pub seqs: Vec<u64>,
}

/// One payment's life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaymentSpan {
    /// The app's name for it, or its offline id or intent when the app's
    /// name never appears.
    pub id: String,
    /// Its other names (offline id, intents).
    pub aliases: Vec<String>,
    /// The lane of the reader that took it, or the POS's.
    pub lane: usize,
    pub start: u64,
    pub stored: Option<u64>,
    pub forwarded: Option<u64>,
    pub end: u64,
    /// `succeeded`, `declined`, `failed`, `canceled`, `unknown`, `stored`
    /// (never forwarded), `lost` (unreadable), `open` (no outcome yet).
    pub state: String,
    /// Its events' `seq`.
    pub seqs: Vec<u64>,
}

/// A violation in a plain sentence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sentence {
    /// `I2 (exactly once)`.
    pub invariant: String,
    pub payment: Option<String>,
    pub text: String,
    /// The events that show it.
    pub seqs: Vec<u64>,
}

impl Model {
    /// The model of `history` as `report` judged it.
    pub fn build(title: &str, history: &[Event], report: &Report) -> Model {
        let mut lanes = Lanes::default();
        let mut target = None;
        let (mut seed, mut defects) = (0, Vec::new());
        for event in history.iter().take(2) {
            match &event.body {
                EventBody::RigStarted { seed: s, defects: d, readers, .. } => {
                    seed = *s;
                    defects = d.iter().map(|d| d.name().to_owned()).collect();
                    lanes.get("pos", "POS / SDK", "pos");
                    for r in readers {
                        let id = format!("reader/{}", r.serial);
                        lanes.get(
                            &id,
                            &format!("reader {} ({})", r.serial, r.model.id()),
                            "reader",
                        );
                    }
                    lanes.get("backend", "backend", "backend");
                }
                EventBody::RigSource { source: RunSource::Scenario { target: t, .. } } => {
                    target = Some(t.clone());
                }
                EventBody::RigSource { source: RunSource::Random { .. } } => {
                    target = Some("sim".to_owned());
                }
                _ => {}
            }
        }
        let clock = match target.as_deref() {
            Some("sim") => "virtual time since the rig started (the simulator's clock)".to_owned(),
            Some(t) => format!("time since the rig started, on the {t} target's clock"),
            None => "time since the rig started".to_owned(),
        };
        let bodies: Vec<Value> =
            history.iter().map(|e| serde_json::to_value(&e.body).unwrap_or(Value::Null)).collect();
        let event_lane = history
            .iter()
            .zip(&bodies)
            .map(|(event, body)| {
                let part = event.part.0.as_str();
                let lane = if part == "fault" {
                    let target = body.get("target").and_then(Value::as_str).unwrap_or("?");
                    if target.contains('~') { lanes.link(target) } else { lanes.device(target) }
                } else {
                    lanes.device(part)
                };
                u16::try_from(lane).unwrap_or(u16::MAX)
            })
            .collect();
        let mut kinds: Vec<String> = Vec::new();
        let mut kind_index: BTreeMap<String, u16> = BTreeMap::new();
        let event_kind = bodies
            .iter()
            .map(|body| {
                let name = body.get("event").and_then(Value::as_str).unwrap_or("?");
                *kind_index.entry(name.to_owned()).or_insert_with(|| {
                    kinds.push(name.to_owned());
                    u16::try_from(kinds.len() - 1).unwrap_or(u16::MAX)
                })
            })
            .collect();
        let event_t = history.iter().map(|e| e.t_ms.0).collect();
        let faults = faults(history, &bodies, &mut lanes);
        let (payments, event_payment) = payments(history, &bodies, &mut lanes);
        let sentences = report
            .violations
            .iter()
            .map(|v| sentence(v, &payments, history.first().map_or(0, |e| e.t_ms.0)))
            .collect();
        let verdict = if !report.holds() {
            "broken"
        } else if !report.unknown.is_empty() {
            "unknown"
        } else {
            "holds"
        };
        let mut model = Model {
            title: title.to_owned(),
            clock,
            target,
            seed,
            defects,
            verdict: verdict.to_owned(),
            summary: report.summary(),
            lanes: lanes.lanes,
            event_t,
            event_kind,
            kinds,
            event_lane,
            event_payment,
            faults,
            payments,
            sentences,
            end_ms: history.last().map_or(0, |e| e.t_ms.0),
        };
        model.rig_lane_last();
        model
    }

    /// Moves the rig's own lane to the bottom, renumbering what refers to
    /// lanes by position.
    fn rig_lane_last(&mut self) {
        let Some(rig) = self.lanes.iter().position(|l| l.id == "rig") else { return };
        let moved = self.lanes.remove(rig);
        self.lanes.push(moved);
        let last = self.lanes.len() - 1;
        let renumber = |i: usize| match i.cmp(&rig) {
            std::cmp::Ordering::Equal => last,
            std::cmp::Ordering::Greater => i - 1,
            std::cmp::Ordering::Less => i,
        };
        for lane in &mut self.event_lane {
            *lane = u16::try_from(renumber(usize::from(*lane))).unwrap_or(u16::MAX);
        }
        for fault in &mut self.faults {
            for lane in &mut fault.lanes {
                *lane = renumber(*lane);
            }
            fault.lanes.sort_unstable();
        }
        for payment in &mut self.payments {
            payment.lane = renumber(payment.lane);
        }
    }
}

#[derive(Default)]
struct Lanes {
    lanes: Vec<Lane>,
}

impl Lanes {
    fn get(&mut self, id: &str, label: &str, kind: &str) -> usize {
        if let Some(i) = self.lanes.iter().position(|l| l.id == id) {
            return i;
        }
        self.lanes.push(Lane { id: id.to_owned(), label: label.to_owned(), kind: kind.to_owned() });
        self.lanes.len() - 1
    }

    /// The lane of a part or a fault's device target.
    fn device(&mut self, part: &str) -> usize {
        match part {
            "pos" => self.get("pos", "POS / SDK", "pos"),
            "backend" => self.get("backend", "backend", "backend"),
            "rig" => self.get("rig", "rig", "rig"),
            reader if reader.starts_with("reader/") => {
                self.get(reader, &reader.replacen('/', " ", 1), "reader")
            }
            other => self.get(other, other, "rig"),
        }
    }

    fn link(&mut self, target: &str) -> usize {
        self.get(&format!("link:{target}"), &format!("link {target}"), "link")
    }

    /// The lanes a fault on `target` shades: a link's own and both ends'.
    fn hit(&mut self, target: &str) -> Vec<usize> {
        if target.contains('~') {
            let mut hit = vec![self.link(target)];
            for end in target.split('~') {
                hit.push(self.device(end));
            }
            hit.sort_unstable();
            hit
        } else {
            vec![self.device(target)]
        }
    }
}

fn faults(history: &[Event], bodies: &[Value], lanes: &mut Lanes) -> Vec<Fault> {
    let mut out: Vec<Fault> = Vec::new();
    let mut open: BTreeMap<(String, String), usize> = BTreeMap::new();
    let text = |b: &Value, k: &str| b.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
    for (event, body) in history.iter().zip(bodies) {
        match &event.body {
            EventBody::FaultInjected { sustained, .. } => {
                let (fault, target) = (text(body, "fault"), text(body, "target"));
                let key = (fault.clone(), target.clone());
                if *sustained && open.contains_key(&key) {
                    // Injected again while it holds: the same window.
                    out[open[&key]].seqs.push(event.seq);
                    continue;
                }
                let lanes = lanes.hit(&target);
                out.push(Fault {
                    fault,
                    target,
                    from: event.t_ms.0,
                    to: (!*sustained).then_some(event.t_ms.0),
                    sustained: *sustained,
                    lanes,
                    seqs: vec![event.seq],
                });
                if *sustained {
                    open.insert(key, out.len() - 1);
                }
            }
            EventBody::FaultCleared { .. } => {
                let key = (text(body, "fault"), text(body, "target"));
                if let Some(i) = open.remove(&key) {
                    out[i].to = Some(event.t_ms.0);
                    out[i].seqs.push(event.seq);
                }
            }
            _ => {}
        }
    }
    out
}

/// Each payment's span, and the payment of each event.
fn payments(
    history: &[Event],
    bodies: &[Value],
    lanes: &mut Lanes,
) -> (Vec<PaymentSpan>, Vec<i32>) {
    let name = |b: &Value, k: &str| b.get(k).and_then(Value::as_str).map(str::to_owned);
    // First pass: every offline id and intent to the app's payment name.
    let mut alias: BTreeMap<String, String> = BTreeMap::new();
    for body in bodies {
        let payment = name(body, "payment");
        let offline = name(body, "offline_id");
        let intent = name(body, "intent");
        let owner = payment.or_else(|| offline.as_ref().and_then(|o| alias.get(o).cloned()));
        if let Some(owner) = owner {
            for other in [offline, intent].into_iter().flatten() {
                if other != owner {
                    alias.entry(other).or_insert_with(|| owner.clone());
                }
            }
        }
    }
    let mut spans: Vec<PaymentSpan> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut charge_state: BTreeMap<usize, &'static str> = BTreeMap::new();
    let mut event_payment = Vec::with_capacity(history.len());
    for (event, body) in history.iter().zip(bodies) {
        let key = ["payment", "offline_id", "intent"].into_iter().find_map(|k| name(body, k));
        let Some(key) = key else {
            event_payment.push(-1);
            continue;
        };
        let id = alias.get(&key).cloned().unwrap_or(key.clone());
        let part = event.part.0.as_str();
        let at = *index.entry(id.clone()).or_insert_with(|| {
            spans.push(PaymentSpan {
                id: id.clone(),
                aliases: Vec::new(),
                lane: lanes.device("pos"),
                start: event.t_ms.0,
                stored: None,
                forwarded: None,
                end: event.t_ms.0,
                state: "open".to_owned(),
                seqs: Vec::new(),
            });
            spans.len() - 1
        });
        event_payment.push(i32::try_from(at).unwrap_or(-1));
        let span = &mut spans[at];
        span.end = span.end.max(event.t_ms.0);
        span.seqs.push(event.seq);
        for other in ["offline_id", "intent"].into_iter().filter_map(|k| name(body, k)) {
            if other != span.id && !span.aliases.contains(&other) {
                span.aliases.push(other);
            }
        }
        if part.starts_with("reader/") && span.lane == lanes.device("pos") {
            span.lane = lanes.device(part);
        }
        let charged = charge_state.get(&at).copied();
        let state = state_after(span, event, body, charged);
        match &event.body {
            EventBody::ChargeSucceeded { .. } => _ = charge_state.insert(at, "succeeded"),
            EventBody::ChargeFailed { .. } => _ = charge_state.insert(at, "declined"),
            _ => {}
        }
        if let Some(state) = state {
            // A stored payment's outcome is its forward's; "stored" never
            // overrides one that already came.
            if !(state == "stored" && span.state != "open") {
                span.state = state.to_owned();
            }
        }
    }
    (spans, event_payment)
}

/// The state `event` puts a payment in, if any (`charged`: what its last
/// charge did, for a forward that reports no status); notes when it was
/// stored and forwarded.
fn state_after(
    span: &mut PaymentSpan,
    event: &Event,
    body: &Value,
    charged: Option<&'static str>,
) -> Option<&'static str> {
    match &event.body {
        EventBody::OfflinePaymentStored { .. } => {
            span.stored.get_or_insert(event.t_ms.0);
            Some("stored")
        }
        EventBody::PaymentForwarded { .. } => {
            span.forwarded.get_or_insert(event.t_ms.0);
            let status = body.get("status").and_then(Value::as_str).unwrap_or("");
            Some(match status {
                "succeeded" | "requires_capture" => "succeeded",
                "" => charged.unwrap_or("succeeded"),
                _ => "declined",
            })
        }
        EventBody::PaymentUnreadable { .. } => Some("lost"),
        EventBody::SdkPaymentSucceeded { .. } => Some("succeeded"),
        EventBody::SdkPaymentDeclined { .. } => Some("declined"),
        EventBody::SdkPaymentFailed { .. } => Some("failed"),
        EventBody::PosPaymentEnded { .. } => {
            let outcome = body.get("outcome").and_then(Value::as_str).unwrap_or("unknown");
            Some(match outcome {
                "succeeded" | "stored" => "succeeded",
                "declined" => "declined",
                "canceled" => "canceled",
                "failed" => "failed",
                _ => "unknown",
            })
        }
        _ => None,
    }
}

/// A violation as a sentence: the checker's words, the payment's name,
/// and each proving event in plain words with its time.
fn sentence(v: &crate::check::Violation, payments: &[PaymentSpan], t0: u64) -> Sentence {
    let payment = v.payment.as_ref().map(|p| {
        payments
            .iter()
            .find(|s| s.id == *p || s.aliases.contains(p))
            .map_or_else(|| p.clone(), |s| s.id.clone())
    });
    let mut text = v.message.clone();
    if let Some(name) = &payment
        && Some(name) != v.payment.as_ref()
    {
        text = format!("payment \"{name}\": {text}");
    }
    let evidence: Vec<String> = v.excerpt.iter().map(|e| plain(e, t0)).collect();
    if !evidence.is_empty() {
        text.push_str(&format!(" (shown by {})", evidence.join("; ")));
    }
    Sentence {
        invariant: v.invariant.to_string(),
        payment,
        text,
        seqs: v.excerpt.iter().map(|e| e.seq).collect(),
    }
}

/// An event in plain words, with its time.
fn plain(event: &Event, t0: u64) -> String {
    let at = clock(event.t_ms.0.saturating_sub(t0));
    let body = serde_json::to_value(&event.body).unwrap_or(Value::Null);
    let field = |k: &str| body.get(k).map(|v| v.as_str().map_or(v.to_string(), str::to_owned));
    let what = match &event.body {
        EventBody::ForwardAttempted { .. } => {
            format!("forward attempt {}", field("attempt").unwrap_or_default())
        }
        EventBody::ChargeSucceeded { .. } => {
            format!("charge {} succeeded", field("charge").unwrap_or_default())
        }
        EventBody::ChargeFailed { .. } => "a charge failed".to_owned(),
        EventBody::IntentCreated { .. } => {
            format!("payment intent {} created", field("intent").unwrap_or_default())
        }
        EventBody::IntentCanceled { .. } => {
            format!("payment intent {} canceled", field("intent").unwrap_or_default())
        }
        EventBody::FaultInjected { .. } => format!(
            "fault {} on {}",
            field("fault").unwrap_or_default(),
            field("target").unwrap_or_default()
        ),
        EventBody::FaultCleared { .. } => format!(
            "fault {} on {} cleared",
            field("fault").unwrap_or_default(),
            field("target").unwrap_or_default()
        ),
        EventBody::OfflinePaymentStored { .. } => "stored offline".to_owned(),
        EventBody::PaymentForwarded { .. } => {
            format!("forwarded ({})", field("status").unwrap_or_else(|| "no status".into()))
        }
        EventBody::PosPaymentEnded { .. } => {
            format!("the app was told {}", field("outcome").unwrap_or_default())
        }
        EventBody::SdkPaymentSucceeded { .. } => "the app was told succeeded".to_owned(),
        EventBody::SdkPaymentDeclined { .. } => "the app was told declined".to_owned(),
        EventBody::SdkPaymentFailed { .. } => {
            format!("the app was told failed ({})", field("code").unwrap_or_default())
        }
        other => other.name(),
    };
    format!("{what} at {at} [#{}]", event.seq)
}

/// `h:mm:ss.mmm`.
pub fn clock(ms: u64) -> String {
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    format!("{h}:{:02}:{:02}.{:03}", rest / 60_000, rest % 60_000 / 1000, rest % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use readerlab_emulator::history::read_history;

    const BROKEN: &str = concat!(
        r#"{"seq":1,"t_ms":0,"part":"rig","event":"rig.started","seed":3,"defects":[],"readers":[{"serial":"STRM2-0001","model":"m2","stored_by":"pos"}],"offline":{"enabled":true,"max_amount":{"usd":1000000},"stored_amount_limit":{},"max_records":1000,"eea":false},"drain_window_ms":120000}"#,
        "\n",
        r#"{"seq":2,"t_ms":100,"part":"fault","event":"fault.injected","fault":"link_down","target":"pos~backend","sustained":true,"detail":null}"#,
        "\n",
        r#"{"seq":3,"t_ms":200,"part":"pos","event":"offline.payment.stored","payment":"lunch","offline_id":"off_1","intent":null,"amount":{"amount":500,"currency":"usd"},"offline_details":{"amount":{"amount":500,"currency":"usd"},"card":{"brand":"visa","funding":"credit","last4":"4242"},"entry_mode":"contactless","requires_upload":true,"stored_at":200}}"#,
        "\n",
        r#"{"seq":4,"t_ms":300,"part":"fault","event":"fault.cleared","fault":"link_down","target":"pos~backend"}"#,
        "\n",
        r#"{"seq":5,"t_ms":400,"part":"backend","event":"backend.charge.succeeded","charge":"ch_1","intent":"pi_1","amount":{"amount":500,"currency":"usd"},"card":{"brand":"visa","funding":"credit","last4":"4242"},"captured":true,"offline_id":"off_1"}"#,
        "\n",
        r#"{"seq":6,"t_ms":500,"part":"backend","event":"backend.charge.succeeded","charge":"ch_2","intent":"pi_2","amount":{"amount":500,"currency":"usd"},"card":{"brand":"visa","funding":"credit","last4":"4242"},"captured":true,"offline_id":"off_1"}"#,
        "\n",
        r#"{"seq":7,"t_ms":600,"part":"pos","event":"offline.payment.forwarded","offline_id":"off_1","intent":"pi_2","amount":{"amount":500,"currency":"usd"},"status":"succeeded","error":null}"#,
        "\n",
        r#"{"seq":8,"t_ms":700,"part":"rig","event":"rig.finished"}"#,
        "\n"
    );

    fn model() -> Model {
        let history = read_history(BROKEN.as_bytes()).expect("a history");
        let report = crate::check::check(&history);
        Model::build("t", &history, &report)
    }

    #[test]
    fn lanes_faults_and_payments_come_from_the_history() {
        let m = model();
        let ids: Vec<&str> = m.lanes.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["pos", "reader/STRM2-0001", "backend", "link:pos~backend", "rig"]);
        assert_eq!(m.event_lane, [4, 3, 0, 3, 2, 2, 0, 4]);
        assert_eq!(m.faults.len(), 1);
        let f = &m.faults[0];
        assert_eq!((f.from, f.to, f.sustained), (100, Some(300), true));
        assert_eq!(f.lanes, [0, 2, 3], "the link and both its ends");
        assert_eq!(m.payments.len(), 1);
        let p = &m.payments[0];
        assert_eq!(p.id, "lunch");
        assert_eq!((p.start, p.stored, p.forwarded, p.end), (200, Some(200), Some(600), 600));
        assert_eq!(p.state, "succeeded");
        assert_eq!(m.event_payment, [-1, -1, 0, -1, 0, 0, 0, -1]);
    }

    #[test]
    fn a_violation_is_a_sentence_naming_the_payment_and_its_events() {
        let m = model();
        assert_eq!(m.verdict, "broken");
        let s = m.sentences.iter().find(|s| s.invariant.starts_with("I2")).expect("I2 broke");
        assert_eq!(s.payment.as_deref(), Some("lunch"));
        assert!(s.text.starts_with("payment \"lunch\": "), "{}", s.text);
        assert!(s.text.contains("charge ch_1 succeeded at 0:00:00.400 [#5]"), "{}", s.text);
        assert!(s.text.contains("charge ch_2 succeeded at 0:00:00.500 [#6]"), "{}", s.text);
        assert!(s.seqs.contains(&5) && s.seqs.contains(&6));
    }

    #[test]
    fn an_orphan_intent_reads_as_a_sentence_about_its_payment() {
        // BROKEN's finished run, and then an intent created for its payment
        // after it was stored (I10), with nothing to cancel it.
        let late = concat!(
            r#"{"seq":9,"t_ms":700,"part":"backend","event":"backend.payment_intent.created","intent":"pi_9","amount":{"amount":500,"currency":"usd"},"capture":"automatic","offline_id":null,"payment":"lunch"}"#,
            "\n",
        );
        let text = format!("{BROKEN}{late}");
        let history = read_history(text.as_bytes()).expect("a history");
        let report = crate::check::check(&history);
        let m = Model::build("t", &history, &report);
        let s = m.sentences.iter().find(|s| s.invariant.starts_with("I10")).expect("I10 broke");
        assert_eq!(s.payment.as_deref(), Some("lunch"));
        assert!(s.text.contains("payment intent pi_9 created at 0:00:00.700 [#9]"), "{}", s.text);
        assert!(s.text.contains("stored offline at 0:00:00.200 [#3]"), "{}", s.text);
    }

    #[test]
    fn the_page_is_self_contained_and_cannot_be_closed_by_its_data() {
        let history = read_history(BROKEN.as_bytes()).expect("a history");
        let report = crate::check::check(&history);
        let html = super::super::page("a </script> title", &history, &report);
        // Nothing is fetched: no src or link, and the one URL is SVG's
        // namespace name.
        assert!(!html.contains(" src=") && !html.contains("<link"), "no network");
        let urls = html.matches("http").count();
        assert_eq!(urls, html.matches("http://www.w3.org/2000/svg").count(), "no network");
        assert_eq!(html.matches("</script>").count(), 3, "only the three script tags close");
        let hostile = super::super::script_text(r#"{"payment":"<!--<script></script>"}"#);
        assert!(!hostile.contains('<'));
        let back: serde_json::Value = serde_json::from_str(&hostile).unwrap();
        assert_eq!(back["payment"], "<!--<script></script>");
        assert!(html.contains("a &lt;/script&gt; title"));
    }
}
