//! The metric families: every name, help text, unit and label set lives here.
//!
//! A family with labels has one slot per label combination, so each recorder holds a flat,
//! preallocated array and recording is an index computation plus one store. `slot()` maps a
//! member to its index; `all()` lists members in slot order (a test checks the two agree).
//! Names are given without the `mabeam_` prefix, the unit suffix or `_total`: the encoder
//! adds those (see `exposition`).

use super::labels::{AgentState, AnomalyMetric, AuctionType, Outcome, Protocol, RejectReason};

/// Base unit of a family, appended to its name on exposition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricUnit {
    /// A plain count or a price: no suffix.
    None,
    /// Seconds (`_seconds`).
    Seconds,
    /// Bytes (`_bytes`).
    Bytes,
    /// A ratio in 0..=1 (`_ratio`).
    Ratio,
}

/// Name, help and unit of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricDesc {
    /// Name without prefix, unit or `_total`.
    pub name: &'static str,
    /// One-line help text.
    pub help: &'static str,
    /// Base unit.
    pub unit: MetricUnit,
}

const fn desc(name: &'static str, help: &'static str, unit: MetricUnit) -> MetricDesc {
    MetricDesc { name, help, unit }
}

/// A monotonically increasing count, exposed as `mabeam_<name>_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Counter {
    /// Agents registered.
    AgentsRegistered,
    /// Agents deregistered.
    AgentsDeregistered,
    /// Agents started.
    AgentsStarted,
    /// Agents stopped.
    AgentsStopped,
    /// Agent handler failures (panics caught).
    AgentsFailed,
    /// Agents restarted by their supervisor.
    AgentsRestarted,
    /// Supervisors that gave up: restart intensity exceeded.
    RestartIntensityExceeded,
    /// Agent health checks that failed (false, panic or over the timeout).
    AgentHealthChecksFailed,
    /// Coordination requests finished, by protocol and result.
    CoordinationRequests(Protocol, Outcome),
    /// Coordination requests refused before running, by reason.
    CoordinationRejected(RejectReason),
    /// Auctions cleared, by type.
    Auctions(AuctionType),
    /// Bids received by auctions.
    AuctionBids,
    /// Market clearings that found an equilibrium with trade.
    MarketEquilibria,
    /// Quantity traded in markets.
    MarketVolume,
    /// Sessions opened.
    SessionsOpened,
    /// Sessions closed normally.
    SessionsClosed,
    /// Sessions that hit their deadline.
    SessionsExpired,
    /// Sessions cancelled.
    SessionsCancelled,
    /// Commands handled by workers.
    RuntimeCommands,
    /// Ticks that overran their budget.
    RuntimeStalls,
    /// Times a worker parked for lack of work.
    RuntimeParks,
    /// Commands refused because an inbox was full.
    RuntimeInboxFull,
    /// Maintenance sweeps run.
    GcSweeps,
    /// Anomalies flagged, by metric.
    Anomalies(AnomalyMetric),
    /// Histogram values outside a histogram's range (recorded at the nearest bound).
    ClampedValues,
}

const C_COORD: usize = 8;
const C_REJECT: usize = C_COORD + Protocol::COUNT * Outcome::COUNT;
const C_AUCTIONS: usize = C_REJECT + RejectReason::COUNT;
const C_AFTER_AUCTIONS: usize = C_AUCTIONS + AuctionType::COUNT;
const C_ANOMALIES: usize = C_AFTER_AUCTIONS + 12;
const C_CLAMPED: usize = C_ANOMALIES + AnomalyMetric::COUNT;

impl Counter {
    /// Number of counter slots.
    pub const COUNT: usize = C_CLAMPED + 1;

    /// Index of this member in a recorder's counter array.
    #[inline]
    pub const fn slot(self) -> usize {
        use Counter::*;
        match self {
            AgentsRegistered => 0,
            AgentsDeregistered => 1,
            AgentsStarted => 2,
            AgentsStopped => 3,
            AgentsFailed => 4,
            AgentsRestarted => 5,
            RestartIntensityExceeded => 6,
            AgentHealthChecksFailed => 7,
            CoordinationRequests(p, o) => C_COORD + p.index() * Outcome::COUNT + o.index(),
            CoordinationRejected(r) => C_REJECT + r.index(),
            Auctions(t) => C_AUCTIONS + t.index(),
            AuctionBids => C_AFTER_AUCTIONS,
            MarketEquilibria => C_AFTER_AUCTIONS + 1,
            MarketVolume => C_AFTER_AUCTIONS + 2,
            SessionsOpened => C_AFTER_AUCTIONS + 3,
            SessionsClosed => C_AFTER_AUCTIONS + 4,
            SessionsExpired => C_AFTER_AUCTIONS + 5,
            SessionsCancelled => C_AFTER_AUCTIONS + 6,
            RuntimeCommands => C_AFTER_AUCTIONS + 7,
            RuntimeStalls => C_AFTER_AUCTIONS + 8,
            RuntimeParks => C_AFTER_AUCTIONS + 9,
            RuntimeInboxFull => C_AFTER_AUCTIONS + 10,
            GcSweeps => C_AFTER_AUCTIONS + 11,
            Anomalies(m) => C_ANOMALIES + m.index(),
            ClampedValues => C_CLAMPED,
        }
    }

    /// Every member, in slot order.
    pub fn all() -> Vec<Counter> {
        use Counter::*;
        let mut v = vec![
            AgentsRegistered,
            AgentsDeregistered,
            AgentsStarted,
            AgentsStopped,
            AgentsFailed,
            AgentsRestarted,
            RestartIntensityExceeded,
            AgentHealthChecksFailed,
        ];
        for p in Protocol::ALL {
            for o in Outcome::ALL {
                v.push(CoordinationRequests(*p, *o));
            }
        }
        v.extend(RejectReason::ALL.iter().map(|r| CoordinationRejected(*r)));
        v.extend(AuctionType::ALL.iter().map(|t| Auctions(*t)));
        v.extend([
            AuctionBids,
            MarketEquilibria,
            MarketVolume,
            SessionsOpened,
            SessionsClosed,
            SessionsExpired,
            SessionsCancelled,
            RuntimeCommands,
            RuntimeStalls,
            RuntimeParks,
            RuntimeInboxFull,
        ]);
        v.push(GcSweeps);
        v.extend(AnomalyMetric::ALL.iter().map(|m| Anomalies(*m)));
        v.push(ClampedValues);
        v
    }

    /// Name, help and unit of this member's family.
    pub const fn desc(self) -> MetricDesc {
        use Counter::*;
        use MetricUnit::None as N;
        match self {
            AgentsRegistered => desc("agents_registered", "Agents registered.", N),
            AgentsDeregistered => desc("agents_deregistered", "Agents deregistered.", N),
            AgentsStarted => desc("agents_started", "Agents started.", N),
            AgentsStopped => desc("agents_stopped", "Agents stopped.", N),
            AgentsFailed => desc("agents_failed", "Agent handler failures caught.", N),
            AgentsRestarted => desc("agents_restarted", "Agents restarted by a supervisor.", N),
            AgentHealthChecksFailed => desc(
                "agent_health_checks_failed",
                "Agent health checks that failed: false, a panic, or slower than health_check_timeout.",
                N,
            ),
            RestartIntensityExceeded => desc(
                "restart_intensity_exceeded",
                "Supervisors that gave up because restarts exceeded max_restarts in max_seconds.",
                N,
            ),
            CoordinationRequests(..) => desc(
                "coordination_requests",
                "Coordination requests finished, by protocol and result.",
                N,
            ),
            CoordinationRejected(_) => desc(
                "coordination_rejected",
                "Coordination requests refused before running, by reason.",
                N,
            ),
            Auctions(_) => desc("auctions", "Auctions cleared, by type.", N),
            AuctionBids => desc("auction_bids", "Bids received by auctions.", N),
            MarketEquilibria => desc(
                "market_equilibria_found",
                "Market clearings that found an equilibrium with trade.",
                N,
            ),
            MarketVolume => desc("market_volume", "Quantity traded in markets.", N),
            SessionsOpened => desc("sessions_opened", "Coordination sessions opened.", N),
            SessionsClosed => desc(
                "sessions_closed",
                "Coordination sessions closed normally.",
                N,
            ),
            SessionsExpired => desc(
                "sessions_expired",
                "Coordination sessions that reached their deadline.",
                N,
            ),
            SessionsCancelled => desc("sessions_cancelled", "Coordination sessions cancelled.", N),
            RuntimeCommands => desc("runtime_commands", "Commands handled by workers.", N),
            RuntimeStalls => desc(
                "runtime_stalls",
                "Worker ticks that overran their budget.",
                N,
            ),
            RuntimeParks => desc(
                "runtime_parks",
                "Times a worker parked for lack of work.",
                N,
            ),
            RuntimeInboxFull => desc(
                "runtime_inbox_full_rejections",
                "Commands refused because the owning worker's inbox was full.",
                N,
            ),
            GcSweeps => desc("gc_sweeps", "Maintenance sweeps run.", N),
            Anomalies(_) => desc("anomalies", "Anomalous values flagged, by metric.", N),
            ClampedValues => desc(
                "telemetry_clamped_values",
                "Histogram values outside the histogram's range, recorded at the nearest bound.",
                N,
            ),
        }
    }

    /// Label pairs of this member.
    pub fn labels(self) -> Vec<(&'static str, &'static str)> {
        use Counter::*;
        match self {
            CoordinationRequests(p, o) => vec![("protocol", p.as_str()), ("result", o.as_str())],
            CoordinationRejected(r) => vec![("reason", r.as_str())],
            Auctions(t) => vec![("type", t.as_str())],
            Anomalies(m) => vec![("metric", m.as_str())],
            _ => Vec::new(),
        }
    }
}

/// A value that goes up and down. All gauges but `InboxDepth` are summed over recorders
/// (each worker reports its own part); `InboxDepth` is exposed per worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Gauge {
    /// Agents currently in a state.
    Agents(AgentState),
    /// Coordination requests running now.
    CoordinationInFlight,
    /// Sessions open now.
    SessionsOpen,
    /// Commands waiting in this worker's inbox.
    InboxDepth,
    /// Retired items not yet reclaimed (deferred reclamation backlog).
    ReclaimBacklog,
}

const G_AFTER_AGENTS: usize = AgentState::COUNT;

impl Gauge {
    /// Number of gauge slots.
    pub const COUNT: usize = G_AFTER_AGENTS + 4;

    /// Index of this member in a recorder's gauge array.
    #[inline]
    pub const fn slot(self) -> usize {
        match self {
            Gauge::Agents(s) => s.index(),
            Gauge::CoordinationInFlight => G_AFTER_AGENTS,
            Gauge::SessionsOpen => G_AFTER_AGENTS + 1,
            Gauge::InboxDepth => G_AFTER_AGENTS + 2,
            Gauge::ReclaimBacklog => G_AFTER_AGENTS + 3,
        }
    }

    /// Every member, in slot order.
    pub fn all() -> Vec<Gauge> {
        let mut v: Vec<Gauge> = AgentState::ALL.iter().map(|s| Gauge::Agents(*s)).collect();
        v.extend([
            Gauge::CoordinationInFlight,
            Gauge::SessionsOpen,
            Gauge::InboxDepth,
            Gauge::ReclaimBacklog,
        ]);
        v
    }

    /// True when the gauge is exposed per worker rather than summed.
    #[inline]
    pub const fn per_worker(self) -> bool {
        matches!(self, Gauge::InboxDepth)
    }

    /// Name, help and unit of this member's family.
    pub const fn desc(self) -> MetricDesc {
        use MetricUnit::None as N;
        match self {
            Gauge::Agents(_) => desc("agents", "Agents currently in each lifecycle state.", N),
            Gauge::CoordinationInFlight => desc(
                "coordination_in_flight",
                "Coordination requests running now.",
                N,
            ),
            Gauge::SessionsOpen => desc("sessions_open", "Coordination sessions open now.", N),
            Gauge::InboxDepth => desc(
                "runtime_inbox_depth",
                "Commands waiting in each worker's inbox.",
                N,
            ),
            Gauge::ReclaimBacklog => desc(
                "gc_reclaim_backlog",
                "Retired items awaiting deferred reclamation; must drain.",
                N,
            ),
        }
    }

    /// Label pairs of this member (the per-worker label is added by the encoder).
    pub fn labels(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Gauge::Agents(s) => vec![("state", s.as_str())],
            _ => Vec::new(),
        }
    }
}

/// A distribution, recorded in an HDR histogram and exposed with fixed `le` buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hist {
    /// Coordination request duration, by protocol.
    CoordinationDuration(Protocol),
    /// Auction duration, from opening (or receipt, for one-shot calls) to clearing.
    AuctionDuration,
    /// Auction efficiency (achieved over optimal surplus).
    AuctionEfficiency,
    /// Market efficiency (achieved over optimal surplus).
    MarketEfficiency,
    /// Market clearing price, currency units.
    MarketClearingPrice,
    /// Worker tick duration.
    TickDuration,
    /// Maintenance sweep pause.
    SweepPause,
}

/// How a histogram stores values and which buckets it exposes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HistSpec {
    /// Stored integer units per exposed unit (1e6: microseconds per second).
    pub scale: f64,
    /// Highest stored value; larger values are recorded here and counted as clamped. Above
    /// the top bucket, so clamped values land in `+Inf` (ratios excepted: they are clamped
    /// to 1 on input).
    pub high: u64,
    /// Upper bounds of the exposed buckets, in exposed units, ascending.
    pub buckets: &'static [f64],
}

const DURATION_BUCKETS: &[f64] = &[
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
const LONG_DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0,
    86400.0,
];
const RATIO_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0];
const PRICE_BUCKETS: &[f64] = &[
    0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0, 1000000.0,
];

/// Microseconds per second: durations are stored in microseconds.
pub(crate) const MICROS: f64 = 1e6;
/// Ratios are stored in units of 1/10_000.
pub(crate) const RATIO_SCALE: f64 = 1e4;
/// Prices are stored in micro-units, like all money.
pub(crate) const MONEY_SCALE: f64 = 1e6;

const H_AFTER_COORD: usize = Protocol::COUNT;

impl Hist {
    /// Number of histogram slots.
    pub const COUNT: usize = H_AFTER_COORD + 6;

    /// Index of this member in a recorder's histogram array.
    #[inline]
    pub const fn slot(self) -> usize {
        match self {
            Hist::CoordinationDuration(p) => p.index(),
            Hist::AuctionDuration => H_AFTER_COORD,
            Hist::AuctionEfficiency => H_AFTER_COORD + 1,
            Hist::MarketEfficiency => H_AFTER_COORD + 2,
            Hist::MarketClearingPrice => H_AFTER_COORD + 3,
            Hist::TickDuration => H_AFTER_COORD + 4,
            Hist::SweepPause => H_AFTER_COORD + 5,
        }
    }

    /// Every member, in slot order.
    pub fn all() -> Vec<Hist> {
        let mut v: Vec<Hist> = Protocol::ALL
            .iter()
            .map(|p| Hist::CoordinationDuration(*p))
            .collect();
        v.extend([
            Hist::AuctionDuration,
            Hist::AuctionEfficiency,
            Hist::MarketEfficiency,
            Hist::MarketClearingPrice,
            Hist::TickDuration,
            Hist::SweepPause,
        ]);
        v
    }

    /// Storage and buckets.
    #[inline]
    pub const fn spec(self) -> HistSpec {
        match self {
            Hist::CoordinationDuration(_) | Hist::TickDuration | Hist::SweepPause => HistSpec {
                scale: MICROS,
                high: 120_000_000,
                buckets: DURATION_BUCKETS,
            },
            Hist::AuctionDuration => HistSpec {
                scale: MICROS,
                high: 172_800_000_000,
                buckets: LONG_DURATION_BUCKETS,
            },
            Hist::AuctionEfficiency | Hist::MarketEfficiency => HistSpec {
                scale: RATIO_SCALE,
                high: 10_000,
                buckets: RATIO_BUCKETS,
            },
            Hist::MarketClearingPrice => HistSpec {
                scale: MONEY_SCALE,
                high: 10_000_000_000_000,
                buckets: PRICE_BUCKETS,
            },
        }
    }

    /// Name, help and unit of this member's family.
    pub const fn desc(self) -> MetricDesc {
        use MetricUnit::*;
        match self {
            Hist::CoordinationDuration(_) => desc(
                "coordination_duration",
                "Coordination request duration, by protocol.",
                Seconds,
            ),
            Hist::AuctionDuration => desc(
                "auction_duration",
                "Auction duration from opening to clearing.",
                Seconds,
            ),
            Hist::AuctionEfficiency => desc(
                "auction_efficiency",
                "Auction efficiency: achieved over optimal surplus.",
                Ratio,
            ),
            Hist::MarketEfficiency => desc(
                "market_efficiency",
                "Market efficiency: achieved over optimal surplus.",
                Ratio,
            ),
            Hist::MarketClearingPrice => desc(
                "market_clearing_price",
                "Market clearing price, in currency units.",
                None,
            ),
            Hist::TickDuration => desc("runtime_tick_duration", "Worker tick duration.", Seconds),
            Hist::SweepPause => desc(
                "gc_sweep_pause",
                "Maintenance sweep pause (expiry and retention work).",
                Seconds,
            ),
        }
    }

    /// Label pairs of this member.
    pub fn labels(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Hist::CoordinationDuration(p) => vec![("protocol", p.as_str())],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_slots_match_listing() {
        let all = Counter::all();
        assert_eq!(all.len(), Counter::COUNT);
        for (i, c) in all.iter().enumerate() {
            assert_eq!(c.slot(), i, "{c:?}");
        }
    }

    #[test]
    fn gauge_and_hist_slots_match_listing() {
        let all = Gauge::all();
        assert_eq!(all.len(), Gauge::COUNT);
        for (i, g) in all.iter().enumerate() {
            assert_eq!(g.slot(), i, "{g:?}");
        }
        let all = Hist::all();
        assert_eq!(all.len(), Hist::COUNT);
        for (i, h) in all.iter().enumerate() {
            assert_eq!(h.slot(), i, "{h:?}");
        }
    }

    #[test]
    fn names_are_snake_case_and_unique_per_family() {
        let mut names: Vec<&str> = Counter::all().iter().map(|c| c.desc().name).collect();
        names.extend(Gauge::all().iter().map(|g| g.desc().name));
        names.extend(Hist::all().iter().map(|h| h.desc().name));
        for n in &names {
            assert!(
                n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{n}"
            );
            assert!(!n.ends_with("_total"), "{n}: the encoder adds _total");
        }
        names.dedup();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            names.len(),
            "a family name appears twice: {names:?}"
        );
    }

    #[test]
    fn bucket_bounds_ascend_and_fit_range() {
        for h in Hist::all() {
            let s = h.spec();
            assert!(s.buckets.windows(2).all(|w| w[0] < w[1]), "{h:?}");
            let top = s.buckets.last().copied().unwrap_or(0.0) * s.scale;
            if s.scale == RATIO_SCALE {
                assert!(top <= s.high as f64, "{h:?}: top bucket above range");
            } else {
                assert!(
                    top < s.high as f64,
                    "{h:?}: clamped values must land above the top bucket"
                );
            }
        }
    }
}
