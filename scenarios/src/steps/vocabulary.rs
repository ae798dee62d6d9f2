//! The step vocabulary as documentation: every step's pattern, an example,
//! and the capabilities it needs. `readerlab steps` prints it;
//! `features/README.md` explains it for QA; a test proves every example
//! matches its own step and no step is left out.

use super::params::{Amount, EntryModePhrase, ModelName, Number};
use super::params::{AnyReader, BluetoothReader, DeviceOrReader, StoringDevice, UsbReader};
use crate::rig::Capability;
use cucumber::Parameter;

/// The domains, one step module each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Domain {
    /// The rig and its configuration.
    Rig,
    /// Readers and cards.
    Readers,
    /// The POS and payments.
    Payments,
    /// Network and device faults.
    Faults,
    /// Time.
    Time,
    /// Storage.
    Storage,
    /// The backend.
    Backend,
    /// Expectations on the history.
    Expectations,
}

impl Domain {
    /// Every domain, in the order they are listed.
    pub const ALL: [Domain; 8] = [
        Domain::Rig,
        Domain::Readers,
        Domain::Payments,
        Domain::Faults,
        Domain::Time,
        Domain::Storage,
        Domain::Backend,
        Domain::Expectations,
    ];

    /// A heading for the domain.
    pub fn title(self) -> &'static str {
        match self {
            Domain::Rig => "Rig and configuration (before the first action)",
            Domain::Readers => "Readers and cards",
            Domain::Payments => "POS and payments",
            Domain::Faults => "Network and device faults",
            Domain::Time => "Time",
            Domain::Storage => "Storage",
            Domain::Backend => "Backend",
            Domain::Expectations => "Expectations (read the history)",
        }
    }
}

/// One step of the vocabulary.
#[derive(Clone, Copy, Debug)]
pub struct StepDoc {
    /// Its domain.
    pub domain: Domain,
    /// The step as a reader sees it: placeholders in angle brackets,
    /// options in square brackets, alternatives with `|`.
    pub pattern: &'static str,
    /// A step that uses it, keyword included.
    pub example: &'static str,
    /// What the target must be able to do.
    pub needs: &'static [Capability],
}

const fn doc(
    domain: Domain,
    pattern: &'static str,
    example: &'static str,
    needs: &'static [Capability],
) -> StepDoc {
    StepDoc { domain, pattern, example, needs }
}

use Capability as C;
use Domain as D;

/// Every step, by domain.
pub const VOCABULARY: &[StepDoc] = &[
    // --- rig -------------------------------------------------------------
    doc(D::Rig, "a rig with a <model>", "Given a rig with a Stripe Reader M2", &[]),
    doc(D::Rig, "the rig also has a <model>", "Given the rig also has a BBPOS WisePOS E", &[]),
    doc(
        D::Rig,
        "the POS reaches its reader over USB|Bluetooth",
        "Given the POS reaches its reader over USB",
        &[],
    ),
    doc(
        D::Rig,
        "offline mode is enabled|disabled in the Terminal configuration",
        "Given offline mode is disabled in the Terminal configuration",
        &[],
    ),
    doc(
        D::Rig,
        "the offline maximum per payment is <amount>",
        "Given the offline maximum per payment is 500.00 USD",
        &[],
    ),
    doc(
        D::Rig,
        "the app stores at most <amount> offline",
        "Given the app stores at most 100.00 USD offline",
        &[],
    ),
    doc(
        D::Rig,
        "the store holds at most <n> payments",
        "Given the store holds at most 2 payments",
        &[],
    ),
    doc(D::Rig, "the Location is in the EEA", "Given the Location is in the EEA", &[]),
    // --- readers ---------------------------------------------------------
    doc(D::Readers, "<reader> reboots", "When the reader reboots", &[C::Power]),
    doc(
        D::Readers,
        "<reader>'s battery reads <n>% [while charging]",
        "When the reader's battery reads 4%",
        &[C::Battery],
    ),
    doc(
        D::Readers,
        "<reader> is offered a required update",
        "When the reader is offered a required update",
        &[C::SoftwareUpdates],
    ),
    doc(
        D::Readers,
        "the Bluetooth signal of <bluetooth reader> is lost|back",
        "When the Bluetooth signal of the reader is lost",
        &[C::ReaderLinks],
    ),
    doc(
        D::Readers,
        "the next \"<event>\" notification of <bluetooth reader> to the POS is lost",
        "When the next \"reader.payment.collected\" notification of the reader to the POS is lost",
        &[C::ReaderLinks],
    ),
    doc(
        D::Readers,
        "the notifications of <bluetooth reader> reach the POS <n> seconds late|on time again",
        "When the notifications of the reader reach the POS 30 seconds late",
        &[C::ReaderLinks],
    ),
    doc(
        D::Readers,
        "the Bluetooth MTU of <bluetooth reader> is renegotiated down to <n>|back up",
        "When the Bluetooth MTU of the reader is renegotiated down to 23",
        &[C::ReaderLinks],
    ),
    doc(
        D::Readers,
        "the Bluetooth connection interval of <bluetooth reader> slows to <n> ms|is normal again",
        "When the Bluetooth connection interval of the reader slows to 400 ms",
        &[C::ReaderLinks],
    ),
    doc(
        D::Readers,
        "the POS's Bluetooth radio is switched off|on",
        "When the POS's Bluetooth radio is switched off",
        &[C::ReaderLinks],
    ),
    doc(
        D::Readers,
        "the USB cable of <usb reader> is pulled|plugged back in",
        "When the USB cable of the reader is pulled",
        &[C::ReaderLinks],
    ),
    doc(
        D::Readers,
        "<reader> is connected|not connected [within <n> minutes]",
        "Then the reader is connected within 2 minutes",
        &[],
    ),
    // --- payments --------------------------------------------------------
    doc(
        D::Payments,
        "the app collects with PREFER_ONLINE|REQUIRE_ONLINE|FORCE_OFFLINE",
        "Given the app collects with FORCE_OFFLINE",
        &[],
    ),
    doc(
        D::Payments,
        "customers pay with the \"<card type>\" card",
        "Given customers pay with the \"mastercard\" card",
        &[],
    ),
    doc(
        D::Payments,
        "the customer pays|starts paying <amount> as \"<name>\" [at the <model>] [with the \"<card type>\" card | with card <number>] [by <entry mode>] [with <OfflineBehavior>]",
        "When the customer pays 12.50 USD as \"coffee\" with the \"visa_debit\" card by inserting with FORCE_OFFLINE",
        &[],
    ),
    doc(
        D::Payments,
        "these customers pay: (a table: name, amount[, reader, card, number, entry, behavior])",
        "When these customers pay:",
        &[],
    ),
    doc(
        D::Payments,
        "the app has created|the reader is collecting|the reader has read the card for|the SDK has stored|the SDK is forwarding \"<name>\"",
        "When the reader is collecting \"coffee\"",
        &[],
    ),
    // --- faults ----------------------------------------------------------
    doc(
        D::Faults,
        "the internet goes down|comes back",
        "When the internet goes down",
        &[C::NetworkFaults],
    ),
    doc(
        D::Faults,
        "<device>'s internet goes down|comes back",
        "When the POS's internet goes down",
        &[C::NetworkFaults],
    ),
    doc(
        D::Faults,
        "the internet starts|stops flapping",
        "When the internet starts flapping",
        &[C::NetworkFaults],
    ),
    doc(
        D::Faults,
        "the internet slows down by <n> ms | the internet is fast again",
        "When the internet slows down by 2500 ms",
        &[C::NetworkFaults],
    ),
    doc(
        D::Faults,
        "the next|<n>th \"create|confirm|forward|connection token|capture|cancel|process|retrieve reader|retrieve|any\" request from <device> times out|loses its answer",
        "Given the next \"confirm\" request from the POS loses its answer",
        &[C::RequestFaults],
    ),
    doc(
        D::Faults,
        "the app on <device> is killed|starts again",
        "When the app on the POS is killed",
        &[C::AppLifecycle],
    ),
    doc(
        D::Faults,
        "the app on <device> is upgraded from the version with the old store format",
        "When the app on the POS is upgraded from the version with the old store format",
        &[C::AppLifecycle],
    ),
    doc(D::Faults, "<device> is locked|unlocked", "When the POS is locked", &[C::DeviceLock]),
    doc(
        D::Faults,
        "<device or reader> loses power [in the middle of its next write]",
        "When the POS loses power in the middle of its next write",
        &[C::Power],
    ),
    // --- time ------------------------------------------------------------
    doc(D::Time, "<n> milliseconds|seconds|minutes|hours|days pass", "When 5 minutes pass", &[]),
    doc(
        D::Time,
        "time passes until the app has created|the reader is collecting|the reader has read the card for|the SDK has stored|the SDK is forwarding \"<name>\" [, at most <n> milliseconds|seconds|minutes]",
        "When time passes until the SDK is forwarding \"coffee\", at most 2 minutes",
        &[],
    ),
    // --- storage ---------------------------------------------------------
    doc(
        D::Storage,
        "the storage of <device> is full|has room again",
        "When the storage of the POS is full",
        &[C::StorageFaults],
    ),
    doc(
        D::Storage,
        "the next write to the storage of <device> fails for lack of space",
        "Given the next write to the storage of the POS fails for lack of space",
        &[C::StorageFaults],
    ),
    doc(
        D::Storage,
        "a stored record on <device> is damaged",
        "When a stored record on the POS is damaged",
        &[C::StorageFaults],
    ),
    doc(
        D::Storage,
        "the app data on <device> is wiped",
        "When the app data on the POS is wiped",
        &[C::AppLifecycle],
    ),
    doc(
        D::Storage,
        "<device> reports <n> stored payments",
        "Then the POS reports 2 stored payments",
        &[],
    ),
    doc(
        D::Storage,
        "<device> reports <amount> stored offline",
        "Then the POS reports 15.00 CAD stored offline",
        &[],
    ),
    // --- backend ---------------------------------------------------------
    doc(
        D::Backend,
        "the backend declines the next <n> forwarded payments with <decline code>",
        "Given the backend declines the next 1 forwarded payment with insufficient_funds",
        &[C::BackendFaults],
    ),
    doc(
        D::Backend,
        "the connection token provider fails <n> times",
        "Given the connection token provider fails 3 times",
        &[C::BackendFaults],
    ),
    doc(
        D::Backend,
        "the next <n> connection tokens are for another account",
        "Given the next 2 connection tokens are for another account",
        &[C::BackendFaults],
    ),
    doc(
        D::Backend,
        "the backend answers the next <n> [\"<request>\"] requests with HTTP 409|429|500|502|503|504",
        "Given the backend answers the next 2 \"forward\" requests with HTTP 503",
        &[C::BackendFaults],
    ),
    doc(
        D::Backend,
        "the backend holds <n> charges for \"<name>\"",
        "Then the backend holds 1 charge for \"coffee\"",
        &[],
    ),
    doc(
        D::Backend,
        "the charge for \"<name>\" is marked as collected offline",
        "Then the charge for \"coffee\" is marked as collected offline",
        &[],
    ),
    // --- expectations ----------------------------------------------------
    doc(D::Expectations, "\"<name>\" succeeds online", "Then \"coffee\" succeeds online", &[]),
    doc(D::Expectations, "\"<name>\" is stored offline", "Then \"coffee\" is stored offline", &[]),
    doc(
        D::Expectations,
        "\"<name>\" is declined online with <decline code>",
        "Then \"coffee\" is declined online with insufficient_funds",
        &[],
    ),
    doc(
        D::Expectations,
        "\"<name>\" fails with <ERROR_CODE>",
        "Then \"coffee\" fails with CARD_SWIPE_NOT_AVAILABLE",
        &[],
    ),
    doc(
        D::Expectations,
        "\"<name>\" is forwarded [within <n> minutes]",
        "Then \"coffee\" is forwarded within 5 minutes",
        &[],
    ),
    doc(
        D::Expectations,
        "\"<name>\" is declined on sync with <decline code> [within <n> minutes]",
        "Then \"coffee\" is declined on sync with insufficient_funds within 5 minutes",
        &[],
    ),
    doc(
        D::Expectations,
        "\"<name>\" is not forwarded yet",
        "Then \"coffee\" is not forwarded yet",
        &[],
    ),
    doc(
        D::Expectations,
        "\"<name>\" is reported unreadable [within <n> minutes]",
        "Then \"coffee\" is reported unreadable within 5 minutes",
        &[],
    ),
    doc(
        D::Expectations,
        "the history has a \"<event>\" event [with <field> \"<value>\"] [within <n> minutes]",
        "Then the history has a \"reader.disconnected\" event with reason \"security_reboot\"",
        &[],
    ),
    doc(
        D::Expectations,
        "the history has a \"<event>\" event [with <field> \"<value>\"] after the last fault clears [within <n> milliseconds|seconds|minutes]",
        "Then the history has a \"offline.payment.forwarded\" event after the last fault clears within 2 minutes",
        &[],
    ),
    doc(
        D::Expectations,
        "the history has no \"<event>\" event [with <field> \"<value>\"]",
        "Then the history has no \"payment.failed\" event",
        &[],
    ),
    doc(
        D::Expectations,
        "the history has <n> \"<event>\" events [with <field> \"<value>\"]",
        "Then the history has 1 \"offline.payment.forwarded\" event",
        &[],
    ),
    doc(
        D::Expectations,
        "\"<name>\" is forwarded with error <ERROR_CODE> [within <n> minutes]",
        "Then \"coffee\" is forwarded with error ACCOUNT_ID_MISMATCH_WHILE_FORWARDING within 5 minutes",
        &[],
    ),
];

/// A phrase placeholder of the patterns (`<device>`), read by one parameter
/// type of [`super::params`] (`{device}` in a step's cucumber expression).
#[derive(Clone, Copy, Debug)]
pub struct Placeholder {
    /// The parameter's name.
    pub name: &'static str,
    /// What it names.
    pub means: &'static str,
    /// Its parameter type's regex: for a list of phrases, `a|b|c`.
    pub regex: &'static str,
}

const fn placeholder<P: Parameter>(means: &'static str) -> Placeholder {
    Placeholder { name: P::NAME, means, regex: P::REGEX }
}

/// The placeholders that name devices, readers, models, money and entry
/// modes, as their parameter types read them.
pub const PLACEHOLDERS: &[Placeholder] = &[
    placeholder::<ModelName>("a reader model, by its marketing name"),
    placeholder::<AnyReader>("any reader: `the reader` (the rig's first) or `the <model>`"),
    placeholder::<BluetoothReader>("a reader that reaches the POS over Bluetooth"),
    placeholder::<UsbReader>("a reader that can reach the POS by USB cable"),
    placeholder::<StoringDevice>(
        "a device that stores payments: the POS (a mobile reader's) or a smart reader (its own)",
    ),
    placeholder::<DeviceOrReader>("the POS or any reader"),
    placeholder::<Amount>("money: 12.50 USD; a zero-decimal currency whole, 1000 JPY"),
    placeholder::<EntryModePhrase>("how the card is presented"),
    placeholder::<Number>("a whole number, in digits"),
];

impl Placeholder {
    /// Its phrases, when its regex is a plain list of them.
    pub fn phrases(&self) -> Option<&'static str> {
        let plain = |c: char| c.is_ascii_alphanumeric() || c == ' ' || c == '|';
        self.regex.chars().all(plain).then_some(self.regex)
    }
}

/// The vocabulary as `readerlab steps` prints it: by domain, each step's
/// pattern, an example, and what it needs; then the placeholders.
pub fn text() -> String {
    let mut out = String::from(
        "Step vocabulary (features/README.md explains it). <...> is a value, [...] optional, \
         a|b one of.\nGiven/When/Then/And may start any step. Every scenario ends with the \
         invariant checker.\n",
    );
    for domain in Domain::ALL {
        out.push_str(&format!("\n{}\n", domain.title()));
        for step in VOCABULARY.iter().filter(|s| s.domain == domain) {
            out.push_str(&format!("  {}\n      e.g. {}\n", step.pattern, step.example));
            if !step.needs.is_empty() {
                let needs: Vec<&str> = step.needs.iter().map(|c| c.name()).collect();
                out.push_str(&format!("      needs: {}\n", needs.join(", ")));
            }
        }
    }
    out.push_str("\nPlaceholders: what each one reads (anything else leaves the step undefined)\n");
    for placeholder in PLACEHOLDERS {
        out.push_str(&format!("  <{}>: {}\n", placeholder.name, placeholder.means));
        if let Some(phrases) = placeholder.phrases() {
            out.push_str(&format!("      {phrases}\n"));
        }
    }
    out
}

/// The vocabulary as JSON, one object per step.
pub fn json() -> String {
    let steps: Vec<_> = VOCABULARY
        .iter()
        .map(|s| {
            serde_json::json!({
                "domain": format!("{:?}", s.domain).to_lowercase(),
                "pattern": s.pattern,
                "example": s.example,
                "needs": s.needs.iter().map(|c| c.name()).collect::<Vec<_>>(),
            })
        })
        .collect();
    format!("{}\n", serde_json::Value::Array(steps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_used_and_listed() {
        for placeholder in PLACEHOLDERS {
            let written = format!("<{}>", placeholder.name);
            assert!(
                VOCABULARY.iter().any(|s| s.pattern.contains(&written)),
                "no pattern uses {written}"
            );
        }
        let text = text();
        assert!(text.contains("  <device>: a device that stores payments"), "{text}");
        assert!(
            text.contains("      the POS|the reader|the Stripe Reader S700|the BBPOS WisePOS E\n")
        );
    }
}
