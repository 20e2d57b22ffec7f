//! What a session looks like from outside: its state and a view per kind.

use serde::{Deserialize, Serialize};

use crate::coord::{AuctionOutcome, AuctionType, ConsensusOutcome, MarketOutcome, Money, Rule};
use crate::session::request::MarketKind;

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Taking entries.
    Open,
    /// Its final clearing is on the clearing pool; no more entries.
    Closing,
    /// Closed on request (or, for consensus, by its quorum) and cleared.
    Closed,
    /// Reached its deadline and was cleared on the entries it had.
    Expired,
    /// Cancelled before it closed: no outcome.
    Cancelled,
    /// Its clearing failed (the `error` field says why).
    Failed,
}

impl SessionState {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionState::Open => "open",
            SessionState::Closing => "closing",
            SessionState::Closed => "closed",
            SessionState::Expired => "expired",
            SessionState::Cancelled => "cancelled",
            SessionState::Failed => "failed",
        }
    }

    /// Whether the session is over (its result is kept for a while, then forgotten).
    pub fn is_finished(self) -> bool {
        !matches!(self, SessionState::Open | SessionState::Closing)
    }
}

impl std::fmt::Display for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /api/auctions/{id}`: `{"id","type","state","bids","outcome"?,...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuctionView {
    /// The session id.
    pub id: String,
    /// The auction type.
    #[serde(rename = "type")]
    pub kind: AuctionType,
    /// Its state.
    pub state: SessionState,
    /// Bids received.
    pub bids: usize,
    /// When it opened (Unix ms).
    pub opened_at: u64,
    /// When it closes by itself (Unix ms); `null` when it has no deadline (open until
    /// closed).
    pub deadline_at: Option<u64>,
    /// When it finished (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<u64>,
    /// The outcome, once cleared: the same as the one-shot call on the same bids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<AuctionOutcome>,
    /// Why the clearing failed (state `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /api/markets/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketView {
    /// The session id.
    pub id: String,
    /// Call or continuous.
    pub kind: MarketKind,
    /// Its state.
    pub state: SessionState,
    /// Orders received.
    pub orders: usize,
    /// Call: orders waiting for the next call. Continuous: orders resting in the book.
    pub pending: usize,
    /// Call: calls cleared so far.
    pub calls: u64,
    /// Units traded so far.
    pub volume: u64,
    /// Price of the last trade (continuous) or the last call's clearing price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_price: Option<Money>,
    /// Continuous: best bid (price, units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_bid: Option<(Money, u64)>,
    /// Continuous: best ask (price, units).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_ask: Option<(Money, u64)>,
    /// When it opened (Unix ms).
    pub opened_at: u64,
    /// When it closes by itself (Unix ms); `null` when it has no deadline (open until
    /// closed).
    pub deadline_at: Option<u64>,
    /// When it finished (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<u64>,
    /// Call: the last call's outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<MarketOutcome>,
    /// Call: every call's outcome, newest first, at most `core.history_retention` of them
    /// and `coordination.orders_per_market_max` fills in all (the newest always kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<CallRecord>,
    /// Why the last call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One call of a call market: `{"call","at","outcome"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The call's number in this market (1, 2, ...).
    pub call: u64,
    /// When it cleared (Unix ms).
    pub at: u64,
    /// Its outcome.
    pub outcome: MarketOutcome,
}

/// A consensus round's view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsensusView {
    /// The session id.
    pub id: String,
    /// The rule.
    pub rule: Rule,
    /// Its state.
    pub state: SessionState,
    /// Votes received.
    pub votes: usize,
    /// Votes that close the round early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u64>,
    /// When it opened (Unix ms).
    pub opened_at: u64,
    /// When it closes by itself (Unix ms); `null` when it has no deadline (open until
    /// closed).
    pub deadline_at: Option<u64>,
    /// When it finished (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<u64>,
    /// The decision, once cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ConsensusOutcome>,
    /// Why the clearing failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Any session (`GET /api/sessions/{id}`): the kind's view plus `"protocol"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
pub enum SessionView {
    /// A live auction.
    Auction(AuctionView),
    /// A live market.
    Market(MarketView),
    /// A consensus round.
    Consensus(ConsensusView),
}

impl SessionView {
    /// The session id.
    pub fn id(&self) -> &str {
        match self {
            SessionView::Auction(v) => &v.id,
            SessionView::Market(v) => &v.id,
            SessionView::Consensus(v) => &v.id,
        }
    }

    /// Its state.
    pub fn state(&self) -> SessionState {
        match self {
            SessionView::Auction(v) => v.state,
            SessionView::Market(v) => v.state,
            SessionView::Consensus(v) => v.state,
        }
    }

    /// `auction`, `market` or `consensus`.
    pub fn protocol(&self) -> &'static str {
        match self {
            SessionView::Auction(_) => "auction",
            SessionView::Market(_) => "market",
            SessionView::Consensus(_) => "consensus",
        }
    }
}

/// `GET /api/sessions`: `{"sessions":[...],"count":N}`, ordered by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionList {
    /// Open sessions and retained finished ones, ordered by id.
    pub sessions: Vec<SessionView>,
    /// `sessions.len()`.
    pub count: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_serialize_with_the_api_field_names() {
        let v = SessionView::Auction(AuctionView {
            id: "a1".into(),
            kind: AuctionType::SecondPrice,
            state: SessionState::Open,
            bids: 2,
            opened_at: 1,
            deadline_at: Some(2),
            closed_at: None,
            outcome: None,
            error: None,
        });
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["protocol"], "auction");
        assert_eq!(json["type"], "second_price");
        assert_eq!(json["state"], "open");
        assert_eq!(json["bids"], 2);
        assert!(json.get("outcome").is_none());
        let back: SessionView = serde_json::from_value(json).unwrap();
        assert_eq!(back, v);
        assert!(SessionState::Expired.is_finished() && !SessionState::Closing.is_finished());
    }
}
