//! The worst-case memory footprint of a profile's limits: what one node would hold with
//! every configured count full and every item at its largest accepted size, item by item,
//! against `performance.memory_limit_mb`. `mabeam check-profile` prints it.
//!
//! The figures are upper bounds of live data (payload bytes plus a fixed allowance per
//! item for headers and indexes), not predictions: they show which limits let state
//! outgrow the memory limit. Where they do, the memory limit is what holds: every write
//! that grows state is refused (503 `memory_limit`) while the node is over it.

use crate::coord::validate::ID_LEN_MAX;
use crate::coord::{Bid, Limits, Order, Vote};
use crate::profile::Config;
use crate::variables::VariableSettings;
use std::fmt::Write as _;

/// Bytes of bookkeeping allowed per stored item (allocation headers, map and index
/// entries, version and timestamp fields).
const ITEM_OVERHEAD_BYTES: u64 = 64;
/// Bytes of an entry in a bundle's item map besides the item's name and quantity.
const MAP_ENTRY_OVERHEAD_BYTES: u64 = 32;
/// Bytes of an agent's registry slot, runtime state and indexes besides its spec.
const AGENT_OVERHEAD_BYTES: u64 = 1_024;
/// Bytes of a session's own state besides its bids, orders or votes.
const SESSION_OVERHEAD_BYTES: u64 = 4_096;

const MIB: u64 = 1024 * 1024;

/// One line of the footprint: a kind of state, the limits that bound it, its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FootprintItem {
    /// What is held (`variables and their history`, `agents`, ...).
    pub what: &'static str,
    /// The limits and sizes multiplied, as written in the profile.
    pub formula: String,
    /// The worst case, bytes (saturating at `u64::MAX`).
    pub bytes: u64,
}

/// The worst-case footprint of a config's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footprint {
    /// Item by item.
    pub items: Vec<FootprintItem>,
    /// The sum, bytes (saturating).
    pub total_bytes: u64,
    /// `performance.memory_limit_mb` in bytes.
    pub limit_bytes: u64,
}

fn mul(factors: &[u64]) -> u64 {
    factors
        .iter()
        .try_fold(1u64, |acc, &f| acc.checked_mul(f))
        .unwrap_or(u64::MAX)
}

fn add(terms: &[u64]) -> u64 {
    terms
        .iter()
        .try_fold(0u64, |acc, &t| acc.checked_add(t))
        .unwrap_or(u64::MAX)
}

fn size_of<T>() -> u64 {
    std::mem::size_of::<T>() as u64
}

fn n(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

impl Footprint {
    /// The footprint of `config`'s limits.
    pub fn of(config: &Config) -> Footprint {
        let id = n(ID_LEN_MAX);
        let vars = VariableSettings::default();
        let value = n(vars.value_bytes_max);
        let limits = Limits::default();
        let body = n(config.server.body_max_bytes);
        let process_limit = n(config.performance.process_limit);

        let variables = n(config.core.max_variables);
        let history = n(config.core.history_retention);
        let version_bytes = add(&[value, id, ITEM_OVERHEAD_BYTES]);
        let variable_bytes = add(&[
            id,
            value,
            mul(&[n(vars.subscribers_max), add(&[id, ITEM_OVERHEAD_BYTES])]),
        ]);
        let variables_item = FootprintItem {
            what: "variables and their history",
            formula: format!(
                "core.max_variables {variables} x (core.history_retention {history} x \
                 {version_bytes} B per version (values up to {value} B) + {variable_bytes} B \
                 per variable (domain, subscribers))"
            ),
            bytes: mul(&[
                variables,
                add(&[mul(&[history, version_bytes]), variable_bytes]),
            ]),
        };

        let agents = n(config.effective_max_agents()).min(process_limit);
        let agent_bytes = add(&[body, AGENT_OVERHEAD_BYTES]);
        let agents_item = FootprintItem {
            what: "agents",
            formula: format!(
                "min(derived.effective_max_agents, performance.process_limit) {agents} x \
                 {agent_bytes} B (a spec up to server.body_max_bytes)"
            ),
            bytes: mul(&[agents, agent_bytes]),
        };

        let sessions = n(config.coordination.max_concurrent_coordinations).min(process_limit);
        let bundle = mul(&[
            n(limits.items_per_auction_max),
            add(&[id, 8, MAP_ENTRY_OVERHEAD_BYTES]),
        ]);
        // Each entry also keeps its idempotency key (up to an id's length).
        let bid = add(&[size_of::<Bid>(), id, id, bundle, ITEM_OVERHEAD_BYTES]);
        let order = add(&[size_of::<Order>(), id, id, ITEM_OVERHEAD_BYTES]);
        let vote = add(&[size_of::<Vote>(), id, id, id, ITEM_OVERHEAD_BYTES]);
        let bids = n(config.coordination.bids_per_auction_max);
        let orders = n(config.coordination.orders_per_market_max);
        let votes = n(limits.votes_max);
        let per_session = mul(&[bids, bid])
            .max(mul(&[orders, order]))
            .max(mul(&[votes, vote]));
        let sessions_item = FootprintItem {
            what: "sessions (auctions, markets, consensus rounds)",
            formula: format!(
                "min(coordination.max_concurrent_coordinations, performance.process_limit) \
                 {sessions} x the largest of coordination.bids_per_auction_max {bids} x \
                 {bid} B, coordination.orders_per_market_max {orders} x {order} B, \
                 {votes} votes x {vote} B"
            ),
            bytes: mul(&[sessions, add(&[per_session, SESSION_OVERHEAD_BYTES])]),
        };

        let keys = n(config.coordination.idempotency_keys_max);
        let answer = add(&[id, body, ITEM_OVERHEAD_BYTES]);
        let idempotency_item = FootprintItem {
            what: "idempotency keys and their answers",
            formula: format!(
                "coordination.idempotency_keys_max {keys} x {answer} B (an answer echoes up \
                 to server.body_max_bytes)"
            ),
            bytes: mul(&[keys, answer]),
        };

        let items = vec![variables_item, agents_item, sessions_item, idempotency_item];
        let total_bytes = add(&items.iter().map(|i| i.bytes).collect::<Vec<_>>());
        Footprint {
            items,
            total_bytes,
            limit_bytes: mul(&[config.performance.memory_limit_mb, MIB]),
        }
    }

    /// Whether full limits would hold more than `performance.memory_limit_mb`.
    pub fn exceeds_limit(&self) -> bool {
        self.total_bytes > self.limit_bytes
    }

    /// The report `mabeam check-profile` prints.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "worst-case memory footprint of the configured limits (every count full, every \
             item at its largest):\n",
        );
        for item in &self.items {
            let _ = writeln!(
                out,
                "  {:>11}  {}: {}",
                human(item.bytes),
                item.what,
                item.formula
            );
        }
        let _ = writeln!(
            out,
            "  {:>11}  total, against performance.memory_limit_mb = {} MiB",
            human(self.total_bytes),
            self.limit_bytes / MIB
        );
        if self.exceeds_limit() {
            let _ = writeln!(
                out,
                "note: full limits would exceed the memory limit {}x; the memory limit is what \
                 holds: over it every write that grows state answers 503 memory_limit and \
                 /ready is false. Lower the largest items above to make the counts hold first.",
                self.total_bytes / self.limit_bytes.max(1)
            );
        } else {
            out.push_str("ok: full limits fit within the memory limit\n");
        }
        out
    }
}

/// `bytes` in the largest binary unit that keeps the number at or above 1.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_variables_bound_is_the_product_of_their_limits() {
        let c = Config::default();
        let f = Footprint::of(&c);
        let vars = &f.items[0];
        // 10,000 variables x 100 versions x 64 KiB values: over 61 GiB.
        assert!(vars.bytes > 61 * 1024 * MIB, "{}", human(vars.bytes));
        assert!(vars.bytes < 64 * 1024 * MIB, "{}", human(vars.bytes));
        assert!(f.exceeds_limit());
        assert!(f.render().contains("503 memory_limit"));
    }

    #[test]
    fn small_limits_fit() {
        let mut c = Config::test_min();
        c.performance.memory_limit_mb = 1_024;
        let f = Footprint::of(&c);
        assert!(!f.exceeds_limit(), "{}", f.render());
        assert!(f.render().contains("ok: full limits fit"));
    }

    #[test]
    fn process_limit_caps_agents_and_sessions() {
        let mut c = Config::default();
        let before = Footprint::of(&c);
        c.performance.process_limit = 1;
        let after = Footprint::of(&c);
        assert!(after.items[1].bytes < before.items[1].bytes);
        assert!(after.items[2].bytes < before.items[2].bytes);
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(mul(&[u64::MAX, 2]), u64::MAX);
        assert_eq!(add(&[u64::MAX, 1]), u64::MAX);
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(10), "10 B");
    }
}
