//! The embedding API of live sessions and shared variables: a second `impl Handle`.
//!
//! Every method routes by key (session id or variable name) to the owner worker
//! and returns a [`Pending`] answer, like the agent methods. Ids left out by the
//! caller are generated here (`auc-N`, `mkt-N`, `cns-N`, N engine-wide), so the
//! command can be routed before the session exists.

use crate::api::{EngineError, Handle, Pending};
use crate::coord::{Bid, Order, Vote};
use crate::runtime::command::{Answer, Command};
use crate::runtime::reply::reply_channel;
use crate::runtime::sessions::{ListPart, SessionCmd, Waiter};
use crate::runtime::variables::VariableCmd;
use crate::session::{
    AuctionView, BidReceipt, ConsensusView, MarketView, OpenAuction, OpenConsensus, OpenMarket,
    OrderReceipt, SessionList, SessionView, VoteReceipt,
};
use crate::variables::{
    CoordinateRequest, CoordinateResponse, CreateRequest, HistoryResponse, UpdateRequest,
    VariableInfo, VariableResponse,
};
use std::sync::atomic::Ordering;

/// What became of the variable changes addressed to subscribed agents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryStats {
    /// Handed to the agent's handler.
    pub sent: u64,
    /// Dropped: the subscriber's worker inbox was full (or the engine was stopping).
    pub dropped: u64,
    /// Not taken: the subscriber was unknown or not running, or its handler failed.
    pub refused: u64,
}

impl Handle {
    // ---- live auctions -------------------------------------------------------

    /// Opens a live auction (`POST /api/auctions`): state `open` until its
    /// deadline or [`Handle::close_auction`]. Errors: invalid parameters (400),
    /// an id taken (409 `already_exists`), `too_many_sessions`, `memory_limit` or
    /// `process_limit` (503).
    pub fn open_auction(&self, mut req: OpenAuction) -> Pending<AuctionView> {
        let id = req.id.take().unwrap_or_else(|| self.new_session_id("auc"));
        let req = Box::new(req);
        self.to_owner(&id.clone(), |reply| {
            Command::Session(SessionCmd::OpenAuction { id, req, reply })
        })
    }

    /// Places a bid (`POST /api/auctions/{id}/bids`); bids are numbered in
    /// submission order, which breaks ties at close. With an idempotency key, a
    /// repeat answers the first receipt and a reuse with another bid is refused
    /// (422). A closed auction refuses bids (409 `session_closed`).
    pub fn bid(
        &self,
        auction_id: &str,
        bid: Bid,
        idempotency_key: Option<&str>,
    ) -> Pending<BidReceipt> {
        let (id, key, bid) = (
            auction_id.to_owned(),
            idempotency_key.map(str::to_owned),
            Box::new(bid),
        );
        self.to_owner(auction_id, |reply| {
            Command::Session(SessionCmd::Bid {
                id,
                bid,
                key,
                reply,
            })
        })
    }

    /// Closes an auction now (`POST /api/auctions/{id}/close`) and answers once it
    /// is cleared (on the clearing pool): the outcome equals the one-shot
    /// `coord::clear` on the same bids in submission order. Closing a finished
    /// auction answers its result.
    pub fn close_auction(&self, auction_id: &str) -> Pending<AuctionView> {
        self.close_as(auction_id, Waiter::Auction)
    }

    /// An auction's view (`GET /api/auctions/{id}`).
    pub fn auction(&self, auction_id: &str) -> Pending<AuctionView> {
        self.get_as(auction_id, Waiter::Auction)
    }

    // ---- live markets --------------------------------------------------------

    /// Opens a live market (`POST /api/markets`): `call` markets clear every
    /// `coordination.market_update_frequency` and on [`Handle::clear_market`];
    /// `continuous` ones match each order on arrival.
    pub fn open_market(&self, mut req: OpenMarket) -> Pending<MarketView> {
        let id = req.id.take().unwrap_or_else(|| self.new_session_id("mkt"));
        self.to_owner(&id.clone(), |reply| {
            Command::Session(SessionCmd::OpenMarket { id, req, reply })
        })
    }

    /// Places an order (`POST /api/markets/{id}/orders`). Continuous: the receipt
    /// has the fills (price-time priority, at the resting order's price). Call:
    /// the order waits for the next call. Idempotency keys as for bids.
    pub fn order(
        &self,
        market_id: &str,
        order: Order,
        idempotency_key: Option<&str>,
    ) -> Pending<OrderReceipt> {
        let (id, key, order) = (
            market_id.to_owned(),
            idempotency_key.map(str::to_owned),
            Box::new(order),
        );
        self.to_owner(market_id, |reply| {
            Command::Session(SessionCmd::Order {
                id,
                order,
                key,
                reply,
            })
        })
    }

    /// Runs a call now (`POST /api/markets/{id}/clear`); answers the market after
    /// it, with the call's outcome. A continuous market refuses (409
    /// `wrong_session_kind`).
    pub fn clear_market(&self, market_id: &str) -> Pending<MarketView> {
        let id = market_id.to_owned();
        self.to_owner(market_id, |reply| {
            Command::Session(SessionCmd::Clear { id, reply })
        })
    }

    /// Closes a market: a call market runs a final call, a continuous one stops.
    pub fn close_market(&self, market_id: &str) -> Pending<MarketView> {
        self.close_as(market_id, Waiter::Market)
    }

    /// A market's view (`GET /api/markets/{id}`).
    pub fn market(&self, market_id: &str) -> Pending<MarketView> {
        self.get_as(market_id, Waiter::Market)
    }

    // ---- consensus rounds ----------------------------------------------------

    /// Opens a consensus round: votes are collected until `quorum` votes are in
    /// (then it closes by itself), its deadline, or [`Handle::close_consensus`].
    pub fn open_consensus(&self, mut req: OpenConsensus) -> Pending<ConsensusView> {
        let id = req.id.take().unwrap_or_else(|| self.new_session_id("cns"));
        let req = Box::new(req);
        self.to_owner(&id.clone(), |reply| {
            Command::Session(SessionCmd::OpenConsensus { id, req, reply })
        })
    }

    /// Casts a vote (one per agent). Idempotency keys as for bids.
    pub fn vote(
        &self,
        consensus_id: &str,
        vote: Vote,
        idempotency_key: Option<&str>,
    ) -> Pending<VoteReceipt> {
        let (id, key, vote) = (
            consensus_id.to_owned(),
            idempotency_key.map(str::to_owned),
            Box::new(vote),
        );
        self.to_owner(consensus_id, |reply| {
            Command::Session(SessionCmd::Vote {
                id,
                vote,
                key,
                reply,
            })
        })
    }

    /// Closes a round now and answers its decision.
    pub fn close_consensus(&self, consensus_id: &str) -> Pending<ConsensusView> {
        self.close_as(consensus_id, Waiter::Consensus)
    }

    /// A round's view.
    pub fn consensus(&self, consensus_id: &str) -> Pending<ConsensusView> {
        self.get_as(consensus_id, Waiter::Consensus)
    }

    // ---- any session ---------------------------------------------------------

    /// Any session's view (`GET /api/sessions/{id}`).
    pub fn session(&self, id: &str) -> Pending<SessionView> {
        self.get_as(id, Waiter::Any)
    }

    /// Closes any session (auction, market or round) and answers its result.
    pub fn close_session(&self, id: &str) -> Pending<SessionView> {
        self.close_as(id, Waiter::Any)
    }

    /// Cancels an open session (`DELETE /api/sessions/{id}`): state `cancelled`,
    /// no outcome. A session closing or finished refuses (409 `session_closed`).
    pub fn cancel_session(&self, id: &str) -> Pending<SessionView> {
        let sid = id.to_owned();
        self.to_owner(id, |reply| {
            Command::Session(SessionCmd::Cancel { id: sid, reply })
        })
    }

    /// Every session of every worker (`GET /api/sessions`), ordered by id: the
    /// open ones and the finished ones still retained (`core.history_retention`
    /// per worker).
    pub fn sessions(&self) -> Pending<SessionList> {
        let shared = self.shared();
        let (tx, rx) = reply_channel();
        let parts = ListPart::split(shared.workers(), tx);
        for (worker, part) in parts.into_iter().enumerate() {
            if let Err(e) = shared.inboxes[worker].push(Command::Session(SessionCmd::List { part }))
            {
                let err = EngineError::refused(&e, worker);
                if let Command::Session(SessionCmd::List { part }) = e.into_inner() {
                    part.complete(Err(err));
                }
            }
        }
        Pending::new(rx)
    }

    /// Sessions open (or closing) engine-wide now.
    pub fn open_sessions(&self) -> usize {
        self.shared().live.sessions_open.load(Ordering::Acquire)
    }

    // ---- shared variables ----------------------------------------------------

    /// Creates a variable at version 1 (`POST /api/variables`). Over
    /// `core.max_variables` engine-wide: 409 `capacity`; over the memory limit:
    /// 503 `memory_limit`.
    pub fn create_variable(&self, req: CreateRequest) -> Pending<VariableResponse> {
        let name = req.name.clone();
        let req = Box::new(req);
        self.to_owner(&name, |reply| {
            Command::Variable(VariableCmd::Create { req, reply })
        })
    }

    /// A variable with its domain, policy and author (`GET /api/variables/{name}`).
    pub fn get_variable(&self, name: &str) -> Pending<VariableInfo> {
        let n = name.to_owned();
        self.to_owner(name, |reply| {
            Command::Variable(VariableCmd::Get { name: n, reply })
        })
    }

    /// Writes a variable (`PUT /api/variables/{name}`); a stale `version` is 409
    /// `version_conflict`. Subscribers are sent the change.
    pub fn update_variable(&self, name: &str, req: UpdateRequest) -> Pending<VariableResponse> {
        let (n, req) = (name.to_owned(), Box::new(req));
        self.to_owner(name, |reply| {
            Command::Variable(VariableCmd::Update {
                name: n,
                req,
                reply,
            })
        })
    }

    /// Up to `limit` revisions, newest first (`GET /api/variables/{name}/history`);
    /// at most `core.history_retention` are kept.
    pub fn variable_history(&self, name: &str, limit: Option<usize>) -> Pending<HistoryResponse> {
        let n = name.to_owned();
        self.to_owner(name, |reply| {
            Command::Variable(VariableCmd::History {
                name: n,
                limit,
                reply,
            })
        })
    }

    /// Decides a variable's value by a weighted vote or a second-price auction
    /// among stakeholders (`POST /api/variables/{name}/coordinate`).
    pub fn coordinate_variable(
        &self,
        name: &str,
        req: CoordinateRequest,
    ) -> Pending<CoordinateResponse> {
        let (n, req) = (name.to_owned(), Box::new(req));
        self.to_owner(name, |reply| {
            Command::Variable(VariableCmd::Coordinate {
                name: n,
                req,
                reply,
            })
        })
    }

    /// Subscribes an agent to a variable's changes: each change reaches it as a
    /// message `{"event":"variable_changed","name","version","value","agent_id","at"}`
    /// on its owner worker. `false` if it was subscribed already.
    pub fn subscribe(&self, name: &str, agent_id: &str) -> Pending<bool> {
        self.subscription(name, agent_id, true)
    }

    /// Ends a subscription; `false` if there was none.
    pub fn unsubscribe(&self, name: &str, agent_id: &str) -> Pending<bool> {
        self.subscription(name, agent_id, false)
    }

    /// Removes a variable, freeing its place under `core.max_variables`.
    pub fn remove_variable(&self, name: &str) -> Pending<()> {
        let n = name.to_owned();
        self.to_owner(name, |reply| {
            Command::Variable(VariableCmd::Remove { name: n, reply })
        })
    }

    /// Counts of variable changes sent to, dropped for, and refused by subscribers.
    pub fn delivery_stats(&self) -> DeliveryStats {
        let live = &self.shared().live;
        DeliveryStats {
            sent: live.deliveries_sent.load(Ordering::Relaxed),
            dropped: live.deliveries_dropped.load(Ordering::Relaxed),
            refused: live.deliveries_refused.load(Ordering::Relaxed),
        }
    }

    // ---- plumbing ------------------------------------------------------------

    fn subscription(&self, name: &str, agent_id: &str, subscribe: bool) -> Pending<bool> {
        let (n, agent_id) = (name.to_owned(), agent_id.to_owned());
        self.to_owner(name, |reply| {
            Command::Variable(VariableCmd::Subscribe {
                name: n,
                agent_id,
                subscribe,
                reply,
            })
        })
    }

    fn close_as<T>(&self, id: &str, wrap: impl FnOnce(Answer<T>) -> Waiter) -> Pending<T> {
        let sid = id.to_owned();
        self.to_owner(id, |reply| {
            Command::Session(SessionCmd::Close {
                id: sid,
                waiter: wrap(reply),
            })
        })
    }

    fn get_as<T>(&self, id: &str, wrap: impl FnOnce(Answer<T>) -> Waiter) -> Pending<T> {
        let sid = id.to_owned();
        self.to_owner(id, |reply| {
            Command::Session(SessionCmd::Get {
                id: sid,
                waiter: wrap(reply),
            })
        })
    }

    fn new_session_id(&self, prefix: &str) -> String {
        let n = self
            .shared()
            .live
            .session_seq
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        format!("{prefix}-{n}")
    }

    /// Pushes the command to the inbox of the worker owning `key`.
    fn to_owner<T>(&self, key: &str, make: impl FnOnce(Answer<T>) -> Command) -> Pending<T> {
        let shared = self.shared();
        let worker = shared.worker_of(key);
        let (tx, rx) = reply_channel();
        match shared.inboxes[worker].push(make(tx)) {
            Ok(()) => Pending::new(rx),
            Err(e) => {
                let err = EngineError::refused(&e, worker);
                // Answer with the real reason rather than letting the dropped
                // command resolve to Canceled.
                let (tx2, rx2) = reply_channel();
                tx2.send(Err(err));
                Pending::new(rx2)
            }
        }
    }
}
