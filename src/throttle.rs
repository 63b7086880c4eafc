//! Lets one event through per period and counts the ones held back: for log
//! lines about a condition that may repeat many times a second (calls that
//! fail and are retried, `accept` failing on a full descriptor table), so the
//! log shows it, with a count, without being flooded.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct Throttle {
    every: Duration,
    last: Option<Instant>,
    held_back: u64,
}

impl Throttle {
    #[must_use]
    pub fn new(every: Duration) -> Throttle {
        Throttle {
            every,
            last: None,
            held_back: 0,
        }
    }

    /// An event at `now`: `Some(how many were held back since the last one
    /// let through)` if this one may be shown, `None` if it is held back.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < self.every)
        {
            self.held_back += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held_back))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_per_period_with_a_count_of_the_rest() {
        let mut throttle = Throttle::new(Duration::from_secs(10));
        let start = Instant::now();
        let at = |millis| start + Duration::from_millis(millis);
        assert_eq!(throttle.allow(at(0)), Some(0));
        assert_eq!(throttle.allow(at(100)), None);
        assert_eq!(throttle.allow(at(9_999)), None);
        assert_eq!(throttle.allow(at(10_000)), Some(2));
        assert_eq!(throttle.allow(at(10_100)), None);
        assert_eq!(throttle.allow(at(30_000)), Some(1));
    }
}
