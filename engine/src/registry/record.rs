//! The published view of an agent (`AgentRecord`), its handle (`AgentRef`) and list filters.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::spec::{AgentSpec, Supervision};
use super::state::{AgentState, Health};

/// Most shards a registry may have (an [`AgentRef`] packs the shard in 10 bits).
pub const SHARDS_MAX: usize = 1 << 10;
/// Most slots per shard, hence most agents (an [`AgentRef`] packs the slot in 24 bits).
pub const SLOTS_MAX: usize = 1 << 24;
/// Largest generation; a slot's generation wraps from here back to 1 (an [`AgentRef`]
/// packs it in 30 bits, so a stale handle could alias only after 2^30 - 1 reuses of its
/// slot).
pub const GENERATION_MAX: u32 = (1 << 30) - 1;

/// A handle to one registration of an agent: shard, slot and the slot's generation at
/// registration. It never reaches a later agent that reuses the slot (the generation
/// differs), so lookups by a stale handle return nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentRef {
    /// The owning shard.
    pub shard: u16,
    /// The slot within the shard.
    pub slot: u32,
    /// The slot's generation when the agent was registered (1 or more).
    pub generation: u32,
}

impl AgentRef {
    /// Packs the handle into a `u64`: shard in bits 54-63, slot in 30-53, generation in 0-29.
    /// Lossless for every handle the registry hands out.
    pub fn pack(self) -> u64 {
        (u64::from(self.shard) & 0x3FF) << 54
            | (u64::from(self.slot) & 0xFF_FFFF) << 30
            | u64::from(self.generation) & u64::from(GENERATION_MAX)
    }

    /// Unpacks a handle made by [`AgentRef::pack`]. Any `u64` unpacks into some handle; one
    /// that never came from the registry simply finds nothing.
    pub fn unpack(packed: u64) -> Self {
        Self {
            shard: (packed >> 54) as u16,
            slot: ((packed >> 30) & 0xFF_FFFF) as u32,
            generation: (packed & u64::from(GENERATION_MAX)) as u32,
        }
    }
}

impl fmt::Display for AgentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@{}", self.shard, self.slot, self.generation)
    }
}

/// An agent as published by the registry: its spec plus lifecycle, health and counters.
///
/// `S` is how the record holds the spec: shared (`Arc<AgentSpec>`, the default: an owned
/// record, whose clones allocate nothing) or borrowed ([`AgentView`], what
/// [`Registry::with`](super::Registry::with) hands out, which copies and counts nothing).
/// Timestamps are milliseconds supplied by the caller (the runtime reads the clock once
/// per tick).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgentRecord<S = Arc<AgentSpec>> {
    /// What was registered.
    pub spec: S,
    /// The handle of this registration.
    pub agent_ref: AgentRef,
    /// Lifecycle state.
    pub state: AgentState,
    /// Last reported health.
    pub health: Health,
    /// Restarts so far.
    pub restarts: u32,
    /// Failures so far.
    pub failures: u32,
    /// When it was registered.
    pub registered_at_ms: u64,
    /// When it last changed.
    pub updated_at_ms: u64,
}

/// An agent as published right now, with its spec borrowed for the length of a
/// [`Registry::with`](super::Registry::with) call; [`AgentView::to_record`] makes the
/// owned copy.
pub type AgentView<'a> = AgentRecord<&'a Arc<AgentSpec>>;

impl AgentRecord {
    /// A freshly registered agent: state `registered`, health `unknown`, counters at zero.
    pub fn new(spec: Arc<AgentSpec>, agent_ref: AgentRef, now_ms: u64) -> Self {
        Self {
            spec,
            agent_ref,
            state: AgentState::Registered,
            health: Health::Unknown,
            restarts: 0,
            failures: 0,
            registered_at_ms: now_ms,
            updated_at_ms: now_ms,
        }
    }

    /// The record as a borrowed view.
    pub fn view(&self) -> AgentView<'_> {
        self.with_spec(&self.spec)
    }
}

impl AgentView<'_> {
    /// An owned copy (clones the spec's `Arc`; allocates nothing).
    pub fn to_record(&self) -> AgentRecord {
        self.with_spec(Arc::clone(self.spec))
    }
}

impl<S: AsRef<AgentSpec>> AgentRecord<S> {
    /// The agent's id.
    pub fn id(&self) -> &str {
        &self.spec.as_ref().id
    }

    /// The agent's kind.
    pub fn kind(&self) -> &str {
        &self.spec.as_ref().kind
    }

    /// Whether the agent passes every condition of `filter`.
    pub fn matches(&self, filter: &AgentFilter) -> bool {
        let spec = self.spec.as_ref();
        filter.kind.as_deref().is_none_or(|k| k == spec.kind)
            && filter
                .capability
                .as_deref()
                .is_none_or(|c| spec.has_capability(c))
            && filter.state.is_none_or(|s| s == self.state)
    }

    /// The status part.
    pub fn status(&self) -> AgentStatus {
        AgentStatus {
            agent_ref: self.agent_ref,
            state: self.state,
            health: self.health,
            restarts: self.restarts,
            failures: self.failures,
        }
    }
}

impl<S> AgentRecord<S> {
    /// The same record holding its spec as `spec`.
    fn with_spec<T>(&self, spec: T) -> AgentRecord<T> {
        AgentRecord {
            spec,
            agent_ref: self.agent_ref,
            state: self.state,
            health: self.health,
            restarts: self.restarts,
            failures: self.failures,
            registered_at_ms: self.registered_at_ms,
            updated_at_ms: self.updated_at_ms,
        }
    }
}

/// The live status of one registration: what a hot lookup usually wants, as a copy.
///
/// [`Registry::status`](super::Registry::status) reads it without pinning the epoch
/// collector (from a compact mirror under sequence counters), which makes it the cheapest
/// lookup by id. It is published right after the agent's record, so it may trail
/// [`Registry::with`](super::Registry::with) by the one write in flight, never lead it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct AgentStatus {
    /// The handle of this registration.
    #[serde(rename = "ref")]
    pub agent_ref: AgentRef,
    /// Lifecycle state.
    pub state: AgentState,
    /// Last reported health.
    pub health: Health,
    /// Restarts so far.
    pub restarts: u32,
    /// Failures so far.
    pub failures: u32,
}

impl AgentStatus {
    /// The status part of a record.
    pub fn of<S: AsRef<AgentSpec>>(record: &AgentRecord<S>) -> Self {
        record.status()
    }

    /// Packs the status (less the shard and slot, which the table knows) into two words:
    /// generation, state and health; restarts and failures.
    pub(crate) fn pack(&self) -> [u64; 2] {
        let (state, health) = (self.state as u64, self.health as u64);
        [
            u64::from(self.agent_ref.generation) | state << 32 | health << 40,
            u64::from(self.restarts) | u64::from(self.failures) << 32,
        ]
    }

    /// Unpacks words made by [`AgentStatus::pack`] for the agent in `shard`/`slot`.
    pub(crate) fn unpack(shard: u16, slot: u32, words: [u64; 2]) -> Self {
        let [a, b] = words;
        Self {
            agent_ref: AgentRef {
                shard,
                slot,
                generation: a as u32,
            },
            // Only `pack` writes these words; any other byte reads as the first variant.
            state: AgentState::ALL
                .get(((a >> 32) & 0xFF) as usize)
                .copied()
                .unwrap_or(AgentState::ALL[0]),
            health: Health::ALL
                .get(((a >> 40) & 0xFF) as usize)
                .copied()
                .unwrap_or(Health::ALL[0]),
            restarts: b as u32,
            failures: (b >> 32) as u32,
        }
    }
}

/// Conditions for listing agents (`GET /api/agents?kind=&capability=&state=`); each one
/// left `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentFilter {
    /// Only agents of this kind.
    pub kind: Option<String>,
    /// Only agents declaring this capability.
    pub capability: Option<String>,
    /// Only agents in this state.
    pub state: Option<AgentState>,
}

/// The JSON shape of a record: the spec's fields flattened, then the status fields.
#[derive(Serialize)]
struct RecordView<'a> {
    id: &'a str,
    kind: &'a str,
    capabilities: &'a [String],
    config: &'a serde_json::Value,
    supervision: &'a Supervision,
    metadata: &'a BTreeMap<String, String>,
    state: AgentState,
    health: Health,
    restarts: u32,
    failures: u32,
    registered_at_ms: u64,
    updated_at_ms: u64,
    #[serde(rename = "ref")]
    agent_ref: AgentRef,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordWire {
    id: String,
    kind: String,
    capabilities: Vec<String>,
    config: serde_json::Value,
    supervision: Supervision,
    metadata: BTreeMap<String, String>,
    state: AgentState,
    health: Health,
    restarts: u32,
    failures: u32,
    registered_at_ms: u64,
    updated_at_ms: u64,
    #[serde(rename = "ref")]
    agent_ref: AgentRef,
}

impl Serialize for AgentRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RecordView {
            id: &self.spec.id,
            kind: &self.spec.kind,
            capabilities: &self.spec.capabilities,
            config: &self.spec.config,
            supervision: &self.spec.supervision,
            metadata: &self.spec.metadata,
            state: self.state,
            health: self.health,
            restarts: self.restarts,
            failures: self.failures,
            registered_at_ms: self.registered_at_ms,
            updated_at_ms: self.updated_at_ms,
            agent_ref: self.agent_ref,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AgentRecord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let w = RecordWire::deserialize(deserializer)?;
        Ok(Self {
            spec: Arc::new(AgentSpec {
                id: w.id,
                kind: w.kind,
                capabilities: w.capabilities,
                config: w.config,
                supervision: w.supervision,
                metadata: w.metadata,
            }),
            agent_ref: w.agent_ref,
            state: w.state,
            health: w.health,
            restarts: w.restarts,
            failures: w.failures,
            registered_at_ms: w.registered_at_ms,
            updated_at_ms: w.updated_at_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trip() {
        for r in [
            AgentRef {
                shard: 0,
                slot: 0,
                generation: 1,
            },
            AgentRef {
                shard: 1023,
                slot: (SLOTS_MAX - 1) as u32,
                generation: GENERATION_MAX,
            },
            AgentRef {
                shard: 7,
                slot: 12345,
                generation: 99,
            },
        ] {
            assert_eq!(AgentRef::unpack(r.pack()), r);
        }
        assert_eq!(
            AgentRef {
                shard: 1,
                slot: 2,
                generation: 3
            }
            .to_string(),
            "1/2@3"
        );
    }

    #[test]
    fn json_shape_round_trips() {
        let mut spec = AgentSpec::new("a1", "worker").with_capability("nlp");
        spec.supervision.strategy = Some(crate::registry::RestartStrategy::Permanent);
        let rec = AgentRecord::new(
            Arc::new(spec),
            AgentRef {
                shard: 0,
                slot: 3,
                generation: 2,
            },
            1000,
        );
        let v = serde_json::to_value(&rec).unwrap();
        assert_eq!(v["id"], "a1");
        assert_eq!(v["state"], "registered");
        assert_eq!(v["health"], "unknown");
        assert_eq!(v["supervision"]["strategy"], "permanent");
        assert_eq!(v["ref"]["slot"], 3);
        let back: AgentRecord = serde_json::from_value(v).unwrap();
        assert_eq!(back, rec);
    }

    #[test]
    fn filters() {
        let mut rec = AgentRecord::new(
            Arc::new(AgentSpec::new("a", "worker").with_capability("nlp")),
            AgentRef {
                shard: 0,
                slot: 0,
                generation: 1,
            },
            0,
        );
        rec.state = AgentState::Running;
        assert!(rec.matches(&AgentFilter::default()));
        let f = |kind: Option<&str>, cap: Option<&str>, state| AgentFilter {
            kind: kind.map(Into::into),
            capability: cap.map(Into::into),
            state,
        };
        assert!(rec.matches(&f(Some("worker"), Some("nlp"), Some(AgentState::Running))));
        assert!(!rec.matches(&f(Some("other"), None, None)));
        assert!(!rec.matches(&f(None, Some("vision"), None)));
        assert!(!rec.matches(&f(None, None, Some(AgentState::Stopped))));
        let parsed: AgentFilter = serde_json::from_str(r#"{"state":"running"}"#).unwrap();
        assert!(rec.matches(&parsed));
    }
}
