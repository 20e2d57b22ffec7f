//! Arrival schedules: when each request is meant to start.
//!
//! A schedule is a cumulative arrival function `N(t)`: the number of requests the whole
//! run should have started `t` seconds after the start. With `c` connections,
//! connection `i` sends the requests numbered `i, i + c, i + 2c, ...`, and request `n`
//! is due at `N⁻¹(n)`. So the connections interleave evenly and together follow the
//! schedule exactly, whatever the shape. Poisson arrivals are drawn per connection
//! (exponential gaps at `R / c`), which sum to a Poisson process at `R`.

use rand::Rng;
use std::time::Duration;

/// The shape of the offered load over time.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// `R` requests per second throughout.
    Constant(f64),
    /// From `from` to `to` requests per second, linearly over `over`.
    Ramp {
        /// Starting rate.
        from: f64,
        /// Final rate.
        to: f64,
        /// Length of the ramp (the whole run).
        over: Duration,
    },
    /// Each rate held for `step`, then the next; the last holds to the end.
    Steps {
        /// Rates in order.
        rates: Vec<f64>,
        /// How long each is held.
        step: Duration,
    },
    /// Poisson arrivals at mean rate `R`.
    Poisson(f64),
}

impl Schedule {
    /// Parses `constant`, `poisson`, `ramp:FROM-TO` or `steps:R1,R2,..@DUR`; `rate` is
    /// the `-R` value and `run` the run's length (warm-up included).
    pub fn parse(text: &str, rate: f64, run: Duration) -> Result<Schedule, String> {
        let t = text.trim();
        if t == "constant" {
            return Ok(Schedule::Constant(rate));
        }
        if t == "poisson" {
            return Ok(Schedule::Poisson(rate));
        }
        if let Some(spec) = t.strip_prefix("ramp:") {
            let (a, b) = spec
                .split_once('-')
                .ok_or_else(|| format!("{t:?}: write ramp:FROM-TO, e.g. ramp:100-1000"))?;
            let from = parse_rate(a)?;
            let to = parse_rate(b)?;
            return Ok(Schedule::Ramp {
                from,
                to,
                over: run,
            });
        }
        if let Some(spec) = t.strip_prefix("steps:") {
            let (list, dur) = spec.split_once('@').ok_or_else(|| {
                format!("{t:?}: write steps:R1,R2,..@DUR, e.g. steps:100,200,400@5s")
            })?;
            let rates = list
                .split(',')
                .map(parse_rate)
                .collect::<Result<Vec<_>, _>>()?;
            let step = crate::units::parse_duration(dur)?;
            if step.is_zero() {
                return Err(format!("{t:?}: a step must last longer than zero"));
            }
            return Ok(Schedule::Steps { rates, step });
        }
        Err(format!(
            "unknown schedule {t:?}; use constant, poisson, ramp:FROM-TO or steps:R1,R2,..@DUR"
        ))
    }

    /// The lowest and highest rate the schedule asks for.
    pub fn rate_range(&self) -> (f64, f64) {
        match self {
            Schedule::Constant(r) | Schedule::Poisson(r) => (*r, *r),
            Schedule::Ramp { from, to, .. } => (from.min(*to), from.max(*to)),
            Schedule::Steps { rates, .. } => rates
                .iter()
                .fold((f64::MAX, 0.0f64), |(lo, hi), r| (lo.min(*r), hi.max(*r))),
        }
    }

    /// Requests the schedule starts in `[0, t)` seconds: `N(t)`.
    pub fn expected(&self, t: f64) -> f64 {
        match self {
            Schedule::Constant(r) | Schedule::Poisson(r) => r * t,
            Schedule::Ramp { from, to, over } => {
                let d = over.as_secs_f64().max(1e-9);
                if t <= d {
                    from * t + (to - from) * t * t / (2.0 * d)
                } else {
                    (from + to) * d / 2.0 + to * (t - d)
                }
            }
            Schedule::Steps { rates, step } => {
                let s = step.as_secs_f64();
                let mut n = 0.0;
                let mut start = 0.0;
                for (i, r) in rates.iter().enumerate() {
                    let last = i + 1 == rates.len();
                    let end = if last { f64::INFINITY } else { start + s };
                    if t <= end {
                        return n + r * (t - start);
                    }
                    n += r * s;
                    start = end;
                }
                n
            }
        }
    }

    /// `N⁻¹(n)`: seconds after the start at which request `n` is due, or `None` if the
    /// schedule never reaches it (a rate that falls to zero).
    pub fn due(&self, n: f64) -> Option<f64> {
        match self {
            Schedule::Constant(r) | Schedule::Poisson(r) => (*r > 0.0).then(|| n / r),
            Schedule::Ramp { from, to, over } => {
                let d = over.as_secs_f64().max(1e-9);
                let total = (from + to) * d / 2.0;
                if n <= total {
                    let a = (to - from) / (2.0 * d);
                    if a.abs() < 1e-12 {
                        return (*from > 0.0).then(|| n / from);
                    }
                    // a t² + from t - n = 0, the root in [0, d].
                    let disc = (from * from + 4.0 * a * n).max(0.0);
                    Some((-from + disc.sqrt()) / (2.0 * a))
                } else {
                    (*to > 0.0).then(|| d + (n - total) / to)
                }
            }
            Schedule::Steps { rates, step } => {
                let s = step.as_secs_f64();
                let mut acc = 0.0;
                for (i, r) in rates.iter().enumerate() {
                    let last = i + 1 == rates.len();
                    let here = r * s;
                    if last || n < acc + here {
                        return (*r > 0.0).then(|| i as f64 * s + (n - acc) / r);
                    }
                    acc += here;
                }
                None
            }
        }
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let r: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a rate (requests per second)"))?;
    if !r.is_finite() || r < 0.0 {
        return Err(format!("rate {text:?} must be a non-negative number"));
    }
    Ok(r)
}

/// Where one connection is in the schedule.
#[derive(Debug, Clone)]
pub struct Cursor {
    index: u64,
    stride: u64,
    poisson_at: f64,
}

impl Cursor {
    /// The cursor of connection `conn` out of `conns`.
    pub fn new(conn: usize, conns: usize) -> Cursor {
        Cursor {
            index: conn as u64,
            stride: conns.max(1) as u64,
            poisson_at: 0.0,
        }
    }

    /// The global sequence number of the next request (unique across connections).
    pub fn seq(&self) -> u64 {
        self.index
    }

    /// Seconds after the start at which this connection's next request is due; advances.
    pub fn next_due<R: Rng>(&mut self, schedule: &Schedule, rng: &mut R) -> Option<f64> {
        let at = match schedule {
            Schedule::Poisson(r) => {
                if *r <= 0.0 {
                    return None;
                }
                let per_conn = r / self.stride as f64;
                let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
                self.poisson_at += -u.ln() / per_conn;
                Some(self.poisson_at)
            }
            other => other.due(self.index as f64),
        };
        self.index += self.stride;
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn due_inverts_expected() {
        let run = Duration::from_secs(10);
        for s in [
            Schedule::Constant(1000.0),
            Schedule::parse("ramp:100-1000", 0.0, run).unwrap(),
            Schedule::parse("ramp:1000-100", 0.0, run).unwrap(),
            Schedule::parse("steps:100,400,200@2s", 0.0, run).unwrap(),
        ] {
            for n in [0.0, 1.0, 57.0, 399.0, 1234.5, 4000.0] {
                let t = s.due(n).unwrap();
                assert!((s.expected(t) - n).abs() < 1e-6, "{s:?} n={n} t={t}");
            }
        }
    }

    #[test]
    fn connections_together_follow_the_schedule() {
        let s = Schedule::Constant(400.0);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut count = 0;
        for c in 0..4 {
            let mut cur = Cursor::new(c, 4);
            while cur.next_due(&s, &mut rng).unwrap() < 1.0 {
                count += 1;
            }
        }
        assert_eq!(count, 400);
    }

    #[test]
    fn poisson_mean_rate() {
        let s = Schedule::Poisson(1000.0);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut count = 0;
        for c in 0..2 {
            let mut cur = Cursor::new(c, 2);
            while cur.next_due(&s, &mut rng).unwrap() < 10.0 {
                count += 1;
            }
        }
        assert!((9_500..10_500).contains(&count), "{count}");
    }

    #[test]
    fn parse_errors() {
        let run = Duration::from_secs(1);
        for bad in [
            "ramp:100",
            "steps:1,2",
            "steps:1,x@1s",
            "steps:1@0s",
            "zigzag",
            "ramp:-1-5",
        ] {
            assert!(Schedule::parse(bad, 10.0, run).is_err(), "{bad}");
        }
        assert_eq!(
            Schedule::parse("steps:1,5,3@1s", 0.0, run)
                .unwrap()
                .rate_range(),
            (1.0, 5.0)
        );
    }
}
