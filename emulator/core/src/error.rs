//! The SDK error codes the emulator reports, named as the Android and React
//! Native SDKs name them (docs/domain.md §5 and §7), with the iOS number
//! where one is documented.
//!
//! These are *outcomes* the app must see, carried in events; they are not Rust
//! errors of the emulator itself. Codes outside the documented tables follow
//! the Android `TerminalErrorCode` names.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A documented Terminal SDK error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum TerminalErrorCode {
    // Offline mode (docs/domain.md §5).
    AmountExceedsMaxOfflineAmount,
    InvalidOfflineCurrency,
    OfflinePaymentsDatabaseTooLarge,
    ReaderConnectionNotAvailableOffline,
    LocationConnectionNotAvailableOffline,
    NoLastSeenAccount,
    CardSwipeNotAvailable,
    InteracNotSupportedOffline,
    OfflineAndCardExpired,
    OfflineTransactionDeclined,
    OfflineCollectAndConfirmMismatch,
    OnlinePinNotSupportedOffline,
    OfflineTestmodePaymentInLivemode,
    OfflineLivemodePaymentInTestmode,
    AccountIdMismatchWhileForwarding,
    ConnectionTokenProviderErrorWhileForwarding,
    ForceOfflineWithFeatureDisabled,
    NotConnectedToInternetAndRequireOnlineSet,
    OfflinePaymentIntentNotFound,
    MissingEmvData,
    OfflineEncryptionKeysUnavailable,
    /// Offline with offline mode disabled in the configuration (PREFER_ONLINE).
    NotConnectedToInternet,

    // Connecting and staying connected (docs/domain.md §7).
    ReaderBatteryCriticallyLow,
    AlreadyConnectedToReader,
    NotConnectedToReader,
    ReaderBusy,
    BluetoothError,
    BluetoothConnectTimedOut,
    BluetoothDisconnected,
    UsbDisconnected,
    ReaderCommunicationError,
    ReaderSoftwareUpdateFailedBatteryLow,
    ReaderSoftwareUpdateFailedInterrupted,
    ReaderSoftwareUpdateFailedReaderError,
    ReaderSoftwareUpdateFailedServerError,

    // Collecting and confirming.
    Canceled,
    CancelFailed,
    CardRemoved,
    CardReadTimedOut,
    DeclinedByStripeApi,
    DeclinedByReader,
    UnsupportedOperation,
    InvalidRequiredParameter,
}

impl TerminalErrorCode {
    /// The iOS SDK's numeric code, where the documentation gives one.
    pub fn ios_code(self) -> Option<u16> {
        use TerminalErrorCode::*;
        Some(match self {
            AmountExceedsMaxOfflineAmount => 2890,
            InvalidOfflineCurrency => 2891,
            OfflinePaymentsDatabaseTooLarge => 2860,
            ReaderConnectionNotAvailableOffline => 2870,
            NoLastSeenAccount => 2880,
            CardSwipeNotAvailable => 6900,
            InteracNotSupportedOffline => 6901,
            OfflineAndCardExpired => 6902,
            OfflineTransactionDeclined => 6903,
            OfflineCollectAndConfirmMismatch => 6904,
            OnlinePinNotSupportedOffline => 6905,
            OfflineTestmodePaymentInLivemode => 1937,
            OfflineLivemodePaymentInTestmode => 1938,
            AccountIdMismatchWhileForwarding => 1930,
            ConnectionTokenProviderErrorWhileForwarding => 9051,
            ForceOfflineWithFeatureDisabled => 10107,
            NotConnectedToInternetAndRequireOnlineSet => 10106,
            MissingEmvData => 2892,
            OfflineEncryptionKeysUnavailable => 2973,
            _ => return None,
        })
    }

    /// The Android / React Native name, as it appears in histories.
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .expect("every code serializes to its name")
    }
}

impl fmt::Display for TerminalErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_carry_their_documented_names_and_numbers() {
        let code = TerminalErrorCode::OfflineEncryptionKeysUnavailable;
        assert_eq!(code.name(), "OFFLINE_ENCRYPTION_KEYS_UNAVAILABLE");
        assert_eq!(code.ios_code(), Some(2973));
        assert_eq!(
            TerminalErrorCode::ReaderBatteryCriticallyLow.to_string(),
            "READER_BATTERY_CRITICALLY_LOW"
        );
        assert_eq!(TerminalErrorCode::LocationConnectionNotAvailableOffline.ios_code(), None);
    }
}
