//! Random operation sequences against a plain model of the variable store.
//!
//! Invariants: versions rise by exactly 1 per accepted write; history is at most
//! `history_retention` long, newest first, and equals the model's; a stale (or future)
//! version is always refused and changes nothing; limits refuse with their own error and
//! disturb nothing; every accepted write notifies exactly the subscribers, in order.

use std::collections::BTreeMap;

use mabeam_engine::variables::{
    CoordinateRequest, CreateRequest, Delivery, Domain, Policy, RuleName, UpdateRequest,
    VariableSettings, Variables, VoteSpec,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const SETTINGS: VariableSettings = VariableSettings {
    max_variables: 3,
    history_retention: 4,
    subscribers_max: 2,
    value_bytes_max: 64,
    participants_max: 4,
};
const NAMES: [&str; 4] = ["n0", "n1", "n2", "n3"];
const AGENTS: [&str; 3] = ["a0", "a1", "a2"];
const POLICIES: [Policy; 3] = [
    Policy::LastWriteWins,
    Policy::VersionCheck,
    Policy::Coordinated,
];
/// Every variable's domain: integers 0..=5 (values up to 7 are generated).
const DOMAIN_MAX: u8 = 5;

#[derive(Debug, Clone)]
enum VersionChoice {
    None,
    Current,
    /// Current minus 1 + n (stale) or current plus 1 + n (future).
    Off {
        back: bool,
        n: u8,
    },
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        name: usize,
        value: u8,
        policy: usize,
    },
    Update {
        name: usize,
        value: u8,
        agent: usize,
        version: VersionChoice,
    },
    Vote {
        name: usize,
        values: Vec<u8>,
        version: VersionChoice,
    },
    Subscribe {
        name: usize,
        agent: usize,
    },
    Unsubscribe {
        name: usize,
        agent: usize,
    },
    Remove {
        name: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct Rev {
    version: u64,
    value: Value,
    agent: String,
    at: u64,
}

#[derive(Debug, Default)]
struct ModelVar {
    policy: Option<Policy>,
    history: Vec<Rev>,
    subscribers: Vec<String>,
}

impl ModelVar {
    fn version(&self) -> u64 {
        self.history[0].version
    }

    /// The error code the store must give for this version and policy, if any.
    fn version_error(&self, version: Option<u64>) -> Option<&'static str> {
        match (version, self.policy) {
            (Some(v), _) if v != self.version() => Some("version_conflict"),
            (None, Some(Policy::VersionCheck)) => Some("version_required"),
            _ => None,
        }
    }

    fn write(&mut self, value: Value, agent: &str, at: u64) -> Vec<(String, u64)> {
        let version = self.version() + 1;
        self.history.insert(
            0,
            Rev {
                version,
                value,
                agent: agent.to_owned(),
                at,
            },
        );
        self.history.truncate(SETTINGS.history_retention);
        self.subscribers
            .iter()
            .map(|s| (s.clone(), version))
            .collect()
    }
}

fn resolve(choice: &VersionChoice, current: u64) -> Option<u64> {
    match choice {
        VersionChoice::None => None,
        VersionChoice::Current => Some(current),
        VersionChoice::Off { back: true, n } => Some(current.saturating_sub(1 + u64::from(*n))),
        VersionChoice::Off { back: false, n } => Some(current + 1 + u64::from(*n)),
    }
}

fn arb_version() -> impl Strategy<Value = VersionChoice> {
    prop_oneof![
        1 => Just(VersionChoice::None),
        3 => Just(VersionChoice::Current),
        2 => (any::<bool>(), 0u8..3).prop_map(|(back, n)| VersionChoice::Off { back, n }),
    ]
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..NAMES.len(), 0u8..8, 0..POLICIES.len())
            .prop_map(|(name, value, policy)| Op::Create { name, value, policy }),
        6 => (0..NAMES.len(), 0u8..8, 0..AGENTS.len(), arb_version())
            .prop_map(|(name, value, agent, version)| Op::Update { name, value, agent, version }),
        2 => (0..NAMES.len(), proptest::collection::vec(0u8..7, 1..4), arb_version())
            .prop_map(|(name, values, version)| Op::Vote { name, values, version }),
        2 => (0..NAMES.len(), 0..AGENTS.len()).prop_map(|(name, agent)| Op::Subscribe { name, agent }),
        1 => (0..NAMES.len(), 0..AGENTS.len()).prop_map(|(name, agent)| Op::Unsubscribe { name, agent }),
        1 => (0..NAMES.len()).prop_map(|name| Op::Remove { name }),
    ]
}

/// The plurality winner: most votes, ties to the earliest (votes are cast in list order).
fn plurality(values: &[u8]) -> u8 {
    let count = |v: u8| values.iter().filter(|&&w| w == v).count();
    let first = |v: u8| values.iter().position(|&w| w == v).unwrap_or(usize::MAX);
    values
        .iter()
        .copied()
        .max_by(|&a, &b| count(a).cmp(&count(b)).then(first(b).cmp(&first(a))))
        .unwrap_or(0)
}

fn delivered(out: &[Delivery]) -> Vec<(String, u64)> {
    out.iter()
        .map(|d| (d.to.to_string(), d.change.version()))
        .collect()
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut vars = Variables::new(SETTINGS).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut model: BTreeMap<&str, ModelVar> = BTreeMap::new();
    let mut out = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        let now = 1_000 + step as u64;
        out.clear();
        match op {
            Op::Create {
                name,
                value,
                policy,
            } => {
                let name = NAMES[name];
                let req = CreateRequest {
                    name: name.to_owned(),
                    value: json!(value),
                    domain: Domain::Range {
                        min: 0.into(),
                        max: DOMAIN_MAX.into(),
                    },
                    policy: POLICIES[policy],
                    agent_id: None,
                };
                let expect = if value > DOMAIN_MAX {
                    Some("out_of_domain")
                } else if model.contains_key(name) {
                    Some("already_exists")
                } else if model.len() >= SETTINGS.max_variables {
                    Some("capacity")
                } else {
                    None
                };
                let got = vars.create(req, now);
                prop_assert_eq!(got.as_ref().err().map(|e| e.code()), expect);
                if let Ok(r) = got {
                    prop_assert_eq!(r.version, 1);
                    let rev = Rev {
                        version: 1,
                        value: json!(value),
                        agent: "system".into(),
                        at: now,
                    };
                    model.insert(
                        name,
                        ModelVar {
                            policy: Some(POLICIES[policy]),
                            history: vec![rev],
                            subscribers: vec![],
                        },
                    );
                }
            }
            Op::Update {
                name,
                value,
                agent,
                version,
            } => {
                let name = NAMES[name];
                let current = model.get(name).map_or(1, ModelVar::version);
                let version = resolve(&version, current);
                let req = UpdateRequest {
                    value: json!(value),
                    agent_id: AGENTS[agent].to_owned(),
                    version,
                };
                let got = vars.update(name, req, now, &mut out);
                let expect = match model.get(name) {
                    None => Some("not_found"),
                    Some(m) if m.policy == Some(Policy::Coordinated) => Some("coordinated"),
                    Some(m) => m
                        .version_error(version)
                        .or((value > DOMAIN_MAX).then_some("out_of_domain")),
                };
                prop_assert_eq!(got.as_ref().err().map(|e| e.code()), expect);
                if let Ok(r) = got {
                    let m = model
                        .get_mut(name)
                        .ok_or_else(|| TestCaseError::fail("model lost"))?;
                    prop_assert_eq!(r.version, m.version() + 1, "version rises by exactly 1");
                    let expected = m.write(json!(value), AGENTS[agent], now);
                    prop_assert_eq!(delivered(&out), expected);
                } else {
                    prop_assert!(out.is_empty(), "a refused write delivers nothing");
                }
            }
            Op::Vote {
                name,
                values,
                version,
            } => {
                let name = NAMES[name];
                let current = model.get(name).map_or(1, ModelVar::version);
                let version = resolve(&version, current);
                let votes = values
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| VoteSpec {
                        agent_id: format!("v{i}"),
                        value: json!(v),
                        weight: 1,
                        at: None,
                    })
                    .collect();
                let req = CoordinateRequest::Vote {
                    rule: RuleName::Weighted,
                    threshold: None,
                    quorum: None,
                    max_weight_share: None,
                    votes,
                    version,
                };
                let got = vars.coordinate(name, req, now, &mut out);
                let expect = match model.get(name) {
                    None => Some("not_found"),
                    Some(m) => m.version_error(version).or(values
                        .iter()
                        .any(|&v| v > DOMAIN_MAX)
                        .then_some("out_of_domain")),
                };
                prop_assert_eq!(got.as_ref().err().map(|e| e.code()), expect);
                if let Ok(r) = got {
                    let m = model
                        .get_mut(name)
                        .ok_or_else(|| TestCaseError::fail("model lost"))?;
                    // Weighted, every weight 1: the leader needs more than half the votes.
                    let winner = plurality(&values);
                    let support = values.iter().filter(|&&v| v == winner).count();
                    if 2 * support > values.len() {
                        prop_assert!(r.decided);
                        prop_assert_eq!(&r.value, &json!(winner));
                        let expected = m.write(json!(winner), "consensus", now);
                        prop_assert_eq!(r.version, m.version());
                        prop_assert_eq!(delivered(&out), expected);
                    } else {
                        prop_assert!(!r.decided);
                        prop_assert_eq!(r.version, m.version());
                        prop_assert_eq!(delivered(&out), Vec::<(String, u64)>::new());
                    }
                }
            }
            Op::Subscribe { name, agent } => {
                let (name, agent) = (NAMES[name], AGENTS[agent]);
                let got = vars.subscribe(name, agent);
                match model.get_mut(name) {
                    None => prop_assert_eq!(got.map_err(|e| e.code()), Err("not_found")),
                    Some(m) if m.subscribers.iter().any(|s| s == agent) => {
                        prop_assert_eq!(got, Ok(false))
                    }
                    Some(m) if m.subscribers.len() >= SETTINGS.subscribers_max => {
                        prop_assert_eq!(got.map_err(|e| e.code()), Err("subscriber_capacity"));
                    }
                    Some(m) => {
                        prop_assert_eq!(got, Ok(true));
                        m.subscribers.push(agent.to_owned());
                    }
                }
            }
            Op::Unsubscribe { name, agent } => {
                let (name, agent) = (NAMES[name], AGENTS[agent]);
                let got = vars.unsubscribe(name, agent);
                match model.get_mut(name) {
                    None => prop_assert_eq!(got.map_err(|e| e.code()), Err("not_found")),
                    Some(m) => {
                        let had = m.subscribers.iter().position(|s| s == agent);
                        prop_assert_eq!(got, Ok(had.is_some()));
                        if let Some(i) = had {
                            m.subscribers.remove(i);
                        }
                    }
                }
            }
            Op::Remove { name } => {
                let name = NAMES[name];
                let got = vars.remove(name);
                prop_assert_eq!(got.is_ok(), model.remove(name).is_some());
            }
        }
        check_same(&vars, &model)?;
    }
    Ok(())
}

/// The store and the model agree on every variable, its history and its subscribers.
fn check_same(vars: &Variables, model: &BTreeMap<&str, ModelVar>) -> Result<(), TestCaseError> {
    prop_assert_eq!(vars.len(), model.len());
    let listed: Vec<&str> = vars.list().iter().map(|v| v.name).collect();
    prop_assert_eq!(listed, model.keys().copied().collect::<Vec<_>>());
    for (name, m) in model {
        let view = vars
            .get(name)
            .ok_or_else(|| TestCaseError::fail(format!("{name} missing")))?;
        prop_assert_eq!(view.version, m.version());
        prop_assert_eq!(view.value, &m.history[0].value);
        let history = vars
            .history(name, usize::MAX)
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .history;
        prop_assert!(history.len() <= SETTINGS.history_retention);
        prop_assert!(
            history.windows(2).all(|w| w[0].version == w[1].version + 1),
            "newest first, no gaps"
        );
        let got: Vec<Rev> = history
            .into_iter()
            .map(|r| Rev {
                version: r.version,
                value: r.value,
                agent: r.agent_id,
                at: r.at,
            })
            .collect();
        prop_assert_eq!(&got, &m.history);
        let subs: Vec<&str> = vars
            .subscribers(name)
            .map(|s| s.collect())
            .unwrap_or_default();
        prop_assert_eq!(
            subs,
            m.subscribers.iter().map(String::as_str).collect::<Vec<_>>()
        );
    }
    for name in NAMES.iter().filter(|n| !model.contains_key(*n)) {
        prop_assert!(vars.get(name).is_none());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn store_matches_model(ops in proptest::collection::vec(arb_op(), 1..60)) {
        run(ops)?;
    }
}

#[test]
fn stale_versions_are_refused_after_many_writes() {
    let ops = (0..20)
        .flat_map(|i| {
            [
                Op::Update {
                    name: 0,
                    value: (i % 5) as u8,
                    agent: 0,
                    version: VersionChoice::Current,
                },
                Op::Update {
                    name: 0,
                    value: 1,
                    agent: 1,
                    version: VersionChoice::Off {
                        back: true,
                        n: (i % 3) as u8,
                    },
                },
            ]
        })
        .collect::<Vec<_>>();
    let mut all = vec![
        Op::Create {
            name: 0,
            value: 0,
            policy: 1,
        },
        Op::Subscribe { name: 0, agent: 2 },
    ];
    all.extend(ops);
    assert!(run(all).is_ok());
}
