//! The validated entry point: one request in, one outcome out.

use crate::coord::allocation;
use crate::coord::auction::{combinatorial, dutch, english, multiunit, sealed};
use crate::coord::consensus;
use crate::coord::error::CoordError;
use crate::coord::market::call;
use crate::coord::outcome::{CoordinationOutcome, MarketOutcome};
use crate::coord::request::{AuctionType, CoordinationRequest, MarketSpec, Order};
use crate::coord::validate::{self, Limits, ValidAuction};
use crate::coord::work::Cancel;

/// Most entries (bids, orders, votes, requests) a request may have and still be cleared
/// on the caller's thread by [`clears_inline`].
pub const INLINE_ENTRIES_MAX: usize = 256;

/// Whether `req` is light enough to clear on the thread that received it: not a
/// combinatorial auction (its search is bounded only by the work budget) and at most
/// [`INLINE_ENTRIES_MAX`] entries (everything else is a sort and a scan). Servers clear
/// the rest on the clearing pool, where a deadline can cancel them.
pub fn clears_inline(req: &CoordinationRequest) -> bool {
    let entries = match req {
        CoordinationRequest::Auction(a) => {
            if a.kind == AuctionType::Combinatorial {
                return false;
            }
            a.bids.len()
        }
        CoordinationRequest::Market(m) => m.orders.len(),
        CoordinationRequest::Consensus(c) => c.votes.len(),
        CoordinationRequest::Allocation(a) => a.requests.len(),
    };
    entries <= INLINE_ENTRIES_MAX
}

/// Validates `req` against `limits` and clears it. Pure: same input, same outcome.
pub fn clear(
    req: &CoordinationRequest,
    limits: &Limits,
) -> Result<CoordinationOutcome, CoordError> {
    clear_cancellable(req, limits, &Cancel::new())
}

/// [`clear()`], stopping with [`CoordError::Cancelled`] once `cancel` is set (checked
/// before it starts and inside the searches that can run long). A clearing that finishes
/// gives the same outcome as [`clear()`].
pub fn clear_cancellable(
    req: &CoordinationRequest,
    limits: &Limits,
    cancel: &Cancel,
) -> Result<CoordinationOutcome, CoordError> {
    cancel.check()?;
    Ok(match req {
        CoordinationRequest::Auction(spec) => {
            CoordinationOutcome::Auction(match validate::auction(spec, limits)? {
                ValidAuction::Sealed(a) => sealed::clear(&a)?,
                ValidAuction::English(a) => english::clear(&a)?,
                ValidAuction::Dutch(a) => dutch::clear(&a)?,
                ValidAuction::MultiUnit(a) => multiunit::clear(&a)?,
                ValidAuction::Combinatorial(a) => combinatorial::clear_cancellable(&a, cancel)?,
            })
        }
        CoordinationRequest::Market(spec) => {
            validate::market(spec, limits)?;
            CoordinationOutcome::Market(call::clear(&spec.orders)?)
        }
        CoordinationRequest::Consensus(spec) => {
            validate::consensus(spec, limits)?;
            CoordinationOutcome::Consensus(consensus::decide(spec)?)
        }
        CoordinationRequest::Allocation(spec) => {
            validate::allocation(spec, limits)?;
            CoordinationOutcome::Allocation(allocation::allocate(spec)?)
        }
    })
}

/// Validates a call market against `limits` and clears it, handing back the unfilled
/// remainders in submission order (all of the orders on an error): the call of a live call
/// market, whose residual rests for its next call.
pub fn clear_call_market(
    spec: MarketSpec,
    limits: &Limits,
) -> (Result<MarketOutcome, CoordError>, Vec<Order>) {
    if let Err(e) = validate::market(&spec, limits) {
        return (Err(e), spec.orders);
    }
    call::clear_carrying(spec.orders)
}

/// Parses a JSON body and clears it: the whole of `POST /api/coordinate` minus HTTP.
pub fn clear_json(body: &[u8], limits: &Limits) -> Result<CoordinationOutcome, CoordError> {
    clear(&CoordinationRequest::from_json(body)?, limits)
}
