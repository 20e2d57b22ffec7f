//! What a finished coordination adds to telemetry: the one mapping from an outcome to
//! the metric families, used by every path (one-shot on the HTTP thread, batch on the
//! clearing pool, live sessions on their worker), so a protocol is counted in the same
//! families with the same labels however it ran.

use std::time::Duration;

use super::labels::{AuctionType, Outcome, Protocol};
use super::recorder::Recorder;
use crate::coord::{
    AuctionOutcome, CoordError, CoordinationOutcome, CoordinationRequest, Protocol as CoordProtocol,
};
use crate::profile::Config;

/// Which coordination families the configuration keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoordinationSwitches {
    /// Request counts, durations and minute windows (`coordination.metrics_enabled` and
    /// `telemetry.metrics_enabled`).
    pub metrics: bool,
    /// The auction and market families (`coordination.telemetry_enabled` and the global
    /// telemetry switches).
    pub families: bool,
}

impl CoordinationSwitches {
    /// The switches `config` sets.
    pub fn from_config(config: &Config) -> CoordinationSwitches {
        CoordinationSwitches {
            metrics: config.coordination_metrics_on(),
            families: config.coordination_telemetry_on(),
        }
    }
}

/// A coordination that finished, on any path.
#[derive(Clone, Copy, Debug)]
pub struct Cleared<'a> {
    /// The protocol asked for (also labels a failure).
    pub protocol: CoordProtocol,
    /// The outcome, or the error it ended with.
    pub result: Result<&'a CoordinationOutcome, &'a CoordError>,
    /// Entries cleared (bids of an auction, orders of a market, votes, requests).
    pub entries: usize,
    /// Time the clearing took.
    pub took: Duration,
    /// From opening (receipt, for a one-shot call) to clearing: the auction duration.
    pub lived: Duration,
}

impl<'a> Cleared<'a> {
    /// A one-shot (or batch) call: opened when received, so `lived` is `took`.
    pub fn one_shot(
        req: &CoordinationRequest,
        result: &'a Result<CoordinationOutcome, CoordError>,
        took: Duration,
    ) -> Cleared<'a> {
        Cleared {
            protocol: req.protocol(),
            result: result.as_ref(),
            entries: entries(req),
            took,
            lived: took,
        }
    }
}

/// Entries in a request.
fn entries(req: &CoordinationRequest) -> usize {
    match req {
        CoordinationRequest::Auction(a) => a.bids.len(),
        CoordinationRequest::Market(m) => m.orders.len(),
        CoordinationRequest::Consensus(c) => c.votes.len(),
        CoordinationRequest::Allocation(a) => a.requests.len(),
    }
}

/// The telemetry label of a coordination protocol.
pub fn protocol_label(p: CoordProtocol) -> Protocol {
    match p {
        CoordProtocol::Auction => Protocol::Auction,
        CoordProtocol::Market => Protocol::Market,
        CoordProtocol::Consensus => Protocol::Consensus,
        CoordProtocol::Allocation => Protocol::Allocation,
    }
}

/// The `type` label of an auction outcome.
fn auction_type(a: &AuctionOutcome) -> AuctionType {
    match a {
        AuctionOutcome::FirstPrice(_) => AuctionType::FirstPrice,
        AuctionOutcome::SecondPrice(_) => AuctionType::SecondPrice,
        AuctionOutcome::English(_) => AuctionType::English,
        AuctionOutcome::Dutch(_) => AuctionType::Dutch,
        AuctionOutcome::MultiUnit(_) => AuctionType::MultiUnit,
        AuctionOutcome::Combinatorial(_) => AuctionType::Combinatorial,
    }
}

impl Recorder {
    /// A coordination finished: counts it by protocol and result with its duration and
    /// efficiency (when `switches.metrics`), and adds what it cleared to its protocol's
    /// family (when `switches.families`): auctions by type (every type, multi-unit
    /// included), bids, auction duration and efficiency; market volume, clearing price
    /// and efficiency.
    pub fn record_cleared(&mut self, switches: CoordinationSwitches, c: Cleared<'_>) {
        let outcome = if c.result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        let efficiency = c.result.ok().and_then(CoordinationOutcome::efficiency);
        if switches.metrics {
            self.record_coordination(protocol_label(c.protocol), outcome, c.took, efficiency);
        }
        if !switches.families {
            return;
        }
        match c.result {
            Ok(CoordinationOutcome::Auction(a)) => {
                let bids = u64::try_from(c.entries).unwrap_or(u64::MAX);
                self.record_auction(auction_type(a), bids, c.lived, a.efficiency());
            }
            Ok(CoordinationOutcome::Market(m)) => {
                self.record_market(m.volume, m.clearing_price.map(|p| p.0), m.efficiency);
            }
            _ => {}
        }
    }
}
