//! Label values: small closed sets, so every series has a fixed slot.
//!
//! Each enum lists its members in `ALL` (slot order) and names them with `as_str`, the
//! exact text used as a Prometheus label value and in JSON. Parsing (`FromStr`) accepts
//! the same text and nothing else.

use std::fmt;
use std::str::FromStr;

use super::error::TelemetryError;

macro_rules! label_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $kind:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every member, in slot order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Number of members.
            pub const COUNT: usize = Self::ALL.len();

            /// The label value (also the JSON text).
            #[inline]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }

            /// Position in `ALL`.
            #[inline]
            pub const fn index(self) -> usize {
                self as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = TelemetryError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|m| m.as_str() == s)
                    .ok_or_else(|| TelemetryError::UnknownLabel {
                        kind: $kind,
                        value: s.chars().take(64).collect(),
                        expected: $name::ALL
                            .iter()
                            .map(|m| m.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

label_enum! {
    /// A coordination protocol (`"protocol"` in the HTTP API).
    Protocol, "protocol" {
        /// Sealed-bid, English, Dutch or combinatorial auction.
        Auction => "auction",
        /// Call market.
        Market => "market",
        /// Voting rules.
        Consensus => "consensus",
        /// Priority or proportional allocation.
        Allocation => "allocation",
        /// Coordinated update of a shared variable.
        Variable => "variable",
    }
}

label_enum! {
    /// How a coordination request ended.
    Outcome, "result" {
        /// Cleared and answered.
        Success => "success",
        /// Answered with an error (invalid input, no agreement where one was required, ...).
        Failure => "failure",
        /// Gave up at its deadline.
        Timeout => "timeout",
    }
}

label_enum! {
    /// Why a coordination request was refused before it ran.
    RejectReason, "reason" {
        /// The request was malformed or failed validation.
        Invalid => "invalid",
        /// A capacity limit (agents, auctions, sessions) was reached.
        Capacity => "capacity",
        /// The owning worker's inbox was full.
        InboxFull => "inbox_full",
        /// The process is over its memory limit (admission control).
        Memory => "memory",
        /// A per-client quota was exhausted.
        Quota => "quota",
        /// The engine is draining for shutdown.
        Draining => "draining",
    }
}

label_enum! {
    /// Auction type (`"type"` in the HTTP API).
    AuctionType, "auction type" {
        /// Sealed bid, winner pays its bid.
        FirstPrice => "first_price",
        /// Sealed bid, winner pays the second price.
        SecondPrice => "second_price",
        /// Ascending clock with proxy bids.
        English => "english",
        /// Descending clock.
        Dutch => "dutch",
        /// Identical units, uniform or discriminatory pricing.
        MultiUnit => "multi_unit",
        /// Bundles of items.
        Combinatorial => "combinatorial",
    }
}

label_enum! {
    /// Agent lifecycle state, for the agents-by-state gauge.
    AgentState, "agent state" {
        /// Registered, never started.
        Registered => "registered",
        /// Being started by its worker.
        Starting => "starting",
        /// Running.
        Running => "running",
        /// Being stopped.
        Stopping => "stopping",
        /// Stopped.
        Stopped => "stopped",
        /// Crashed or failed to start, not (yet) restarted.
        Failed => "failed",
    }
}

label_enum! {
    /// A metric watched for anomalies (`metric` label of `mabeam_anomalies_total`).
    AnomalyMetric, "anomaly metric" {
        /// Auction protocol request duration, seconds.
        CoordinationDurationAuction => "coordination_duration_auction",
        /// Market protocol request duration, seconds.
        CoordinationDurationMarket => "coordination_duration_market",
        /// Consensus protocol request duration, seconds.
        CoordinationDurationConsensus => "coordination_duration_consensus",
        /// Allocation protocol request duration, seconds.
        CoordinationDurationAllocation => "coordination_duration_allocation",
        /// Shared-variable coordination duration, seconds.
        CoordinationDurationVariable => "coordination_duration_variable",
        /// Auction efficiency, ratio.
        AuctionEfficiency => "auction_efficiency",
        /// Market efficiency, ratio.
        MarketEfficiency => "market_efficiency",
        /// Market clearing price, currency units.
        MarketClearingPrice => "market_clearing_price",
        /// Worker tick duration, seconds.
        TickDuration => "tick_duration",
        /// Maintenance sweep pause, seconds.
        SweepPause => "sweep_pause",
    }
}

impl AnomalyMetric {
    /// The duration metric watched for `protocol`.
    #[inline]
    pub const fn coordination_duration(protocol: Protocol) -> AnomalyMetric {
        match protocol {
            Protocol::Auction => AnomalyMetric::CoordinationDurationAuction,
            Protocol::Market => AnomalyMetric::CoordinationDurationMarket,
            Protocol::Consensus => AnomalyMetric::CoordinationDurationConsensus,
            Protocol::Allocation => AnomalyMetric::CoordinationDurationAllocation,
            Protocol::Variable => AnomalyMetric::CoordinationDurationVariable,
        }
    }
}

impl From<crate::registry::AgentState> for AgentState {
    fn from(s: crate::registry::AgentState) -> Self {
        use crate::registry::AgentState as R;
        match s {
            R::Registered => AgentState::Registered,
            R::Starting => AgentState::Starting,
            R::Running => AgentState::Running,
            R::Stopping => AgentState::Stopping,
            R::Stopped => AgentState::Stopped,
            R::Failed => AgentState::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_rejects_unknown() {
        for p in Protocol::ALL {
            assert_eq!(p.as_str().parse::<Protocol>().ok(), Some(*p));
        }
        for (i, m) in AnomalyMetric::ALL.iter().enumerate() {
            assert_eq!(m.index(), i);
        }
        let err = "gossip".parse::<Protocol>().unwrap_err().to_string();
        assert!(err.contains("gossip") && err.contains("auction"), "{err}");
    }

    #[test]
    fn duration_metric_per_protocol_is_distinct() {
        let mut seen: Vec<_> = Protocol::ALL
            .iter()
            .map(|p| AnomalyMetric::coordination_duration(*p))
            .collect();
        seen.dedup();
        assert_eq!(seen.len(), Protocol::COUNT);
    }
}
