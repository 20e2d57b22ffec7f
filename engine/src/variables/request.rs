//! Request bodies (serde, unknown fields refused) and their translation into the pure
//! coordination inputs.

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::coordinate::{Bid, CoordinationError, Vote, VoteRule};
use super::domain::{Domain, Policy};
use super::number::{NumberError, parse_micros};
use crate::coord::Rule;
use crate::coord::validate::rule_params;

/// `POST /api/variables`: `{"name","value","domain"?,"policy"?,"agent_id"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// 1-128 characters of `[A-Za-z0-9_.:-]`.
    pub name: String,
    /// The initial value (version 1).
    pub value: Value,
    /// What the variable may hold; default `{"type":"free"}`.
    #[serde(default)]
    pub domain: Domain,
    /// How writes are reconciled; default `"last_write_wins"`.
    #[serde(default)]
    pub policy: Policy,
    /// Who creates it, recorded in history as version 1's author; default `"system"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
}

/// `PUT /api/variables/{name}`: `{"value","agent_id","version"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    /// The new value.
    pub value: Value,
    /// Who writes it.
    pub agent_id: String,
    /// The version the writer read; a stale one is refused (409). Required under
    /// `version_check`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// Subscribe or unsubscribe: `{"agent_id"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    /// The agent whose inbox receives the changes.
    pub agent_id: String,
}

/// Name of a vote rule on the wire: the one-shot consensus protocol's [`Rule`], with the
/// same meaning (`majority`, `supermajority`, `unanimous`, `weighted`).
pub type RuleName = Rule;

/// One vote on the wire: `{"agent_id","value","weight"?,"at"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteSpec {
    /// The voter.
    pub agent_id: String,
    /// The value voted for.
    pub value: Value,
    /// The voter's stake; default 1.
    #[serde(default = "one")]
    pub weight: u64,
    /// When the vote was cast; default its position in the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
}

fn one() -> u64 {
    1
}

/// One sealed bid on the wire: `{"agent_id","value","amount","at"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BidSpec {
    /// The bidder.
    pub agent_id: String,
    /// The value the bidder sets if it wins.
    pub value: Value,
    /// Money, at most 6 decimal places.
    pub amount: Number,
    /// When the bid was cast; default its position in the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
}

/// `POST /api/variables/{name}/coordinate`.
///
/// ```json
/// {"protocol":"vote","rule":"supermajority","threshold":0.75,
///  "votes":[{"agent_id":"a","value":3,"weight":2},{"agent_id":"b","value":3}]}
/// {"protocol":"auction","reserve":1.5,
///  "bids":[{"agent_id":"a","value":"fast","amount":4.25},{"agent_id":"b","value":"slow","amount":3}]}
/// ```
/// `version` is optional (required under `version_check`) and must be current.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case", deny_unknown_fields)]
pub enum CoordinateRequest {
    /// A vote under one of the consensus rules; see
    /// [`decide_vote`](super::coordinate::decide_vote).
    Vote {
        /// The rule that decides.
        rule: RuleName,
        /// Share required by `supermajority` (in (0.5, 1]) or to exceed by `weighted` (in
        /// [0.5, 1), one half when absent), at most 6 decimals.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        threshold: Option<Number>,
        /// Fewest votes for a decision to count.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quorum: Option<u64>,
        /// `weighted`: the largest share of the total weight one agent may hold, in (0, 1].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_weight_share: Option<Number>,
        /// The votes, one per agent.
        votes: Vec<VoteSpec>,
        /// The version the caller read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<u64>,
    },
    /// A sealed-bid second-price auction for the right to set the value; see
    /// [`decide_second_price`](super::coordinate::decide_second_price).
    Auction {
        /// Lowest eligible bid; default 0.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reserve: Option<Number>,
        /// The bids, one per agent.
        bids: Vec<BidSpec>,
        /// The version the caller read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<u64>,
    },
}

impl CoordinateRequest {
    /// The version the caller read, if sent.
    pub fn version(&self) -> Option<u64> {
        match self {
            Self::Vote { version, .. } | Self::Auction { version, .. } => *version,
        }
    }

    /// Number of votes or bids.
    pub fn participants(&self) -> usize {
        match self {
            Self::Vote { votes, .. } => votes.len(),
            Self::Auction { bids, .. } => bids.len(),
        }
    }
}

/// The `at` of each entry: all given, or none (then the position in the list).
fn resolve_at(ats: &[Option<u64>], what: &'static str) -> Result<Vec<u64>, CoordinationError> {
    let given = ats.iter().filter(|a| a.is_some()).count();
    if given != 0 && given != ats.len() {
        return Err(CoordinationError::MixedAt(what));
    }
    Ok(ats
        .iter()
        .enumerate()
        .map(|(i, at)| at.unwrap_or(i as u64))
        .collect())
}

fn money(what: String, n: &Number) -> Result<i64, CoordinationError> {
    parse_micros(n).map_err(|e| CoordinationError::Number {
        what: format!("{what} {n}"),
        detail: e.describe().to_owned(),
    })
}

/// A share on the wire (`threshold`, `max_weight_share`): at most 6 decimals.
fn share(what: &str, n: &Number) -> Result<f64, CoordinationError> {
    let micros = parse_micros(n).map_err(|e| match e {
        NumberError::TooManyDecimals | NumberError::TooManyDigits => CoordinationError::Number {
            what: format!("{what} {n}"),
            detail: e.describe().to_owned(),
        },
        NumberError::OutOfRange => CoordinationError::Threshold(n.to_string()),
    })?;
    Ok(micros as f64 / 1e6)
}

/// Translates wire votes into the pure inputs and the rule, checked by the same
/// [`rule_params`] as a one-shot `consensus` vote.
pub(crate) fn votes_input(
    rule: RuleName,
    threshold: Option<&Number>,
    quorum: Option<u64>,
    max_weight_share: Option<&Number>,
    votes: Vec<VoteSpec>,
) -> Result<(Vec<Vote>, VoteRule), CoordinationError> {
    let rule = VoteRule {
        rule,
        threshold: threshold.map(|t| share("threshold", t)).transpose()?,
        quorum,
        max_weight_share: max_weight_share
            .map(|c| share("max_weight_share", c))
            .transpose()?,
    };
    rule_params("", rule.rule, rule.threshold, rule.max_weight_share)
        .map_err(|e| CoordinationError::Invalid(e.to_string()))?;
    let ats: Vec<Option<u64>> = votes.iter().map(|v| v.at).collect();
    let ats = resolve_at(&ats, "votes")?;
    let votes = votes
        .into_iter()
        .zip(ats)
        .map(|(v, at)| Vote {
            agent_id: v.agent_id,
            value: v.value,
            weight: v.weight,
            at,
        })
        .collect();
    Ok((votes, rule))
}

/// Translates wire bids into the pure inputs and the reserve, in micro-units.
pub(crate) fn bids_input(
    reserve: Option<&Number>,
    bids: Vec<BidSpec>,
) -> Result<(Vec<Bid>, i64), CoordinationError> {
    let reserve = reserve.map_or(Ok(0), |r| money("reserve".to_owned(), r))?;
    let ats: Vec<Option<u64>> = bids.iter().map(|b| b.at).collect();
    let ats = resolve_at(&ats, "bids")?;
    let mut out = Vec::with_capacity(bids.len());
    for (b, at) in bids.into_iter().zip(ats) {
        let amount = money(format!("amount of agent {:?}", b.agent_id), &b.amount)?;
        out.push(Bid {
            agent_id: b.agent_id,
            value: b.value,
            amount,
            at,
        });
    }
    Ok((out, reserve))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn create_defaults_and_refuses_unknown_fields() {
        let r: CreateRequest = parse(json!({"name": "x", "value": 1})).expect("valid");
        assert_eq!(
            (r.domain, r.policy, r.agent_id),
            (Domain::Free, Policy::LastWriteWins, None)
        );
        let r: CreateRequest = parse(json!({"name": "x", "value": 1,
            "domain": {"type": "range", "min": 0, "max": 2}, "policy": "coordinated"}))
        .expect("valid");
        assert_eq!(r.policy, Policy::Coordinated);
        assert!(parse::<CreateRequest>(json!({"name": "x", "value": 1, "ttl": 5})).is_err());
        assert!(parse::<CreateRequest>(json!({"name": "x"})).is_err());
        assert!(parse::<UpdateRequest>(json!({"value": 1, "agent_id": "a", "v": 1})).is_err());
        assert!(
            parse::<UpdateRequest>(json!({"value": 1, "agent_id": "a", "version": -1})).is_err()
        );
    }

    #[test]
    fn coordinate_requests_parse_and_refuse_unknown_fields() {
        let r: CoordinateRequest = parse(json!({"protocol": "vote", "rule": "majority",
            "votes": [{"agent_id": "a", "value": 1}], "version": 3}))
        .expect("valid");
        assert_eq!((r.version(), r.participants()), (Some(3), 1));
        let r: CoordinateRequest = parse(json!({"protocol": "auction",
            "bids": [{"agent_id": "a", "value": 1, "amount": 2.5}]}))
        .expect("valid");
        assert_eq!((r.version(), r.participants()), (None, 1));
        assert!(
            parse::<CoordinateRequest>(json!({"protocol": "vote", "rule": "majority",
            "votes": [], "colour": 2}))
            .is_err()
        );
        assert!(
            parse::<CoordinateRequest>(json!({"protocol": "vote", "rule": "majority",
            "votes": [{"agent_id": "a", "value": 1, "stake": 2}]}))
            .is_err()
        );
        assert!(parse::<CoordinateRequest>(json!({"protocol": "lottery", "bids": []})).is_err());
    }

    #[test]
    fn votes_translate_rules_and_times() {
        let specs = |ats: [Option<u64>; 2]| {
            ats.iter()
                .enumerate()
                .map(|(i, &at)| VoteSpec {
                    agent_id: format!("a{i}"),
                    value: json!(i),
                    weight: 1,
                    at,
                })
                .collect::<Vec<_>>()
        };
        let t = Number::from_f64(0.75).expect("finite");
        let (votes, rule) = votes_input(
            RuleName::Supermajority,
            Some(&t),
            None,
            None,
            specs([None, None]),
        )
        .expect("valid");
        assert_eq!(
            (rule.rule, rule.threshold),
            (Rule::Supermajority, Some(0.75))
        );
        assert_eq!(votes.iter().map(|v| v.at).collect::<Vec<_>>(), [0, 1]);
        let (votes, _) = votes_input(
            RuleName::Majority,
            None,
            None,
            None,
            specs([Some(9), Some(4)]),
        )
        .expect("valid");
        assert_eq!(votes.iter().map(|v| v.at).collect::<Vec<_>>(), [9, 4]);
        let e =
            votes_input(RuleName::Majority, None, None, None, specs([Some(9), None])).unwrap_err();
        assert_eq!(e, CoordinationError::MixedAt("votes"));
        // The rule parameters are checked as a one-shot consensus vote checks them.
        assert!(
            votes_input(
                RuleName::Supermajority,
                None,
                None,
                None,
                specs([None, None])
            )
            .is_err()
        );
        assert!(
            votes_input(
                RuleName::Majority,
                Some(&t),
                None,
                None,
                specs([None, None])
            )
            .is_err()
        );
        assert!(
            votes_input(
                RuleName::Weighted,
                Some(&t),
                None,
                None,
                specs([None, None])
            )
            .is_ok()
        );
        let half = Number::from_f64(0.5).expect("finite");
        assert!(
            votes_input(
                RuleName::Supermajority,
                Some(&half),
                None,
                None,
                specs([None, None])
            )
            .is_err()
        );
        let cap = Number::from_f64(1.5).expect("finite");
        assert!(
            votes_input(
                RuleName::Weighted,
                None,
                None,
                Some(&cap),
                specs([None, None])
            )
            .is_err()
        );
        let fine = Number::from_f64(0.7500001).expect("finite");
        let e = votes_input(
            RuleName::Supermajority,
            Some(&fine),
            None,
            None,
            specs([None, None]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("6 decimal"), "{e}");
        let big = Number::from(5_000_000_000_u64);
        let e = votes_input(
            RuleName::Supermajority,
            Some(&big),
            None,
            None,
            specs([None, None]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("at most 1"), "{e}");
    }

    #[test]
    fn bids_translate_money_exactly() {
        let spec = |amount: Value| BidSpec {
            agent_id: "a".into(),
            value: json!(1),
            amount: serde_json::from_value(amount).expect("number"),
            at: None,
        };
        let r = Number::from_f64(1.5).expect("finite");
        let (bids, reserve) = bids_input(Some(&r), vec![spec(json!(4.000001))]).expect("valid");
        assert_eq!((bids[0].amount, reserve), (4_000_001, 1_500_000));
        let e = bids_input(None, vec![spec(json!(4.0000001))]).unwrap_err();
        assert!(e.to_string().contains("more than 6 decimal places"), "{e}");
        let e = bids_input(None, vec![spec(json!(1e30))]).unwrap_err();
        assert!(e.to_string().contains("fixed-point range"), "{e}");
    }
}
