//! Markets: the uniform-price call auction, a continuous limit order book, Walrasian price
//! discovery (tâtonnement) and a seeded multi-period simulation.

pub mod book;
pub mod call;
pub mod simulation;
pub mod tatonnement;

#[cfg(test)]
pub(crate) mod reference;
