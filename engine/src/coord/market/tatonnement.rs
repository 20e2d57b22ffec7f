//! Walrasian price discovery (tâtonnement) for one divisible good.
//!
//! Each trader has a demand (buyers) or supply (sellers) schedule, linear or a single step.
//! Starting from `initial_price`, the auctioneer moves the price by `step` times the excess
//! demand `z(p) = D(p) - S(p)` (rounded to the micro-unit but at least one micro-unit,
//! never below zero) until
//! `|z(p)| <= tolerance` or `max_iterations` is reached. Prices stay fixed-point money;
//! quantities of a divisible good are `f64`. The whole price path is reported.

use serde::{Deserialize, Serialize};

use crate::coord::error::CoordError;
use crate::coord::money::{MICROS_PER_UNIT, Money};
use crate::coord::request::Side;

/// Most iterations a single run may take (bounds the reported path).
pub const ITERATIONS_MAX: u32 = 1_000_000;

/// A demand or supply schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// `q(p) = max(0, intercept + slope * p)`; demand needs `slope <= 0`, supply `slope >= 0`.
    Linear {
        /// Quantity at price zero.
        intercept: f64,
        /// Change in quantity per unit of price.
        slope: f64,
    },
    /// A buyer takes `quantity` at any price at or below `price`; a seller offers it at any
    /// price at or above.
    Step {
        /// The reservation price.
        price: Money,
        /// The quantity.
        quantity: f64,
    },
}

/// One trader in the economy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trader {
    /// Buyers demand, sellers supply.
    pub side: Side,
    /// The schedule.
    pub schedule: Schedule,
}

/// The parameters of a tâtonnement run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tatonnement {
    /// Where the price starts (not negative).
    pub initial_price: Money,
    /// Price change per unit of excess demand (positive, finite).
    pub step: f64,
    /// Stop when `|excess demand| <= tolerance` (not negative, finite).
    pub tolerance: f64,
    /// Most price updates, 1 ..= [`ITERATIONS_MAX`].
    pub max_iterations: u32,
    /// The traders.
    pub traders: Vec<Trader>,
}

/// The result of a tâtonnement run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TatonnementOutcome {
    /// The last price.
    pub price: Money,
    /// Whether `|excess demand| <= tolerance` at that price.
    pub converged: bool,
    /// Price updates made.
    pub iterations: u32,
    /// Excess demand at the last price.
    pub excess_demand: f64,
    /// Every price visited, the initial one first.
    pub path: Vec<Money>,
}

fn quantity(t: &Trader, p: f64, price: Money) -> f64 {
    match (t.schedule, t.side) {
        (Schedule::Linear { intercept, slope }, _) => (intercept + slope * p).max(0.0),
        (Schedule::Step { price: r, quantity }, Side::Buy) => {
            if price <= r {
                quantity
            } else {
                0.0
            }
        }
        (Schedule::Step { price: r, quantity }, Side::Sell) => {
            if price >= r {
                quantity
            } else {
                0.0
            }
        }
    }
}

/// Excess demand `D(p) - S(p)` at `price`.
pub fn excess_demand(traders: &[Trader], price: Money) -> f64 {
    let p = price.to_f64();
    traders
        .iter()
        .map(|t| match t.side {
            Side::Buy => quantity(t, p, price),
            Side::Sell => -quantity(t, p, price),
        })
        .sum()
}

fn invalid(field: String, hint: &str) -> CoordError {
    CoordError::InvalidParameter {
        field,
        hint: hint.to_string(),
    }
}

/// Checks a run's parameters.
pub fn validate(run: &Tatonnement) -> Result<(), CoordError> {
    if run.initial_price < Money::ZERO {
        return Err(invalid("initial_price".into(), "must not be negative"));
    }
    if !(run.step.is_finite() && run.step > 0.0) {
        return Err(invalid("step".into(), "must be a positive finite number"));
    }
    if !(run.tolerance.is_finite() && run.tolerance >= 0.0) {
        return Err(invalid(
            "tolerance".into(),
            "must be a finite number, 0 or more",
        ));
    }
    if run.max_iterations == 0 || run.max_iterations > ITERATIONS_MAX {
        return Err(invalid(
            "max_iterations".into(),
            "must be between 1 and 1,000,000",
        ));
    }
    for (i, t) in run.traders.iter().enumerate() {
        let ok = match (t.schedule, t.side) {
            (Schedule::Linear { intercept, slope }, Side::Buy) => {
                intercept.is_finite() && slope.is_finite() && slope <= 0.0
            }
            (Schedule::Linear { intercept, slope }, Side::Sell) => {
                intercept.is_finite() && slope.is_finite() && slope >= 0.0
            }
            (Schedule::Step { price, quantity }, _) => {
                price >= Money::ZERO && quantity.is_finite() && quantity >= 0.0
            }
        };
        if !ok {
            return Err(invalid(
                format!("traders[{i}].schedule"),
                "finite numbers; demand slopes down (slope <= 0), supply up (slope >= 0); step quantities and prices not negative",
            ));
        }
    }
    Ok(())
}

/// Runs tâtonnement.
pub fn discover(run: &Tatonnement) -> Result<TatonnementOutcome, CoordError> {
    validate(run)?;
    let mut price = run.initial_price;
    let mut path = vec![price];
    let mut z = excess_demand(&run.traders, price);
    let mut iterations = 0;
    while z.abs() > run.tolerance && iterations < run.max_iterations {
        // At least one micro-unit towards equilibrium, so rounding never stalls the clock.
        let delta = (run.step * z * MICROS_PER_UNIT as f64).round();
        let delta = if delta == 0.0 { z.signum() } else { delta };
        let next = (price.micros() as f64 + delta).clamp(0.0, i64::MAX as f64 / 2.0) as i64;
        price = Money(next);
        path.push(price);
        iterations += 1;
        z = excess_demand(&run.traders, price);
    }
    Ok(TatonnementOutcome {
        price,
        converged: z.abs() <= run.tolerance,
        iterations,
        excess_demand: z,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear(side: Side, intercept: f64, slope: f64) -> Trader {
        Trader {
            side,
            schedule: Schedule::Linear { intercept, slope },
        }
    }

    #[test]
    fn converges_to_the_linear_equilibrium() {
        // D = 10 - p, S = p - 2 (two suppliers of (p - 2) / 2): equilibrium p = 6.
        let run = Tatonnement {
            initial_price: Money::from_units(1).unwrap(),
            step: 0.2,
            tolerance: 1e-6,
            max_iterations: 10_000,
            traders: vec![
                linear(Side::Buy, 10.0, -1.0),
                linear(Side::Sell, -1.0, 0.5),
                linear(Side::Sell, -1.0, 0.5),
            ],
        };
        let o = discover(&run).unwrap();
        assert!(o.converged);
        assert_eq!(o.price, Money::from_units(6).unwrap());
        assert_eq!(o.path.len() as u32, o.iterations + 1);
        assert!(
            o.path.windows(2).all(|w| w[0] <= w[1]),
            "excess demand pushes the price up monotonically"
        );
    }

    #[test]
    fn step_schedules_without_an_equilibrium_report_no_convergence() {
        // One unit demanded up to 5, two units supplied from 3: z jumps from +1 to -2.
        let run = Tatonnement {
            initial_price: Money::ZERO,
            step: 1.0,
            tolerance: 0.1,
            max_iterations: 50,
            traders: vec![
                Trader {
                    side: Side::Buy,
                    schedule: Schedule::Step {
                        price: Money::from_units(5).unwrap(),
                        quantity: 1.0,
                    },
                },
                Trader {
                    side: Side::Sell,
                    schedule: Schedule::Step {
                        price: Money::from_units(3).unwrap(),
                        quantity: 2.0,
                    },
                },
            ],
        };
        let o = discover(&run).unwrap();
        assert!(!o.converged);
        assert_eq!(o.iterations, 50);
        assert_eq!(o.path.len(), 51);
    }

    #[test]
    fn bad_parameters_are_typed_errors() {
        let mut run = Tatonnement {
            initial_price: Money::ZERO,
            step: 0.0,
            tolerance: 0.1,
            max_iterations: 5,
            traders: vec![],
        };
        assert_eq!(discover(&run).unwrap_err().field(), Some("step"));
        run.step = f64::NAN;
        assert_eq!(discover(&run).unwrap_err().code(), "invalid_parameter");
        run.step = 0.1;
        run.traders.push(linear(Side::Buy, 5.0, 1.0));
        assert_eq!(
            discover(&run).unwrap_err().field(),
            Some("traders[0].schedule")
        );
    }
}
