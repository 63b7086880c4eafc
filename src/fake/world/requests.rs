//! Requests as they reached the fake, and the fault rules they are matched against.

use serde_json::Value;

use super::World;
use crate::fake::{Fault, FaultRule, RecordedRequest};

impl World {
    pub(in crate::fake) fn requests(&self) -> &[RecordedRequest] {
        &self.requests
    }

    pub(in crate::fake) fn record(&mut self, bot_id: Option<i64>, method: &str, params: Value) {
        self.requests.push(RecordedRequest {
            bot_id,
            method: method.to_owned(),
            params,
        });
    }

    pub(in crate::fake) fn clear_requests(&mut self) {
        self.requests.clear();
    }

    pub(in crate::fake) fn inject(&mut self, rule: FaultRule) {
        self.faults.push(rule);
    }

    pub(in crate::fake) fn clear_faults(&mut self) {
        self.faults.clear();
    }

    pub(in crate::fake) fn seed_faults(&mut self, seed: u64) {
        self.fault_rng = fastrand::Rng::with_seed(seed);
    }

    /// The fault for this request: the first rule that matches and fires
    /// decides it and uses one of its `times`. A [`Fault::Sometimes`] rule
    /// that does not fire passes the request on to the next rules.
    pub(in crate::fake) fn take_fault(
        &mut self,
        bot_id: Option<i64>,
        method: &str,
    ) -> Option<Fault> {
        for index in 0..self.faults.len() {
            let rule = &self.faults[index];
            let matches = rule.times > 0
                && rule
                    .method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && rule.bot_id.is_none_or(|id| Some(id) == bot_id);
            if !matches {
                continue;
            }
            let Some(fault) = fire(&rule.fault, &mut self.fault_rng) else {
                continue;
            };
            let rule = &mut self.faults[index];
            rule.times -= 1;
            if rule.times == 0 {
                self.faults.remove(index);
            }
            return Some(fault);
        }
        None
    }
}

/// The fault a rule's `fault` applies to this request, if it fires.
fn fire(fault: &Fault, rng: &mut fastrand::Rng) -> Option<Fault> {
    match fault {
        Fault::Sometimes { per_million, fault } => {
            if rng.u32(0..1_000_000) < *per_million {
                fire(fault, rng)
            } else {
                None
            }
        }
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order() {
        let mut world = World::new();
        world.inject(FaultRule::on("sendMessage", Fault::server_error()).times(2));
        world.inject(FaultRule::any(Fault::Hang));
        assert_eq!(
            world.take_fault(Some(1), "SENDMESSAGE"),
            Some(Fault::server_error())
        );
        assert_eq!(world.take_fault(None, "getMe"), Some(Fault::Hang));
        assert_eq!(
            world.take_fault(Some(1), "sendMessage"),
            Some(Fault::server_error())
        );
        assert_eq!(world.take_fault(Some(1), "sendMessage"), None);
        world.inject(FaultRule::any(Fault::Hang).times(0));
        assert_eq!(world.take_fault(Some(1), "getMe"), None);
    }

    #[test]
    fn sometimes_rules_hit_a_share_and_pass_the_rest_on() {
        let mut world = World::new();
        world.seed_faults(7);
        world.inject(
            FaultRule::on("copyMessage", Fault::server_error())
                .with_probability(0.2)
                .always(),
        );
        world.inject(FaultRule::any(Fault::Hang).always());
        let faults: Vec<Option<Fault>> = (0..10_000)
            .map(|_| world.take_fault(Some(1), "copyMessage"))
            .collect();
        let errors = faults
            .iter()
            .filter(|f| **f == Some(Fault::server_error()))
            .count();
        assert!((1_700..=2_300).contains(&errors), "{errors} of 10000");
        // The spared requests fell through to the next rule.
        assert!(faults.iter().all(Option::is_some));

        world.clear_faults();
        world.inject(FaultRule::on("getMe", Fault::server_error()).with_probability(0.0));
        world.inject(FaultRule::on("getMe", Fault::server_error()).with_probability(1.0));
        assert_eq!(world.take_fault(None, "getMe"), Some(Fault::server_error()));
        assert_eq!(world.faults.len(), 1, "the certain rule was used up");
        assert_eq!(world.take_fault(None, "getMe"), None);
    }
}
