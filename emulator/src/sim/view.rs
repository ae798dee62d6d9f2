//! What shells outside the simulator read of a running rig and the few
//! things they do to it directly: each reader's state, the faults in
//! effect, and a card presented by hand (a control API call, or Stripe's
//! `present_payment_method` test helper).
//!
//! Plain views built from the cores' own accessors; nothing here decides
//! anything about payments.

use super::{Fault, LinkId, Sim};
use crate::core::CardNumber;
use crate::core::{BatteryStatus, ConnectionStatus, StoredBy};
use crate::core::{EntryMode, LinkKind, ReaderModel};
use serde::Serialize;

/// One reader of the rig, as the control API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReaderView {
    /// Its index in the rig (faults name readers by it).
    pub index: usize,
    /// Serial number.
    pub serial: String,
    /// Model.
    pub model: ReaderModel,
    /// Who stores its offline payments.
    pub stored_by: StoredBy,
    /// How the POS reaches it.
    pub via: LinkKind,
    /// The SDK's connection status.
    pub status: ConnectionStatus,
    /// Powered on.
    pub powered: bool,
    /// Battery level and class.
    pub battery_percent: u8,
    /// Battery class by the model's thresholds.
    pub battery: BatteryStatus,
    /// Busy with a payment.
    pub busy: bool,
    /// A smart reader's own internet link is up (`None` for mobile readers).
    pub internet_up: Option<bool>,
    /// Stored payments waiting to be forwarded by the device that holds
    /// this reader's payments.
    pub queued: usize,
    /// Software version.
    pub software_version: String,
}

impl Sim {
    /// Every reader of the rig.
    pub fn reader_views(&self) -> Vec<ReaderView> {
        (0..self.readers.len()).map(|i| self.reader_view(i).expect("in range")).collect()
    }

    /// One reader, by index.
    pub fn reader_view(&self, index: usize) -> Option<ReaderView> {
        let slot = self.readers.get(index)?;
        let reader = &slot.reader;
        let smart = slot.device.is_some();
        Some(ReaderView {
            index,
            serial: reader.serial().to_owned(),
            model: slot.model,
            stored_by: if smart { StoredBy::Reader } else { StoredBy::Pos },
            via: slot.via,
            status: reader.status(),
            powered: reader.is_powered(),
            battery_percent: reader.battery_percent(),
            battery: reader.battery_status(),
            busy: reader.is_busy(),
            internet_up: smart.then(|| self.links[&LinkId::ReaderBackend(index)].up),
            queued: self.queued(self.device_for(index)),
            software_version: reader.software_version().to_owned(),
        })
    }

    /// The index of the reader with this serial number.
    pub fn reader_index(&self, serial: &str) -> Option<usize> {
        self.readers.iter().position(|r| r.reader.serial() == serial)
    }

    /// Sustained faults in effect, oldest kind first.
    pub fn faults_in_effect(&self) -> Vec<Fault> {
        self.active.values().map(|(fault, _)| fault.clone()).collect()
    }

    /// A card is presented to reader `index` now (whatever it is
    /// collecting). Refused, with the reader's reason, when it is not
    /// collecting or the slot holds a card.
    pub fn present_card_now(
        &mut self,
        index: usize,
        number: &str,
        mode: EntryMode,
    ) -> Result<(), String> {
        let now = self.now;
        let slot = self.readers.get_mut(index).ok_or_else(|| format!("no reader #{index}"))?;
        if let Some(action) = self.actions.get_mut(&index) {
            action.card = Some((number.to_owned(), mode));
        }
        let number = CardNumber::from(number);
        let input = crate::core::reader::Input::PresentCard { number, mode };
        slot.reader.handle(now, input).map_err(|e| e.to_string())?;
        self.pump();
        Ok(())
    }
}
