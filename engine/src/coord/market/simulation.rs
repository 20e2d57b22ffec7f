//! A multi-period call-market simulation, deterministic from a seed.
//!
//! Each period every trader, with probability `participation`, submits an order for 1 to
//! `max_quantity` units with its limit shaded away from its value by up to `shade_max` of
//! it (buyers bid below, sellers ask above). The period's orders are cleared with the
//! call auction together with the orders carried over: an unfilled remainder is carried
//! for up to `carry_periods` further periods, ahead of newer orders in submission order.
//! The book never holds more than `orders_max` orders; newer orders beyond it are dropped
//! and counted. The random stream is ChaCha8 seeded with `seed`, so a run is reproducible
//! on any machine and thread count.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::coord::error::CoordError;
use crate::coord::market::call;
use crate::coord::money::Money;
use crate::coord::outcome::ratio;
use crate::coord::request::{Order, Side};
use crate::coord::validate::{At, check_id, check_positive};

/// Most periods a simulation may run.
pub const PERIODS_MAX: u32 = 100_000;

/// A simulated trader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimTrader {
    /// The trader's id.
    pub agent_id: String,
    /// Buyer or seller.
    pub side: Side,
    /// Its value (buyer) or cost (seller) per unit, positive.
    pub value: Money,
    /// Most units per order, at least 1.
    pub max_quantity: u64,
}

/// Parameters of a simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Simulation {
    /// Seed of the random stream.
    pub seed: u64,
    /// Periods to run, 1 ..= [`PERIODS_MAX`].
    pub periods: u32,
    /// Chance a trader submits in a period, in [0, 1].
    pub participation: f64,
    /// Largest shading of a limit as a share of value, in [0, 1).
    pub shade_max: f64,
    /// Periods an unfilled remainder is carried after the one it was placed in.
    pub carry_periods: u32,
    /// Most orders in a period's book (carried plus new).
    pub orders_max: usize,
    /// The traders.
    pub traders: Vec<SimTrader>,
}

/// One period's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodReport {
    /// Period number from 0.
    pub period: u32,
    /// Orders in the book (carried plus new).
    pub orders: usize,
    /// Orders carried in from earlier periods.
    pub carried: usize,
    /// New orders refused because the book was full.
    pub dropped: usize,
    /// The clearing price, `null` without trade.
    pub clearing_price: Option<Money>,
    /// Units traded.
    pub volume: u64,
    /// Surplus at the traders' true values over the units traded.
    pub value_surplus: Money,
    /// Realised value surplus over the best possible with this period's orders' owners;
    /// `null` when no trade is feasible.
    pub efficiency: Option<f64>,
}

/// A simulation's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationReport {
    /// Per period.
    pub periods: Vec<PeriodReport>,
    /// Units traded over all periods.
    pub total_volume: u64,
}

struct Carried {
    order: Order,
    trader: usize,
    age: u32,
}

fn invalid(field: String, hint: &str) -> CoordError {
    CoordError::InvalidParameter {
        field,
        hint: hint.to_string(),
    }
}

fn validate(sim: &Simulation) -> Result<(), CoordError> {
    if sim.periods == 0 || sim.periods > PERIODS_MAX {
        return Err(invalid("periods".into(), "must be between 1 and 100,000"));
    }
    if !(0.0..=1.0).contains(&sim.participation) {
        return Err(invalid(
            "participation".into(),
            "must be a probability in [0, 1]",
        ));
    }
    if !(0.0..1.0).contains(&sim.shade_max) {
        return Err(invalid("shade_max".into(), "must be in [0, 1)"));
    }
    if sim.orders_max == 0 {
        return Err(invalid("orders_max".into(), "must be at least 1"));
    }
    for (i, t) in sim.traders.iter().enumerate() {
        check_id(At("traders", i, "agent_id"), &t.agent_id)?;
        check_positive(
            At("traders", i, "value"),
            t.value,
            "a value must be positive",
        )?;
        if t.max_quantity == 0 {
            return Err(CoordError::InvalidQuantity {
                field: format!("traders[{i}].max_quantity"),
            });
        }
    }
    Ok(())
}

/// Runs the simulation.
pub fn run(sim: &Simulation) -> Result<SimulationReport, CoordError> {
    validate(sim)?;
    let mut rng = ChaCha8Rng::seed_from_u64(sim.seed);
    let mut book: Vec<Carried> = Vec::new();
    let mut periods = Vec::with_capacity(sim.periods as usize);
    let mut total_volume = 0u64;
    for period in 0..sim.periods {
        let carried = book.len();
        let mut dropped = 0;
        for (k, t) in sim.traders.iter().enumerate() {
            // Draw for every trader every period, so the stream does not depend on the book.
            let joins = rng.random_bool(sim.participation);
            let quantity = rng.random_range(1..=t.max_quantity);
            let shade = rng.random_range(0.0..=sim.shade_max);
            if !joins {
                continue;
            }
            if book.len() >= sim.orders_max {
                dropped += 1;
                continue;
            }
            let offset = (t.value.micros() as f64 * shade) as i64;
            let limit = match t.side {
                Side::Buy => Money((t.value.micros() - offset).max(1)),
                Side::Sell => t
                    .value
                    .checked_add(Money(offset))
                    .ok_or(CoordError::overflow("simulated limit"))?,
            };
            book.push(Carried {
                order: Order::limit(t.agent_id.clone(), t.side, quantity, limit),
                trader: k,
                age: 0,
            });
        }
        let orders: Vec<Order> = book.iter().map(|c| c.order.clone()).collect();
        let matched = call::clearing(&orders)?;
        // Value surplus: true values of the traders behind the filled orders.
        let signed_value = |c: &Carried| {
            let v = i128::from(sim.traders[c.trader].value.micros());
            if c.order.side == Side::Buy { v } else { -v }
        };
        let realised: i128 = book
            .iter()
            .zip(&matched.filled)
            .map(|(c, &q)| signed_value(c) * i128::from(q))
            .sum();
        let best = best_value_surplus(sim, &book)?;
        total_volume = total_volume
            .checked_add(matched.volume)
            .ok_or(CoordError::overflow("total volume"))?;
        periods.push(PeriodReport {
            period,
            orders: orders.len(),
            carried,
            dropped,
            clearing_price: matched.price,
            volume: matched.volume,
            value_surplus: Money::from_i128(realised)
                .ok_or(CoordError::overflow("value surplus"))?,
            efficiency: ratio(realised, best),
        });
        // Carry unfilled remainders, oldest first, while they are young enough.
        let mut next = Vec::with_capacity(book.len());
        for (mut c, q) in book.into_iter().zip(matched.filled) {
            c.order.quantity -= q;
            if c.order.quantity > 0 && c.age < sim.carry_periods {
                c.age += 1;
                next.push(c);
            }
        }
        book = next;
    }
    Ok(SimulationReport {
        periods,
        total_volume,
    })
}

/// The best surplus at true values the orders' owners could reach trading the orders'
/// quantities: a call clearing with every limit set to the owner's value.
fn best_value_surplus(sim: &Simulation, book: &[Carried]) -> Result<i128, CoordError> {
    let at_value: Vec<Order> = book
        .iter()
        .map(|c| Order {
            limit: Some(sim.traders[c.trader].value),
            ..c.order.clone()
        })
        .collect();
    Ok(call::clearing(&at_value)?.max_surplus)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim(seed: u64) -> Simulation {
        let mut traders = Vec::new();
        for i in 0..6 {
            traders.push(SimTrader {
                agent_id: format!("b{i}"),
                side: Side::Buy,
                value: Money::from_units(10 + i).unwrap(),
                max_quantity: 3,
            });
            traders.push(SimTrader {
                agent_id: format!("s{i}"),
                side: Side::Sell,
                value: Money::from_units(5 + i).unwrap(),
                max_quantity: 3,
            });
        }
        Simulation {
            seed,
            periods: 30,
            participation: 0.7,
            shade_max: 0.3,
            carry_periods: 2,
            orders_max: 20,
            traders,
        }
    }

    #[test]
    fn deterministic_from_the_seed() {
        let a = run(&sim(7)).unwrap();
        assert_eq!(a, run(&sim(7)).unwrap());
        assert_ne!(a, run(&sim(8)).unwrap());
        assert!(a.total_volume > 0);
        for p in &a.periods {
            assert!(p.orders <= 20);
            assert!(p.efficiency.is_none_or(|e| (0.0..=1.0).contains(&e)));
            if p.volume == 0 {
                assert!(p.clearing_price.is_none());
            }
        }
        assert!(
            a.periods.iter().any(|p| p.carried > 0),
            "unfilled orders carry over"
        );
    }

    #[test]
    fn edge_parameters_run() {
        let mut s = sim(3);
        s.shade_max = 0.0;
        s.participation = 1.0;
        s.carry_periods = 0;
        let r = run(&s).unwrap();
        // Truthful limits, everyone present, nothing carried: every period is efficient.
        assert!(
            r.periods
                .iter()
                .all(|p| p.carried == 0 && p.efficiency.is_none_or(|e| e == 1.0))
        );
        s.participation = 0.0;
        assert_eq!(run(&s).unwrap().total_volume, 0);
    }

    #[test]
    fn validates_parameters() {
        let mut s = sim(1);
        s.participation = 1.5;
        assert_eq!(run(&s).unwrap_err().field(), Some("participation"));
        let mut s = sim(1);
        s.traders[0].max_quantity = 0;
        assert_eq!(run(&s).unwrap_err().code(), "invalid_quantity");
    }
}
