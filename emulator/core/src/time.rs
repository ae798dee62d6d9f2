//! Time as the core sees it: whole milliseconds since the rig started.
//!
//! The same type carries virtual time (simulator) and real time (served
//! target); the core never asks which. Durations are `std::time::Duration`,
//! instants are [`Millis`], so the two cannot be mixed up by accident.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign};
use std::time::Duration;

/// An instant: milliseconds since the rig started.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Millis(pub u64);

impl Millis {
    /// The start of the run.
    pub const ZERO: Millis = Millis(0);

    /// The time elapsed since `earlier`, or zero if `earlier` is later.
    pub fn since(self, earlier: Millis) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Millis {
    type Output = Millis;

    fn add(self, rhs: Duration) -> Millis {
        let ms = u64::try_from(rhs.as_millis()).unwrap_or(u64::MAX);
        Millis(self.0.saturating_add(ms))
    }
}

impl AddAssign<Duration> for Millis {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// Whole seconds, the unit the fixtures use for durations.
pub fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

/// Whole hours.
pub fn hours(h: u32) -> Duration {
    Duration::from_secs(u64::from(h) * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_a_duration_moves_the_instant() {
        assert_eq!(Millis(1_000) + Duration::from_secs(2), Millis(3_000));
        assert_eq!(Millis(5).since(Millis(9)), Duration::ZERO);
        assert_eq!(Millis(u64::MAX - 1) + hours(1), Millis(u64::MAX));
    }
}
