//! Exponential backoff with jitter, shared by the poller and the sender.

use std::time::Duration;

/// How long to wait before try number `attempt + 1` (attempt 0 = the first
/// retry): 1 s doubling per attempt up to `max`, then a random point in the
/// upper half of that, so that many failing tasks do not retry in lockstep.
#[must_use]
pub fn delay(attempt: u32, max: Duration) -> Duration {
    delay_from(Duration::from_secs(1), attempt, max)
}

/// Like [`delay`], starting from `base` instead of 1 s.
#[must_use]
pub fn delay_from(base: Duration, attempt: u32, max: Duration) -> Duration {
    let ceiling = base
        .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .min(max);
    ceiling / 2 + ceiling.mul_f64(fastrand::f64() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_with_jitter_and_caps() {
        let max = Duration::from_secs(60);
        for _ in 0..200 {
            let first = delay(0, max);
            assert!(first >= Duration::from_millis(500) && first <= Duration::from_secs(1));
            let fourth = delay(3, max);
            assert!(fourth >= Duration::from_secs(4) && fourth <= Duration::from_secs(8));
            let late = delay(40, max);
            assert!(late >= Duration::from_secs(30) && late <= max);
            let quick = delay_from(Duration::from_millis(50), 2, max);
            assert!(quick >= Duration::from_millis(100) && quick <= Duration::from_millis(200));
        }
    }
}
