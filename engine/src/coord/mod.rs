//! Coordination algorithms: auctions, markets, consensus and allocation.
//!
//! The problem: many agents bid, trade or vote, and the engine must turn their inputs into
//! one exact, reproducible outcome, fast enough to clear thousands per second. Everything
//! here is pure (inputs in, outcome out: no threads, clock or I/O), except [`batch`], which
//! owns the rayon pool that clears many requests in parallel.
//!
//! Exactness: money is fixed-point ([`Money`], i64 micro-units) and quantities are integers;
//! equilibrium prices come from the orders' own limits, not a price grid; clock auctions are
//! solved in closed form; combinatorial winners come from branch and bound. Ties go to the
//! earliest submission.
//!
//! A tour:
//! - [`request`]: the `POST /api/coordinate` body ([`CoordinationRequest`]), serde types with
//!   unknown fields refused; [`outcome`]: the `{"protocol":P,"outcome":{...}}` response.
//! - [`clear()`] validates against [`Limits`] and dispatches; [`ClearingPool::clear_batch`]
//!   does the same for many requests in parallel, results in input order.
//! - [`auction`]: `sealed`, `english`, `dutch`, `multiunit`, `combinatorial`;
//!   [`market`]: `call` (uniform price), `book` (continuous [`OrderBook`]), `tatonnement`,
//!   `simulation`; [`consensus`]; [`allocation`].
//! - [`CoordError`]: a typed error with a stable `code()` and the offending `field()`.
//!
//! ```
//! use mabeam_engine::coord::{clear_json, CoordinationOutcome, AuctionOutcome, Limits, Money};
//! let body = br#"{"protocol":"auction","auction":{"type":"second_price","reserve":10,
//!   "bids":[{"agent_id":"a","amount":15},{"agent_id":"b","amount":12}]}}"#;
//! let outcome = clear_json(body, &Limits::default()).unwrap();
//! let CoordinationOutcome::Auction(AuctionOutcome::SecondPrice(o)) = outcome else { panic!() };
//! assert_eq!((o.winner.as_deref(), o.price), (Some("a"), Money::from_units(12)));
//! ```

#![forbid(unsafe_code)]

pub mod allocation;
pub mod auction;
pub mod batch;
mod clear;
pub mod consensus;
pub mod error;
pub mod market;
pub mod money;
pub mod outcome;
pub mod request;
pub mod validate;
pub mod work;

pub use batch::{ClearingPool, clear_serial};
pub use clear::{
    INLINE_ENTRIES_MAX, clear, clear_call_market, clear_cancellable, clear_json, clears_inline,
};
pub use error::CoordError;
pub use market::book::OrderBook;
pub use money::{Money, MoneyError};
pub use outcome::{
    Allocation, AllocationOutcome, AuctionOutcome, BundleWinner, ClockOutcome,
    CombinatorialOutcome, ConsensusOutcome, CoordinationOutcome, Fill, MarketOutcome,
    MultiUnitOutcome, SingleItemOutcome, UnitWinner,
};
pub use request::{
    AllocationRequest, AllocationSpec, AuctionSpec, AuctionType, Bid, ConsensusSpec,
    CoordinationRequest, MarketSpec, Order, Payment, Protocol, Rule, Side, Strategy, UnitPricing,
    Vote,
};
pub use validate::Limits;
pub use work::Cancel;
