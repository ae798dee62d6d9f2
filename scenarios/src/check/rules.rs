//! I6, offline rules: every payment stored offline obeyed the rules of
//! docs/domain.md §2–§3 that its history shows.
//!
//! Per stored payment: its intent was not `REQUIRE_ONLINE`, the card was not
//! swiped, the brand can go offline (not Interac, not girocard), offline mode
//! was enabled in `rig.started`, and in the EEA the card was inserted. Each
//! payment is reported once, with every rule it broke. This file must not
//! guess what the history does not state: a PIN is not recorded with the
//! stored payment, so the EEA PIN rule and the 30-day connect rules are not
//! judged here.

use super::facts::{Facts, Stored};
use super::names;
use super::report::Finding;
use readerlab_emulator::core::Brand;
use readerlab_emulator::core::EntryMode;
use readerlab_emulator::core::EventBody;
use readerlab_emulator::core::Invariant;
use readerlab_emulator::core::offline::OfflineBehavior;

pub(super) fn check(facts: &Facts<'_>, found: &mut Vec<Finding>) {
    for (offline_id, payment) in facts.payments.iter() {
        let Some(stored) = &payment.stored else { continue };
        let broken = broken_rules(facts, stored);
        if broken.is_empty() {
            continue;
        }
        let message = format!("{} was stored offline though {}", stored.payment, broken.join("; "));
        let excerpt = [stored.at].into_iter().chain(stored.intent_created);
        found.push(Finding::new(Invariant::I6, Some(offline_id), message).with(excerpt));
    }
}

/// Each rule of §2–§3 the stored payment broke, as a clause.
fn broken_rules(facts: &Facts<'_>, stored: &Stored<'_>) -> Vec<String> {
    let mut broken = Vec::new();
    let intent = stored.intent_created.map(|at| &facts.history[at].body);
    if let Some(EventBody::SdkIntentCreated { behavior: OfflineBehavior::RequireOnline, .. }) =
        intent
    {
        broken.push("its intent was created REQUIRE_ONLINE".to_owned());
    }
    let entry_mode = stored.details.entry_mode;
    if entry_mode == EntryMode::Swipe {
        broken.push("the card was swiped (CARD_SWIPE_NOT_AVAILABLE)".to_owned());
    }
    let brand = stored.details.card.brand;
    if matches!(brand, Brand::Interac | Brand::Girocard) {
        broken.push(format!("{} cards cannot be taken offline", names::wire(&brand)));
    }
    if let Some(config) = facts.offline {
        if !config.enabled {
            broken.push("offline mode is disabled in the configuration".to_owned());
        }
        if config.eea && entry_mode != EntryMode::Chip {
            broken.push(format!(
                "in the EEA the card must be inserted, and it was read by {}",
                names::wire(&entry_mode)
            ));
        }
    }
    broken
}
