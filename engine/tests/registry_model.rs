//! Property test: random operation sequences on the registry agree with a plain `HashMap`
//! model (registrations, capacity hits, lifecycle rules, stale handles, listing, counts).

use std::collections::HashMap;

use mabeam_engine::registry::{
    AgentFilter, AgentRef, AgentSpec, AgentState, AgentStatus, Health, Registry, RegistryError,
    ShardWriter,
};
use proptest::prelude::*;

const IDS: usize = 12;
const KINDS: [&str; 2] = ["alpha", "beta"];
const MAX: usize = 5;
const SHARDS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Register {
        id: usize,
        kind: usize,
    },
    RegisterBadId,
    Deregister {
        id: usize,
    },
    Transition {
        id: usize,
        to: AgentState,
    },
    Health {
        id: usize,
        health: Health,
    },
    Restart {
        id: usize,
    },
    /// `ShardWriter::update`: one more restart, and a new kind when given (a new spec, so
    /// a new entry; otherwise published in place).
    Update {
        id: usize,
        kind: Option<usize>,
    },
    Get {
        id: usize,
    },
    GetRef {
        nth: usize,
    },
    List {
        kind: Option<usize>,
        state: Option<AgentState>,
    },
    Count,
}

fn state() -> impl Strategy<Value = AgentState> {
    prop::sample::select(AgentState::ALL.to_vec())
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..IDS, 0..KINDS.len()).prop_map(|(id, kind)| Op::Register { id, kind }),
        1 => Just(Op::RegisterBadId),
        2 => (0..IDS).prop_map(|id| Op::Deregister { id }),
        5 => (0..IDS, state()).prop_map(|(id, to)| Op::Transition { id, to }),
        1 => (0..IDS, prop::sample::select(vec![Health::Healthy, Health::Degraded, Health::Unhealthy]))
            .prop_map(|(id, health)| Op::Health { id, health }),
        1 => (0..IDS).prop_map(|id| Op::Restart { id }),
        2 => (0..IDS, prop::option::of(0..KINDS.len())).prop_map(|(id, kind)| Op::Update { id, kind }),
        3 => (0..IDS).prop_map(|id| Op::Get { id }),
        2 => (0..64usize).prop_map(|nth| Op::GetRef { nth }),
        1 => (prop::option::of(0..KINDS.len()), prop::option::of(state()))
            .prop_map(|(kind, state)| Op::List { kind, state }),
        1 => Just(Op::Count),
    ]
}

#[derive(Debug, Clone)]
struct Model {
    kind: &'static str,
    state: AgentState,
    health: Health,
    restarts: u32,
    agent_ref: AgentRef,
}

fn id(n: usize) -> String {
    format!("agent-{n}")
}

struct Sut {
    registry: Registry,
    writers: Vec<ShardWriter>,
}

impl Sut {
    fn writer(&mut self, id: &str) -> &mut ShardWriter {
        let shard = self.registry.shard_of(id);
        &mut self.writers[shard]
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (registry, writers) = Registry::new(SHARDS, MAX).unwrap();
    let mut sut = Sut { registry, writers };
    let mut model: HashMap<String, Model> = HashMap::new();
    // Every handle ever issued, with the id it was issued for.
    let mut refs: Vec<(AgentRef, String)> = Vec::new();
    for (now, op) in ops.into_iter().enumerate() {
        let now = now as u64;
        match op {
            Op::Register { id: n, kind } => {
                let key = id(n);
                let got = sut
                    .writer(&key)
                    .register(AgentSpec::new(key.as_str(), KINDS[kind]), now);
                if model.contains_key(&key) {
                    prop_assert!(
                        matches!(got, Err(RegistryError::AlreadyExists { .. })),
                        "{got:?}"
                    );
                } else if model.len() >= MAX {
                    prop_assert_eq!(got, Err(RegistryError::Capacity { max: MAX }));
                } else {
                    let r = got.map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(r.shard as usize, sut.registry.shard_of(&key));
                    prop_assert!(refs.iter().all(|(old, _)| *old != r), "handle reissued");
                    refs.push((r, key.clone()));
                    let m = Model {
                        kind: KINDS[kind],
                        state: AgentState::Registered,
                        health: Health::Unknown,
                        restarts: 0,
                        agent_ref: r,
                    };
                    model.insert(key, m);
                }
            }
            Op::RegisterBadId => {
                let got = sut.writers[0].register(AgentSpec::new("bad id", "alpha"), now);
                prop_assert!(
                    matches!(got, Err(RegistryError::InvalidId { .. })),
                    "{got:?}"
                );
            }
            Op::Deregister { id: n } => {
                let key = id(n);
                let got = sut.writer(&key).deregister(&key);
                match model.remove(&key) {
                    Some(m) => {
                        let rec = got.map_err(|e| TestCaseError::fail(e.to_string()))?;
                        prop_assert_eq!(rec.agent_ref, m.agent_ref);
                        prop_assert_eq!(rec.state, m.state);
                    }
                    None => prop_assert!(
                        matches!(got, Err(RegistryError::NotFound { .. })),
                        "{got:?}"
                    ),
                }
            }
            Op::Transition { id: n, to } => {
                let key = id(n);
                let got = sut.writer(&key).transition(&key, to, now);
                match model.get_mut(&key) {
                    None => prop_assert!(
                        matches!(got, Err(RegistryError::NotFound { .. })),
                        "{got:?}"
                    ),
                    Some(m) if m.state.can_transition_to(to) => {
                        prop_assert_eq!(got.map(|r| r.state), Ok(to));
                        m.state = to;
                    }
                    Some(m) => prop_assert_eq!(
                        got,
                        Err(RegistryError::InvalidTransition {
                            id: key.clone(),
                            from: m.state,
                            to
                        })
                    ),
                }
            }
            Op::Health { id: n, health } => {
                let key = id(n);
                let got = sut.writer(&key).set_health(&key, health);
                match model.get_mut(&key) {
                    None => prop_assert!(got.is_err()),
                    Some(m) => {
                        prop_assert_eq!(got, Ok(()));
                        prop_assert_eq!(sut.registry.with(&key, |r| r.health), Some(health));
                        m.health = health;
                    }
                }
            }
            Op::Restart { id: n } => {
                let key = id(n);
                let got = sut.writer(&key).record_restart(&key, now);
                match model.get_mut(&key) {
                    None => prop_assert!(got.is_err()),
                    Some(m) => {
                        m.restarts += 1;
                        prop_assert_eq!(got, Ok(m.restarts));
                    }
                }
            }
            Op::Update { id: n, kind } => {
                let key = id(n);
                let got = sut.writer(&key).update(&key, |r| {
                    r.restarts += 1;
                    if let Some(k) = kind {
                        std::sync::Arc::make_mut(&mut r.spec).kind = KINDS[k].to_owned();
                    }
                    r.restarts
                });
                match model.get_mut(&key) {
                    None => prop_assert!(
                        matches!(got, Err(RegistryError::NotFound { .. })),
                        "{got:?}"
                    ),
                    Some(m) => {
                        m.restarts += 1;
                        if let Some(k) = kind {
                            m.kind = KINDS[k];
                        }
                        prop_assert_eq!(got, Ok(m.restarts));
                        prop_assert_eq!(
                            sut.registry
                                .with(&key, |r| (r.kind().to_owned(), r.restarts)),
                            Some((m.kind.to_owned(), m.restarts))
                        );
                    }
                }
            }
            Op::Get { id: n } => {
                let key = id(n);
                let got = sut.registry.get(&key);
                let status = sut.registry.status(&key);
                match model.get(&key) {
                    None => {
                        prop_assert!(got.is_none());
                        prop_assert!(status.is_none());
                    }
                    Some(m) => {
                        let rec =
                            got.ok_or_else(|| TestCaseError::fail("registered agent missing"))?;
                        prop_assert_eq!(rec.id(), key.as_str());
                        prop_assert_eq!(rec.kind(), m.kind);
                        prop_assert_eq!(rec.state, m.state);
                        prop_assert_eq!(rec.health, m.health);
                        prop_assert_eq!(rec.restarts, m.restarts);
                        prop_assert_eq!(rec.agent_ref, m.agent_ref);
                        prop_assert_eq!(sut.registry.resolve(&key), Some(m.agent_ref));
                        prop_assert_eq!(status, Some(AgentStatus::of(&rec)));
                        prop_assert_eq!(sut.registry.status_ref(m.agent_ref), status);
                    }
                }
            }
            Op::GetRef { nth } => {
                if let Some((r, key)) = refs.get(nth % refs.len().max(1)) {
                    let live = model.get(key).is_some_and(|m| m.agent_ref == *r);
                    let got = sut.registry.get_ref(*r);
                    let status = sut.registry.status_ref(*r);
                    if live {
                        prop_assert_eq!(got.map(|g| g.id().to_owned()), Some(key.clone()));
                        prop_assert_eq!(status.map(|s| s.agent_ref), Some(*r));
                    } else {
                        prop_assert!(got.is_none(), "stale handle {r} reached {got:?}");
                        prop_assert!(status.is_none(), "stale handle {r} reached {status:?}");
                    }
                    let packed = AgentRef::unpack(r.pack());
                    prop_assert_eq!(packed, *r);
                }
            }
            Op::List { kind, state } => {
                let filter = AgentFilter {
                    kind: kind.map(|k| KINDS[k].to_owned()),
                    capability: None,
                    state,
                };
                let got: Vec<String> = sut
                    .registry
                    .list(&filter)
                    .iter()
                    .map(|r| r.id().to_owned())
                    .collect();
                let mut want: Vec<String> = model
                    .iter()
                    .filter(|(_, m)| filter.kind.as_deref().is_none_or(|k| k == m.kind))
                    .filter(|(_, m)| state.is_none_or(|s| s == m.state))
                    .map(|(k, _)| k.clone())
                    .collect();
                want.sort();
                prop_assert_eq!(got, want);
            }
            Op::Count => {}
        }
        prop_assert_eq!(sut.registry.count(), model.len());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn registry_matches_model(ops in prop::collection::vec(op(), 1..200)) {
        run(ops)?;
    }
}
