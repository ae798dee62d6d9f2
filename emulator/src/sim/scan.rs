//! The end of a run's confidentiality check: every file of every device is
//! read for card numbers in clear (runs of 13 to 19 digits that pass Luhn),
//! and the history says what was found.

use super::Sim;
use crate::core::luhn_valid_digits;
use crate::core::{EventBody, Part};
use crate::disk::Disk;

impl Sim {
    /// Reads every file of every device for card numbers in clear.
    pub(super) fn scan_storage(&mut self) {
        for device in self.devices() {
            let slot = self.slot(device).expect("listed");
            let names = slot.disk.list().unwrap_or_default();
            let (mut bytes, mut found) = (0u64, 0u32);
            for name in &names {
                let data = slot.disk.read(name).unwrap_or_default();
                bytes += data.len() as u64;
                found += count_card_numbers(&data);
            }
            let body = EventBody::StorageScanned {
                device: self.device_target(device),
                files: u32::try_from(names.len()).unwrap_or(u32::MAX),
                bytes,
                card_numbers_in_clear: found,
            };
            let now = self.now;
            self.record(now, Part("rig".to_owned()), body);
        }
    }
}

/// Counts runs of 13 to 19 ASCII digits that pass the Luhn check.
pub fn count_card_numbers(data: &[u8]) -> u32 {
    let mut count = 0;
    let mut run = 0usize;
    for (i, byte) in data.iter().enumerate() {
        if byte.is_ascii_digit() {
            run += 1;
            continue;
        }
        if (13..=19).contains(&run) && luhn_valid_digits(&data[i - run..i]) {
            count += 1;
        }
        run = 0;
    }
    if (13..=19).contains(&run) && luhn_valid_digits(&data[data.len() - run..]) {
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::count_card_numbers;

    #[test]
    fn card_numbers_in_clear_are_counted_and_other_digits_are_not() {
        assert_eq!(count_card_numbers(b"{\"n\":\"4242424242424242\"}"), 1);
        assert_eq!(count_card_numbers(b"4242424242424241"), 0);
        assert_eq!(count_card_numbers(b"123"), 0);
        assert_eq!(count_card_numbers(b"x5555555555554444"), 1);
    }
}
