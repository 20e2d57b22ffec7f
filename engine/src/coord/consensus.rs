//! Voting: majority, supermajority, unanimity and capped weighted votes, with a quorum.
//!
//! Every rule counts one tally (weight 1 per vote except under `weighted`). The leading
//! choice is the one with the most weight, the earliest voted on ties. It is the decision
//! when the quorum (fewest votes) is met and the rule holds: `majority` needs more than half
//! the votes, `supermajority` at least `threshold` of them, `unanimous` all of them, and
//! `weighted` more than `threshold` (default one half) of the weight, where no agent may hold
//! more than `max_weight_share` of the total.

use std::collections::BTreeMap;

use crate::coord::error::CoordError;
use crate::coord::outcome::ConsensusOutcome;
use crate::coord::request::{ConsensusSpec, Rule};

/// A voting rule with its parameters: the one vocabulary shared by one-shot votes, live
/// consensus rounds and the coordination of shared variables, each rule meaning the same
/// everywhere. Parameters as checked by [`validate::rule_params`](super::validate::rule_params).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuleParams {
    /// The rule.
    pub rule: Rule,
    /// Supermajority: the share of the votes needed; weighted: the share of the weight to
    /// exceed (one half when absent).
    pub threshold: Option<f64>,
    /// Fewest votes for a decision to count.
    pub quorum: Option<u64>,
    /// Weighted: the largest share of the total weight one agent may hold.
    pub max_weight_share: Option<f64>,
}

impl RuleParams {
    /// The parameters of a one-shot vote.
    pub fn of(spec: &ConsensusSpec) -> RuleParams {
        RuleParams {
            rule: spec.rule,
            threshold: spec.threshold,
            quorum: spec.quorum,
            max_weight_share: spec.max_weight_share,
        }
    }

    /// The weight a vote counts: its `weight` (1 when absent) under `weighted`, 1 under
    /// the other rules (one vote per agent).
    pub fn counted(&self, weight: Option<u64>) -> u64 {
        if self.rule == Rule::Weighted {
            weight.unwrap_or(1)
        } else {
            1
        }
    }

    /// Whether one vote's counted weight `w` of the `total` breaks the weighted rule's cap.
    pub fn over_cap(&self, w: u64, total: u64) -> bool {
        self.rule == Rule::Weighted
            && self
                .max_weight_share
                .is_some_and(|cap| w as f64 > cap * total as f64)
    }

    /// Whether the leading choice, with `lead` of the `total` counted weight over `votes`
    /// votes, is decided: the quorum is met and the rule holds.
    pub fn decides(&self, lead: u64, total: u64, votes: usize) -> bool {
        self.quorum_met(votes) && self.holds(lead, total)
    }

    /// Whether `votes` votes meet the quorum (always, without one).
    pub fn quorum_met(&self, votes: usize) -> bool {
        votes as u64 >= self.quorum.unwrap_or(0)
    }

    /// Whether `lead` of `total` meets the rule (`majority`: more than half; `supermajority`:
    /// at least `threshold`; `unanimous`: all; `weighted`: more than `threshold`, one half
    /// when absent). Nothing holds without votes.
    pub fn holds(&self, lead: u64, total: u64) -> bool {
        let (l, t) = (u128::from(lead), u128::from(total));
        let share = if total == 0 {
            0.0
        } else {
            lead as f64 / total as f64
        };
        total > 0
            && match self.rule {
                Rule::Majority => 2 * l > t,
                Rule::Supermajority => share >= self.threshold.unwrap_or(1.0),
                Rule::Unanimous => l == t,
                Rule::Weighted => match self.threshold {
                    None => 2 * l > t,
                    Some(0.5) => 2 * l > t,
                    Some(th) => share > th,
                },
            }
    }
}

/// Decides a validated vote.
pub fn decide(spec: &ConsensusSpec) -> Result<ConsensusOutcome, CoordError> {
    let params = RuleParams::of(spec);
    // choice -> (weight, first vote index)
    let mut tally: BTreeMap<&str, (u64, usize)> = BTreeMap::new();
    let mut total: u64 = 0;
    for (i, v) in spec.votes.iter().enumerate() {
        let w = params.counted(v.weight);
        total = total
            .checked_add(w)
            .ok_or(CoordError::overflow("total vote weight"))?;
        let entry = tally.entry(v.choice.as_str()).or_insert((0, i));
        entry.0 += w; // bounded by total, which did not overflow
    }
    for (i, v) in spec.votes.iter().enumerate() {
        if params.over_cap(params.counted(v.weight), total) {
            return Err(CoordError::WeightCapExceeded {
                field: format!("consensus.votes[{i}].weight"),
                agent_id: v.agent_id.clone(),
                cap: spec.max_weight_share.unwrap_or(1.0),
            });
        }
    }
    let leading = tally
        .iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)))
        .map(|(choice, &(w, _))| (*choice, w));
    let quorum_met = params.quorum_met(spec.votes.len());
    let (lead, lead_weight) = leading.unwrap_or(("", 0));
    let share = if total == 0 {
        0.0
    } else {
        lead_weight as f64 / total as f64
    };
    let reached = params.decides(lead_weight, total, spec.votes.len());
    Ok(ConsensusOutcome {
        rule: spec.rule,
        decision: reached.then(|| lead.to_string()),
        reached,
        support: share,
        tally: tally
            .into_iter()
            .map(|(c, (w, _))| (c.to_string(), w))
            .collect(),
        votes: spec.votes.len(),
        quorum_met,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coord::request::Vote;
    use proptest::prelude::*;

    fn votes(choices: &[(&str, u64)]) -> Vec<Vote> {
        choices
            .iter()
            .enumerate()
            .map(|(i, &(c, w))| Vote {
                agent_id: format!("a{i}"),
                choice: c.into(),
                weight: Some(w),
            })
            .collect()
    }

    fn spec(
        rule: Rule,
        threshold: Option<f64>,
        quorum: Option<u64>,
        v: Vec<Vote>,
    ) -> ConsensusSpec {
        let v = if rule == Rule::Weighted {
            v
        } else {
            v.into_iter().map(|x| Vote { weight: None, ..x }).collect()
        };
        ConsensusSpec {
            rule,
            threshold,
            quorum,
            max_weight_share: None,
            votes: v,
        }
    }

    #[test]
    fn rules() {
        let v = votes(&[("yes", 1), ("no", 1), ("yes", 1)]);
        let o = decide(&spec(Rule::Majority, None, None, v.clone())).unwrap();
        assert_eq!((o.decision.as_deref(), o.reached), (Some("yes"), true));
        assert!((o.support - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            o.tally,
            BTreeMap::from([("no".to_string(), 1), ("yes".to_string(), 2)])
        );
        assert!(
            !decide(&spec(Rule::Supermajority, Some(0.75), None, v.clone()))
                .unwrap()
                .reached
        );
        assert!(
            decide(&spec(Rule::Supermajority, Some(0.66), None, v.clone()))
                .unwrap()
                .reached
        );
        assert!(
            !decide(&spec(Rule::Unanimous, None, None, v.clone()))
                .unwrap()
                .reached
        );
        let o = decide(&spec(Rule::Majority, None, Some(4), v)).unwrap();
        assert!(!o.reached && !o.quorum_met && o.decision.is_none());
        // A tie is no majority.
        assert!(
            !decide(&spec(
                Rule::Majority,
                None,
                None,
                votes(&[("a", 1), ("b", 1)])
            ))
            .unwrap()
            .reached
        );
        // No votes: nothing decided.
        assert!(
            !decide(&spec(Rule::Unanimous, None, None, vec![]))
                .unwrap()
                .reached
        );
    }

    #[test]
    fn weighted_with_cap() {
        let v = votes(&[("x", 5), ("y", 2), ("y", 2)]);
        let o = decide(&spec(Rule::Weighted, None, None, v.clone())).unwrap();
        assert_eq!(o.decision.as_deref(), Some("x"));
        let mut capped = spec(Rule::Weighted, None, None, v);
        capped.max_weight_share = Some(0.5);
        let e = decide(&capped).unwrap_err();
        assert_eq!(
            (e.code(), e.field()),
            ("weight_cap_exceeded", Some("consensus.votes[0].weight"))
        );
    }

    proptest! {
        /// Monotonicity: one more vote for the decision keeps it decided.
        #[test]
        fn an_extra_vote_for_the_decision_keeps_it(choices in prop::collection::vec(0u8..3, 1..12)) {
            let names = ["a", "b", "c"];
            let v: Vec<(&str, u64)> = choices.iter().map(|&c| (names[c as usize], 1)).collect();
            let o = decide(&spec(Rule::Majority, None, None, votes(&v))).unwrap();
            if let Some(d) = o.decision {
                let mut more = v.clone();
                more.push((names.iter().find(|n| **n == d).unwrap(), 1));
                let again = decide(&spec(Rule::Majority, None, None, votes(&more))).unwrap();
                prop_assert_eq!(again.decision, Some(d));
            }
            let total: u64 = o.tally.values().sum();
            prop_assert_eq!(total, v.len() as u64);
        }
    }
}
