//! Auctions: sealed bid (first and second price), english and dutch clocks, multi-unit
//! (uniform and discriminatory) and combinatorial (branch and bound, pay as bid or VCG).
//!
//! Each algorithm takes a validated input that borrows the bids and returns an
//! [`AuctionOutcome`](crate::coord::AuctionOutcome). Validation (ids, positive amounts, one
//! bid per agent, limits) is done once by [`crate::coord::clear`].

pub mod combinatorial;
pub mod dutch;
pub mod english;
pub mod multiunit;
pub mod sealed;

#[cfg(test)]
pub(crate) mod reference;
