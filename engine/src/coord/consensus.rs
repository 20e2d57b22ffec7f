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

/// Decides a validated vote.
pub fn decide(spec: &ConsensusSpec) -> Result<ConsensusOutcome, CoordError> {
    let weighted = spec.rule == Rule::Weighted;
    let weight_of = |w: Option<u64>| if weighted { w.unwrap_or(1) } else { 1 };
    // choice -> (weight, first vote index)
    let mut tally: BTreeMap<&str, (u64, usize)> = BTreeMap::new();
    let mut total: u64 = 0;
    for (i, v) in spec.votes.iter().enumerate() {
        let w = weight_of(v.weight);
        total = total
            .checked_add(w)
            .ok_or(CoordError::overflow("total vote weight"))?;
        let entry = tally.entry(v.choice.as_str()).or_insert((0, i));
        entry.0 += w; // bounded by total, which did not overflow
    }
    if weighted && let Some(cap) = spec.max_weight_share {
        for (i, v) in spec.votes.iter().enumerate() {
            let w = weight_of(v.weight);
            if w as f64 > cap * total as f64 {
                return Err(CoordError::WeightCapExceeded {
                    field: format!("consensus.votes[{i}].weight"),
                    agent_id: v.agent_id.clone(),
                    cap,
                });
            }
        }
    }
    let leading = tally
        .iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)))
        .map(|(choice, &(w, _))| (*choice, w));
    let quorum_met = spec.votes.len() as u64 >= spec.quorum.unwrap_or(0);
    let (lead, lead_weight) = leading.unwrap_or(("", 0));
    let (l, t) = (u128::from(lead_weight), u128::from(total));
    let share = if total == 0 {
        0.0
    } else {
        lead_weight as f64 / total as f64
    };
    let holds = total > 0
        && match spec.rule {
            Rule::Majority => 2 * l > t,
            Rule::Supermajority => share >= spec.threshold.unwrap_or(1.0),
            Rule::Unanimous => l == t,
            Rule::Weighted => match spec.threshold {
                None => 2 * l > t,
                Some(0.5) => 2 * l > t,
                Some(th) => share > th,
            },
        };
    let reached = quorum_met && holds;
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
