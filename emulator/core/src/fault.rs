//! The fault vocabulary of docs/design.md §5 as history sees it: which kind
//! of fault was injected, on what, and whether it holds until cleared.
//!
//! Only names and data live here, so the history (`fault.injected`,
//! `fault.cleared`) and the checker share them. Placing and performing
//! faults is the simulator's work (`emulator/src/sim/faults/`, a file per family).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    // --- network, per link -----------------------------------------------------
    /// The link is down until cleared.
    LinkDown,
    /// The link goes down and up at random until cleared.
    LinkFlapping,
    /// Extra latency and jitter on the link until cleared.
    Latency,
    /// A request is swallowed: it never arrives and never gets an answer.
    RequestTimeout,
    /// A request arrives and is applied, and its response is lost.
    ResponseLost,
    /// The backend answers 5xx or 429 before applying anything.
    HttpError,
    // --- devices ---------------------------------------------------------------
    /// The app asks the reader to reboot.
    ReaderReboot,
    /// The device (reader or POS) loses power: unsynced writes are lost and
    /// the last write may be torn.
    PowerLoss,
    /// The POS app is killed; it starts again when cleared.
    AppKill,
    /// The app is replaced by a new version, which finds an older store
    /// format.
    AppUpgrade,
    /// The device is locked: its keys are unavailable until cleared.
    DeviceLocked,
    /// The reader's battery is set to a level.
    Battery,
    /// The POS's Bluetooth radio is off until cleared.
    BluetoothRadioOff,
    /// The Bluetooth signal is lost until cleared.
    SignalLost,
    /// The USB cable is pulled until cleared.
    UsbDetach,
    /// The reader's next notification of one event to the POS is lost on
    /// the radio (the reader did it; the POS never hears of it).
    NotificationDropped,
    /// The reader's notifications reach the POS late until cleared.
    NotificationDelayed,
    /// The ATT MTU is renegotiated smaller until cleared: every message is
    /// cut into more fragments.
    MtuReduced,
    /// The connection interval is slow until cleared: each fragment waits
    /// for a connection event.
    SlowConnectionInterval,
    /// The update server offers a required software update.
    RequiredUpdate,
    // --- storage ---------------------------------------------------------------
    /// The disk is full from the n-th write until cleared.
    StorageFull,
    /// A stored record is damaged on disk.
    RecordCorrupted,
    /// The app's data is erased (what a user's "clear data" does).
    AppDataWiped,
    // --- backend ---------------------------------------------------------------
    /// Forwarded payments are declined by the issuer.
    DeclineOnSync,
    /// The connection-token provider fails.
    TokenProviderFailure,
    /// Tokens are minted for another account or mode.
    AccountMismatch,
}

impl FaultKind {
    /// Every kind, for coverage reports and docs.
    pub const ALL: [FaultKind; 26] = [
        FaultKind::LinkDown,
        FaultKind::LinkFlapping,
        FaultKind::Latency,
        FaultKind::RequestTimeout,
        FaultKind::ResponseLost,
        FaultKind::HttpError,
        FaultKind::ReaderReboot,
        FaultKind::PowerLoss,
        FaultKind::AppKill,
        FaultKind::AppUpgrade,
        FaultKind::DeviceLocked,
        FaultKind::Battery,
        FaultKind::BluetoothRadioOff,
        FaultKind::SignalLost,
        FaultKind::UsbDetach,
        FaultKind::NotificationDropped,
        FaultKind::NotificationDelayed,
        FaultKind::MtuReduced,
        FaultKind::SlowConnectionInterval,
        FaultKind::RequiredUpdate,
        FaultKind::StorageFull,
        FaultKind::RecordCorrupted,
        FaultKind::AppDataWiped,
        FaultKind::DeclineOnSync,
        FaultKind::TokenProviderFailure,
        FaultKind::AccountMismatch,
    ];

    /// Its history name (`link_down`).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::LinkDown => "link_down",
            FaultKind::LinkFlapping => "link_flapping",
            FaultKind::Latency => "latency",
            FaultKind::RequestTimeout => "request_timeout",
            FaultKind::ResponseLost => "response_lost",
            FaultKind::HttpError => "http_error",
            FaultKind::ReaderReboot => "reader_reboot",
            FaultKind::PowerLoss => "power_loss",
            FaultKind::AppKill => "app_kill",
            FaultKind::AppUpgrade => "app_upgrade",
            FaultKind::DeviceLocked => "device_locked",
            FaultKind::Battery => "battery",
            FaultKind::BluetoothRadioOff => "bluetooth_radio_off",
            FaultKind::SignalLost => "signal_lost",
            FaultKind::UsbDetach => "usb_detach",
            FaultKind::NotificationDropped => "notification_dropped",
            FaultKind::NotificationDelayed => "notification_delayed",
            FaultKind::MtuReduced => "mtu_reduced",
            FaultKind::SlowConnectionInterval => "slow_connection_interval",
            FaultKind::RequiredUpdate => "required_update",
            FaultKind::StorageFull => "storage_full",
            FaultKind::RecordCorrupted => "record_corrupted",
            FaultKind::AppDataWiped => "app_data_wiped",
            FaultKind::DeclineOnSync => "decline_on_sync",
            FaultKind::TokenProviderFailure => "token_provider_failure",
            FaultKind::AccountMismatch => "account_mismatch",
        }
    }

    /// Whether the fault holds until a `fault.cleared` (a state), rather
    /// than happening once at an instant.
    pub fn is_sustained(self) -> bool {
        matches!(
            self,
            FaultKind::LinkDown
                | FaultKind::LinkFlapping
                | FaultKind::Latency
                | FaultKind::AppKill
                | FaultKind::DeviceLocked
                | FaultKind::BluetoothRadioOff
                | FaultKind::SignalLost
                | FaultKind::UsbDetach
                | FaultKind::NotificationDelayed
                | FaultKind::MtuReduced
                | FaultKind::SlowConnectionInterval
                | FaultKind::StorageFull
        )
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_names_are_the_serde_names() {
        for kind in FaultKind::ALL {
            let json = serde_json::to_string(&kind).expect("serializes");
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
    }
}
