//! The ledger's records: payment intents and charges as the backend keeps
//! them, and what the invariant checker reads.
//!
//! Records hold rig time and typed fields; their Stripe JSON is rendered in
//! `objects.rs`. They never hold a full card number: a charge keeps the
//! card's brand, funding and last four digits only (invariant I7).

use crate::backend::api::ApiError;
use crate::event::CardSummary;
use crate::money::Money;
use crate::offline::{CaptureMethod, OfflineId};
use crate::profile::EntryMode;
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The metadata key an outside POS names its payment with
/// (docs/driver-protocol.md): the backend's events and the reader's action
/// carry that name, so the history names the payment as the scenario does.
pub const POS_PAYMENT_KEY: &str = "readerlab_payment";

/// A payment intent's `status`, limited to the states a card-present flow
/// reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentStatus {
    /// Created, or declined and waiting for another card.
    RequiresPaymentMethod,
    /// Authorized, manual capture: waiting for the capture call.
    RequiresCapture,
    /// Authorized and captured.
    Succeeded,
    /// Canceled; final.
    Canceled,
}

impl IntentStatus {
    /// Stripe's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IntentStatus::RequiresPaymentMethod => "requires_payment_method",
            IntentStatus::RequiresCapture => "requires_capture",
            IntentStatus::Succeeded => "succeeded",
            IntentStatus::Canceled => "canceled",
        }
    }
}

/// One payment intent.
#[derive(Clone, Debug, PartialEq)]
pub struct PaymentIntent {
    /// `pi_…`, from a counter, fixed width: ids sort in creation order.
    pub id: String,
    /// The account it belongs to.
    pub account: String,
    /// Live or test mode.
    pub livemode: bool,
    /// What is to be charged.
    pub amount: Money,
    /// Automatic or manual capture.
    pub capture: CaptureMethod,
    /// Where it stands.
    pub status: IntentStatus,
    /// When it was created.
    pub created: Millis,
    /// The stored payment it was created for, when it was forwarded (also in
    /// its `metadata`): the link between a collect and a charge.
    pub offline_id: Option<OfflineId>,
    /// The `pm_…` of the last card presented.
    pub payment_method: Option<String>,
    /// The last charge attempted.
    pub latest_charge: Option<String>,
    /// When it was canceled.
    pub canceled_at: Option<Millis>,
    /// The last card error, cleared by a success.
    pub last_payment_error: Option<ApiError>,
    /// The integration's `description`, echoed.
    pub description: Option<String>,
    /// The integration's `metadata`, echoed (beside `offline_id` for a
    /// forwarded payment).
    pub metadata: BTreeMap<String, String>,
}

/// A charge's `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    /// The issuer approved (captured or not).
    Succeeded,
    /// The issuer declined.
    Failed,
}

/// A decline: Stripe's error `code` and the issuer's `decline_code`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decline {
    /// `card_declined`, `expired_card`, `processing_error`, ...
    pub error_code: String,
    /// `insufficient_funds`, `generic_decline`, ...
    pub decline_code: String,
}

/// One authorization attempt on a card.
#[derive(Clone, Debug, PartialEq)]
pub struct Charge {
    /// `ch_…`, from a counter, fixed width: ids sort in creation order.
    pub id: String,
    /// Its payment intent.
    pub intent: String,
    /// The account it belongs to.
    pub account: String,
    /// Live or test mode.
    pub livemode: bool,
    /// The amount authorized (or attempted).
    pub amount: Money,
    /// Approved or declined.
    pub status: ChargeStatus,
    /// Whether the funds were captured.
    pub captured: bool,
    /// Whether an uncaptured authorization was released by a cancel
    /// (Stripe shows it as refunded).
    pub released: bool,
    /// The card, as events may show it.
    pub card: CardSummary,
    /// How the card was read.
    pub entry_mode: EntryMode,
    /// The `pm_…` of the card.
    pub payment_method: String,
    /// When it was created.
    pub created: Millis,
    /// For a forwarded payment: its offline id and when it was stored
    /// (`payment_method_details.card_present.offline`).
    pub offline: Option<OfflineCharge>,
    /// Why it failed, for a failed charge.
    pub failure: Option<Decline>,
}

/// What ties a charge to the stored payment it was forwarded from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfflineCharge {
    /// The stored payment's offline id.
    pub offline_id: OfflineId,
    /// When the reader or SDK stored it (rig time).
    pub stored_at: Millis,
}

impl Charge {
    /// Whether the charge holds the customer's money: approved and not
    /// released.
    pub fn holds_funds(&self) -> bool {
        self.status == ChargeStatus::Succeeded && !self.released
    }
}
