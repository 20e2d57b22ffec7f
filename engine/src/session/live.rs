//! One session: its entries, its state, and how entries are checked and taken.
//!
//! An entry (bid, order, vote) is checked against the same validation a one-shot
//! request gets, by placing it alone in a probe request (the session's parameters
//! with no other entries), so a live session refuses exactly what the one-shot call
//! would refuse and never fails at close time on a bad entry.

use std::collections::{HashSet, VecDeque};
use std::mem;

use crate::coord::market::book::OrderBook;
use crate::coord::validate::{self, Limits};
use crate::coord::{
    AuctionOutcome, AuctionSpec, AuctionType, Bid, ConsensusOutcome, ConsensusSpec, CoordError,
    CoordinationOutcome, CoordinationRequest, MarketOutcome, MarketSpec, Money, Order, Vote,
};
use crate::session::error::SessionError;
use crate::session::idempotency::{Keys, Seen};
use crate::session::request::{BidReceipt, MarketKind, OrderReceipt, VoteReceipt};
use crate::session::view::{
    AuctionView, CallRecord, ConsensusView, MarketView, SessionState, SessionView,
};

/// A live auction's entries.
pub(crate) struct AuctionBody {
    /// The parameters with no bids: the probe for checking one bid, and the
    /// template of the request cleared at close.
    pub(crate) probe: AuctionSpec,
    pub(crate) bids: Vec<Bid>,
    /// Bidders so far (one bid per agent except in combinatorial auctions).
    agents: HashSet<String>,
    pub(crate) count: usize,
    keys: Keys<Bid, BidReceipt>,
    pub(crate) outcome: Option<AuctionOutcome>,
}

/// A live market's entries.
pub(crate) struct MarketBody {
    pub(crate) kind: MarketKind,
    /// Call: orders resting for the next call, in submission order: the unfilled
    /// remainders of earlier calls, then the orders received since.
    pub(crate) pending: Vec<Order>,
    /// Call: orders received since the last call started (a call runs by itself only
    /// when there are some: the remainders of a call never cross each other).
    fresh: usize,
    /// Call: the calls cleared, newest first: at most `calls_kept` of them, holding at most
    /// `fills_kept` fills in all (the oldest calls go first; the newest is always kept).
    history: VecDeque<CallRecord>,
    calls_kept: usize,
    fills_kept: usize,
    /// Fills held in `history`.
    history_fills: usize,
    /// Continuous: the book.
    book: Option<OrderBook>,
    keys: Keys<Order, OrderReceipt>,
    pub(crate) received: usize,
    pub(crate) calls: u64,
    pub(crate) volume: u64,
    pub(crate) last_price: Option<Money>,
    /// Call: when the next call is due (Unix ms).
    pub(crate) next_call_at: u64,
    pub(crate) outcome: Option<MarketOutcome>,
}

/// A consensus round's entries.
pub(crate) struct ConsensusBody {
    pub(crate) probe: ConsensusSpec,
    pub(crate) votes: Vec<Vote>,
    agents: HashSet<String>,
    pub(crate) count: usize,
    keys: Keys<Vote, VoteReceipt>,
    pub(crate) outcome: Option<ConsensusOutcome>,
}

/// What kind of session, with its entries.
pub(crate) enum Body {
    Auction(AuctionBody),
    Market(MarketBody),
    Consensus(ConsensusBody),
}

/// One session and the callers waiting for its clearings.
pub(crate) struct Entry<W> {
    pub(crate) id: String,
    pub(crate) state: SessionState,
    pub(crate) opened_at: u64,
    /// When it closes by itself (Unix ms); `None`: open until closed.
    pub(crate) deadline_at: Option<u64>,
    pub(crate) closed_at: Option<u64>,
    /// How the session ends once its clearings are done (`Closed` or `Expired`).
    pub(crate) ending: Option<SessionState>,
    /// The clearing on the pool now, if any (one at a time per session).
    pub(crate) job: Option<u64>,
    /// Answered when the in-flight clearing completes.
    pub(crate) waiting: Vec<W>,
    /// Answered after the next clearing (requests made while one was in flight).
    pub(crate) queued: Vec<W>,
    pub(crate) error: Option<String>,
    pub(crate) body: Body,
}

/// Limits an entry is checked against.
pub(crate) struct EntryLimits<'a> {
    pub(crate) limits: &'a Limits,
    pub(crate) bids_max: usize,
    pub(crate) orders_max: usize,
    pub(crate) votes_max: usize,
}

impl AuctionBody {
    pub(crate) fn new(probe: AuctionSpec, keys_max: usize) -> Self {
        Self {
            probe,
            bids: Vec::new(),
            agents: HashSet::new(),
            count: 0,
            keys: Keys::new(keys_max),
            outcome: None,
        }
    }
}

impl MarketBody {
    pub(crate) fn new(
        kind: MarketKind,
        orders_max: usize,
        keys_max: usize,
        next_call_at: u64,
        calls_kept: usize,
    ) -> Self {
        Self {
            kind,
            pending: Vec::new(),
            fresh: 0,
            history: VecDeque::new(),
            calls_kept,
            fills_kept: orders_max,
            history_fills: 0,
            book: (kind == MarketKind::Continuous).then(|| OrderBook::new(orders_max)),
            keys: Keys::new(keys_max),
            received: 0,
            calls: 0,
            volume: 0,
            last_price: None,
            next_call_at,
            outcome: None,
        }
    }
}

impl ConsensusBody {
    pub(crate) fn new(probe: ConsensusSpec, keys_max: usize) -> Self {
        Self {
            probe,
            votes: Vec::new(),
            agents: HashSet::new(),
            count: 0,
            keys: Keys::new(keys_max),
            outcome: None,
        }
    }
}

fn not_open(id: &str, state: SessionState, what: &'static str) -> SessionError {
    SessionError::NotOpen {
        id: id.to_owned(),
        state: state.as_str(),
        what,
    }
}

impl<W> Entry<W> {
    pub(crate) fn protocol(&self) -> &'static str {
        match self.body {
            Body::Auction(_) => "auction",
            Body::Market(_) => "market",
            Body::Consensus(_) => "consensus",
        }
    }

    /// Places a bid. A repeated idempotency key answers the first receipt.
    pub(crate) fn bid(
        &mut self,
        bid: Bid,
        key: Option<String>,
        lim: &EntryLimits<'_>,
    ) -> Result<BidReceipt, SessionError> {
        let Body::Auction(a) = &mut self.body else {
            return Err(SessionError::NotFound {
                what: "auction",
                id: self.id.clone(),
            });
        };
        if let Seen::Repeat(r) = a.keys.check(&self.id, key.as_deref(), &bid)? {
            return Ok(r);
        }
        if self.state != SessionState::Open {
            return Err(not_open(&self.id, self.state, "bids"));
        }
        if a.count >= lim.bids_max {
            return Err(SessionError::Full {
                id: self.id.clone(),
                max: lim.bids_max,
                what: "bids",
                setting: "bids_per_auction_max",
            });
        }
        let combinatorial = a.probe.kind == AuctionType::Combinatorial;
        if !combinatorial && a.agents.contains(&bid.agent_id) {
            return Err(SessionError::Duplicate {
                id: self.id.clone(),
                agent_id: bid.agent_id,
            });
        }
        let bid = if combinatorial {
            a.probe.bids.push(bid);
            let checked = validate::auction(&a.probe, lim.limits).map(|_| ());
            let bid = a
                .probe
                .bids
                .pop()
                .ok_or_else(|| CoordError::overflow("probe"))?;
            checked?;
            bid
        } else {
            validate::check_bid(&bid, a.probe.kind, &|name| format!("bid.{name}"))?;
            bid
        };
        if !combinatorial {
            a.agents.insert(bid.agent_id.clone());
        }
        a.count += 1;
        let receipt = BidReceipt {
            auction_id: self.id.clone(),
            bid_id: a.count as u64,
            bids: a.count,
        };
        match key {
            Some(_) => {
                a.bids.push(bid.clone());
                a.keys.remember(key, bid, receipt.clone());
            }
            None => a.bids.push(bid),
        }
        Ok(receipt)
    }

    /// Places an order: matched now (continuous) or held for the next call.
    pub(crate) fn order(
        &mut self,
        order: Order,
        key: Option<String>,
        lim: &EntryLimits<'_>,
    ) -> Result<OrderReceipt, SessionError> {
        let Body::Market(m) = &mut self.body else {
            return Err(SessionError::NotFound {
                what: "market",
                id: self.id.clone(),
            });
        };
        if let Seen::Repeat(r) = m.keys.check(&self.id, key.as_deref(), &order)? {
            return Ok(r);
        }
        if self.state != SessionState::Open {
            return Err(not_open(&self.id, self.state, "orders"));
        }
        let receipt = match &mut m.book {
            Some(book) => {
                let s = book.submit(&order)?;
                m.volume += s.filled;
                if let Some(last) = s.fills.last() {
                    m.last_price = Some(last.price);
                }
                OrderReceipt {
                    market_id: self.id.clone(),
                    order_id: s.order_id,
                    filled: s.filled,
                    remaining: s.remaining,
                    resting: s.resting,
                    fills: s.fills,
                }
            }
            None => {
                if m.pending.len() >= lim.orders_max {
                    return Err(SessionError::Full {
                        id: self.id.clone(),
                        max: lim.orders_max,
                        what: "orders",
                        setting: "orders_per_market_max",
                    });
                }
                validate::check_call_order(&order, &|name| format!("order.{name}"))?;
                OrderReceipt {
                    market_id: self.id.clone(),
                    order_id: m.received as u64 + 1,
                    filled: 0,
                    remaining: order.quantity,
                    resting: true,
                    fills: Vec::new(),
                }
            }
        };
        m.received += 1;
        let keep = m.book.is_none();
        if keep {
            m.fresh += 1;
        }
        match (key, keep) {
            (Some(k), true) => {
                m.pending.push(order.clone());
                m.keys.remember(Some(k), order, receipt.clone());
            }
            (Some(k), false) => m.keys.remember(Some(k), order, receipt.clone()),
            (None, true) => m.pending.push(order),
            (None, false) => {}
        }
        Ok(receipt)
    }

    /// Counts a vote. `closing` in the receipt says the quorum is now met.
    pub(crate) fn vote(
        &mut self,
        vote: Vote,
        key: Option<String>,
        lim: &EntryLimits<'_>,
    ) -> Result<VoteReceipt, SessionError> {
        let Body::Consensus(c) = &mut self.body else {
            return Err(SessionError::NotFound {
                what: "consensus",
                id: self.id.clone(),
            });
        };
        if let Seen::Repeat(r) = c.keys.check(&self.id, key.as_deref(), &vote)? {
            return Ok(r);
        }
        if self.state != SessionState::Open {
            return Err(not_open(&self.id, self.state, "votes"));
        }
        if c.count >= lim.votes_max {
            return Err(SessionError::Full {
                id: self.id.clone(),
                max: lim.votes_max,
                what: "votes",
                setting: "bids_per_auction_max",
            });
        }
        if c.agents.contains(&vote.agent_id) {
            return Err(SessionError::Duplicate {
                id: self.id.clone(),
                agent_id: vote.agent_id,
            });
        }
        c.probe.votes.push(vote);
        let checked = validate::consensus(&c.probe, lim.limits);
        let vote = c
            .probe
            .votes
            .pop()
            .ok_or_else(|| CoordError::overflow("probe"))?;
        checked?;
        c.agents.insert(vote.agent_id.clone());
        c.count += 1;
        let closing = c.probe.quorum.is_some_and(|q| c.count as u64 >= q);
        let receipt = VoteReceipt {
            consensus_id: self.id.clone(),
            vote_id: c.count as u64,
            votes: c.count,
            closing,
        };
        match key {
            Some(_) => {
                c.votes.push(vote.clone());
                c.keys.remember(key, vote, receipt.clone());
            }
            None => c.votes.push(vote),
        }
        Ok(receipt)
    }

    /// The request to clear now, taking the entries collected so far.
    pub(crate) fn take_request(&mut self) -> (CoordinationRequest, usize) {
        match &mut self.body {
            Body::Auction(a) => {
                let bids = mem::take(&mut a.bids);
                let n = bids.len();
                let spec = AuctionSpec {
                    bids,
                    ..a.probe.clone()
                };
                (CoordinationRequest::Auction(spec), n)
            }
            Body::Market(m) => {
                let orders = mem::take(&mut m.pending);
                m.fresh = 0;
                let n = orders.len();
                (CoordinationRequest::Market(MarketSpec { orders }), n)
            }
            Body::Consensus(c) => {
                let votes = mem::take(&mut c.votes);
                let n = votes.len();
                let spec = ConsensusSpec {
                    votes,
                    ..c.probe.clone()
                };
                (CoordinationRequest::Consensus(spec), n)
            }
        }
    }

    /// Takes in a clearing's result at `now`; `false` if it failed. A call market's
    /// unfilled remainders (`carry`, in submission order) rest again, ahead of the orders
    /// received during the call, unless the call was the session's last (`resting`
    /// false).
    pub(crate) fn apply(
        &mut self,
        result: Result<CoordinationOutcome, CoordError>,
        carry: Vec<Order>,
        resting: bool,
        now: u64,
    ) -> bool {
        if let Body::Market(m) = &mut self.body
            && resting
            && !carry.is_empty()
        {
            let arrived = mem::replace(&mut m.pending, carry);
            m.pending.extend(arrived);
        }
        let outcome = match result {
            Ok(o) => o,
            Err(e) => {
                self.error = Some(e.to_string());
                return false;
            }
        };
        match (&mut self.body, outcome) {
            (Body::Auction(a), CoordinationOutcome::Auction(o)) => a.outcome = Some(o),
            (Body::Market(m), CoordinationOutcome::Market(o)) => {
                m.calls += 1;
                m.volume += o.volume;
                if o.clearing_price.is_some() {
                    m.last_price = o.clearing_price;
                }
                m.history_fills += o.fills.len();
                m.history.push_front(CallRecord {
                    call: m.calls,
                    at: now,
                    outcome: o.clone(),
                });
                while m.history.len() > m.calls_kept
                    || (m.history_fills > m.fills_kept && m.history.len() > 1)
                {
                    if let Some(old) = m.history.pop_back() {
                        m.history_fills -= old.outcome.fills.len();
                    }
                }
                m.outcome = Some(o);
            }
            (Body::Consensus(c), CoordinationOutcome::Consensus(o)) => c.outcome = Some(o),
            (_, other) => {
                self.error = Some(format!(
                    "internal error: a {} session was cleared as {}",
                    self.protocol(),
                    other.protocol().as_str()
                ));
                return false;
            }
        }
        self.error = None;
        true
    }

    /// Whether a call market has orders received since its last call started.
    pub(crate) fn has_pending(&self) -> bool {
        matches!(&self.body, Body::Market(m) if m.fresh > 0)
    }

    /// Frees what a finished session no longer needs (entries, the book), keeping
    /// its outcome and idempotency keys.
    pub(crate) fn release(&mut self) {
        match &mut self.body {
            Body::Auction(a) => {
                a.bids = Vec::new();
                a.agents = HashSet::new();
            }
            Body::Market(m) => {
                m.pending = Vec::new();
                m.book = None;
            }
            Body::Consensus(c) => {
                c.votes = Vec::new();
                c.agents = HashSet::new();
            }
        }
    }

    pub(crate) fn view(&self) -> SessionView {
        match &self.body {
            Body::Auction(a) => SessionView::Auction(AuctionView {
                id: self.id.clone(),
                kind: a.probe.kind,
                state: self.state,
                bids: a.count,
                opened_at: self.opened_at,
                deadline_at: self.deadline_at,
                closed_at: self.closed_at,
                outcome: a.outcome.clone(),
                error: self.error.clone(),
            }),
            Body::Market(m) => SessionView::Market(MarketView {
                id: self.id.clone(),
                kind: m.kind,
                state: self.state,
                orders: m.received,
                pending: m.book.as_ref().map_or(m.pending.len(), OrderBook::len),
                calls: m.calls,
                volume: m.volume,
                last_price: m.last_price,
                best_bid: m.book.as_ref().and_then(OrderBook::best_bid),
                best_ask: m.book.as_ref().and_then(OrderBook::best_ask),
                opened_at: self.opened_at,
                deadline_at: self.deadline_at,
                closed_at: self.closed_at,
                outcome: m.outcome.clone(),
                history: m.history.iter().cloned().collect(),
                error: self.error.clone(),
            }),
            Body::Consensus(c) => SessionView::Consensus(ConsensusView {
                id: self.id.clone(),
                rule: c.probe.rule,
                state: self.state,
                votes: c.count,
                quorum: c.probe.quorum,
                opened_at: self.opened_at,
                deadline_at: self.deadline_at,
                closed_at: self.closed_at,
                outcome: c.outcome.clone(),
                error: self.error.clone(),
            }),
        }
    }
}
