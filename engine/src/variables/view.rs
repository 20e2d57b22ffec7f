//! What the store hands out: responses, history entries, views, and change deliveries.

use std::sync::Arc;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Number, Value};

use super::domain::{Domain, Policy};
use super::number::MICROS_PER_UNIT;

/// `{"name","value","version"}`: the answer to create and update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableResponse {
    /// The variable.
    pub name: String,
    /// Its value now.
    pub value: Value,
    /// Its version now (1 after create, +1 per accepted write).
    pub version: u64,
}

/// One accepted write: `{"version","value","agent_id","at"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// The version this write produced.
    pub version: u64,
    /// The value written.
    pub value: Value,
    /// Who wrote it (`"consensus"` for a decided vote, the winner for an auction).
    pub agent_id: String,
    /// When, in the caller's milliseconds.
    pub at: u64,
}

/// `{"history":[...]}`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryResponse {
    /// The retained revisions, newest first.
    pub history: Vec<Revision>,
}

/// A read-only look at one variable, borrowed from the store.
///
/// Serializes as `{"name","value","version","domain","policy","updated_at","updated_by",
/// "subscribers"}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct VariableView<'a> {
    /// The variable.
    pub name: &'a str,
    /// Its current value.
    pub value: &'a Value,
    /// Its current version.
    pub version: u64,
    /// What it may hold.
    pub domain: &'a Domain,
    /// How writes are reconciled.
    pub policy: Policy,
    /// When the current value was written.
    pub updated_at: u64,
    /// Who wrote the current value.
    pub updated_by: &'a str,
    /// Number of subscribers.
    pub subscribers: usize,
}

impl VariableView<'_> {
    /// The owned `{"name","value","version"}` form.
    pub fn to_response(&self) -> VariableResponse {
        VariableResponse {
            name: self.name.to_owned(),
            value: self.value.clone(),
            version: self.version,
        }
    }
}

/// An owned copy of a [`VariableView`], for answers that leave the owner worker
/// (`GET /api/variables/{name}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariableInfo {
    /// The variable.
    pub name: String,
    /// Its current value.
    pub value: Value,
    /// Its current version.
    pub version: u64,
    /// What it may hold.
    pub domain: Domain,
    /// How writes are reconciled.
    pub policy: Policy,
    /// When the current value was written.
    pub updated_at: u64,
    /// Who wrote the current value.
    pub updated_by: String,
    /// Number of subscribers.
    pub subscribers: usize,
}

impl VariableView<'_> {
    /// The owned form of this view.
    pub fn to_info(&self) -> VariableInfo {
        VariableInfo {
            name: self.name.to_owned(),
            value: self.value.clone(),
            version: self.version,
            domain: self.domain.clone(),
            policy: self.policy,
            updated_at: self.updated_at,
            updated_by: self.updated_by.to_owned(),
            subscribers: self.subscribers,
        }
    }
}

/// A change to a variable, shared by every delivery of it (cloning is two reference-count
/// increments). Serializes as `{"name","version","value","agent_id","at"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub(crate) name: Arc<str>,
    pub(crate) revision: Arc<Revision>,
}

impl Change {
    /// The variable that changed.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its new version.
    pub fn version(&self) -> u64 {
        self.revision.version
    }
    /// Its new value.
    pub fn value(&self) -> &Value {
        &self.revision.value
    }
    /// Who changed it.
    pub fn agent_id(&self) -> &str {
        &self.revision.agent_id
    }
    /// When.
    pub fn at(&self) -> u64 {
        self.revision.at
    }
    /// The whole revision.
    pub fn revision(&self) -> &Revision {
        &self.revision
    }
}

impl Serialize for Change {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Change", 5)?;
        s.serialize_field("name", &*self.name)?;
        s.serialize_field("version", &self.revision.version)?;
        s.serialize_field("value", &self.revision.value)?;
        s.serialize_field("agent_id", &self.revision.agent_id)?;
        s.serialize_field("at", &self.revision.at)?;
        s.end()
    }
}

/// A [`Change`] addressed to one subscriber; the runtime puts `change` in `to`'s inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The subscribing agent.
    pub to: Arc<str>,
    /// What changed.
    pub change: Change,
}

/// Which protocol decided a `coordinate` call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// A vote under one of the consensus rules.
    Vote,
    /// A sealed-bid second-price auction.
    Auction,
}

/// The weight behind one value in a vote's tally.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TallyLine {
    /// The value.
    pub value: Value,
    /// Total weight behind it.
    pub weight: u64,
    /// Number of votes for it.
    pub votes: usize,
}

/// The answer to `coordinate`. The variable changed only if `decided`.
///
/// Vote: `tally` (leader first), `support` (the leader's weight), `total`. Auction: `winner`,
/// `price` (money) and `price_micros`, `eligible`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoordinateResponse {
    /// The variable.
    pub name: String,
    /// The protocol run.
    pub protocol: Protocol,
    /// Whether a value was decided and written.
    pub decided: bool,
    /// The variable's value after the call.
    pub value: Value,
    /// The variable's version after the call.
    pub version: u64,
    /// Who is recorded as the author: `"consensus"` for a vote, the winning bidder for an
    /// auction; null when nothing was decided.
    pub winner: Option<String>,
    /// Auction: the price the winner pays, as money.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Number>,
    /// Auction: the same price in micro-units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_micros: Option<i64>,
    /// Auction: bids at or above the reserve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eligible: Option<usize>,
    /// Vote: the leader's weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support: Option<u64>,
    /// Vote: the total weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Vote: every distinct value with its weight, leader first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tally: Vec<TallyLine>,
}

/// Micro-units as a JSON number of money: an integer when whole, else the decimal text with
/// at most 6 places (read back exactly by the engine's money parser).
pub(crate) fn micros_to_number(micros: i64) -> Number {
    if micros % MICROS_PER_UNIT == 0 {
        return Number::from(micros / MICROS_PER_UNIT);
    }
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let per = MICROS_PER_UNIT.unsigned_abs();
    let text = format!("{sign}{}.{:06}", abs / per, abs % per);
    let text = text.trim_end_matches('0');
    serde_json::from_str(text).unwrap_or_else(|_| Number::from(micros / MICROS_PER_UNIT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variables::number::parse_micros;
    use serde_json::json;

    #[test]
    fn change_serializes_flat() {
        let change = Change {
            name: Arc::from("x"),
            revision: Arc::new(Revision {
                version: 2,
                value: json!(7),
                agent_id: "a".into(),
                at: 9,
            }),
        };
        assert_eq!(
            serde_json::to_value(&change).ok(),
            Some(json!({"name": "x", "version": 2, "value": 7, "agent_id": "a", "at": 9}))
        );
        assert_eq!(
            (
                change.name(),
                change.version(),
                change.agent_id(),
                change.at()
            ),
            ("x", 2, "a", 9)
        );
        assert_eq!(change.value(), &json!(7));
    }

    #[test]
    fn money_round_trips_through_json_numbers() {
        for micros in [
            0,
            1,
            12_000_000,
            12_500_000,
            -2_000_001,
            999_999_999_999,
            4_000_001,
        ] {
            let n = micros_to_number(micros);
            assert_eq!(parse_micros(&n), Ok(micros), "{micros} -> {n}");
        }
        assert_eq!(micros_to_number(12_000_000), Number::from(12));
    }
}
