//! Stress test: one writer thread per shard churns agents (register, transitions, checked
//! updates in place and with a new spec, deregister) while reader threads hammer `get`,
//! `with`, `get_ref`, `status`, `status_ref` and `list`. Readers must never see a torn
//! record or status (every record carries checksums across its status words), a record
//! under another agent's id, or another registration through a stale handle.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;

use mabeam_engine::registry::{
    AgentFilter, AgentRef, AgentSpec, AgentState, AgentStatus, AgentView, Health, Registry,
    ShardWriter,
};

const SHARDS: usize = 2;
const IDS: usize = 64;
const MAX: usize = 40; // below IDS, so writers also hit the capacity limit
const WRITES_PER_SHARD: u64 = 100_000;

fn id(n: usize) -> String {
    format!("agent-{n:03}")
}

/// The kind encodes the id, so a spec shown under another id is caught.
fn kind_for(id: &str) -> String {
    format!("kind-{id}")
}

/// `failures` is always a function of `restarts` and the id (0 for a fresh record), so a
/// record mixing two versions (or two agents) fails the check.
fn checksum(id: &str, restarts: u32) -> u32 {
    let salt = id
        .bytes()
        .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    restarts.wrapping_mul(2_654_435_761) ^ salt.wrapping_mul(restarts)
}

/// `health` too follows `restarts` (and sits in another status word than the counters).
fn health_for(restarts: u32) -> Health {
    match restarts {
        0 => Health::Unknown,
        n => Health::ALL[n as usize % Health::ALL.len()],
    }
}

fn check(rec: &AgentView<'_>) {
    let id = rec.id();
    assert_eq!(
        rec.health,
        health_for(rec.restarts),
        "torn status words for {id}"
    );
    if let Some(rev) = rec.spec.metadata.get("rev") {
        assert_eq!(
            rev,
            &rec.spec.config["rev"].to_string(),
            "torn spec for {id}"
        );
    }
    assert_eq!(rec.kind(), kind_for(id), "spec of another agent under {id}");
    assert_eq!(
        rec.failures,
        checksum(id, rec.restarts),
        "torn record for {id}"
    );
    assert_eq!(
        rec.spec.config["id"].as_str(),
        Some(id),
        "config of another agent under {id}"
    );
    assert!(
        rec.agent_ref.generation >= 1,
        "generation 0 is never issued"
    );
}

fn check_status(id: &str, status: &AgentStatus) {
    assert_eq!(
        status.failures,
        checksum(id, status.restarts),
        "torn status for {id}"
    );
    assert_eq!(
        status.health,
        health_for(status.restarts),
        "torn status words for {id}"
    );
    assert!(status.agent_ref.generation >= 1);
}

fn writer_loop(mut w: ShardWriter, ids: Vec<String>, seed: u64) -> u64 {
    let mut x = seed | 1;
    let mut done = 0;
    let mut refused = 0u64;
    while done < WRITES_PER_SHARD {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let key = &ids[(x % ids.len() as u64) as usize];
        let present = w.registry().contains(key);
        if !present {
            let mut spec = AgentSpec::new(key.as_str(), kind_for(key));
            spec.config = serde_json::json!({ "id": key });
            if let Err(e) = w.register(spec, done) {
                assert_eq!(e.code(), "capacity", "{e}");
                refused += 1;
            }
        } else {
            match x % 5 {
                0 => {
                    w.deregister(key).unwrap();
                }
                1 => {
                    let state = w.registry().with(key, |r| r.state).unwrap();
                    if let Some(&to) = state.successors().first() {
                        w.transition(key, to, done).unwrap();
                    }
                }
                2 => {
                    // A new spec: the entry is republished, status carried over.
                    w.update(key, |r| {
                        let rev = r.spec.config["rev"].as_u64().unwrap_or(0) + 1;
                        let spec = Arc::make_mut(&mut r.spec);
                        spec.config["rev"] = serde_json::json!(rev);
                        spec.metadata.insert("rev".into(), rev.to_string());
                    })
                    .unwrap();
                }
                _ => {
                    // Status only: published in place.
                    w.update(key, |r| {
                        r.restarts = r.restarts.wrapping_add(1);
                        r.failures = checksum(r.id(), r.restarts);
                        r.health = health_for(r.restarts);
                    })
                    .unwrap();
                }
            }
        }
        done += 1;
    }
    w.flush();
    refused
}

#[test]
fn readers_never_see_torn_or_foreign_records() {
    let (registry, writers) = Registry::new(SHARDS, MAX).unwrap();
    let mut by_shard: Vec<Vec<String>> = vec![Vec::new(); SHARDS];
    for n in 0..IDS {
        let key = id(n);
        by_shard[registry.shard_of(&key)].push(key);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..2)
        .map(|t| {
            let registry = registry.clone();
            let stop = stop.clone();
            let reads = reads.clone();
            thread::spawn(move || {
                let mut seen: Vec<(AgentRef, String)> = Vec::new();
                let mut n = t;
                while !stop.load(Ordering::Relaxed) {
                    n = (n + 7) % IDS;
                    let key = id(n);
                    if let Some(rec) = registry.get(&key) {
                        assert_eq!(rec.id(), key);
                        check(&rec.view());
                        if seen.len() < 256 {
                            seen.push((rec.agent_ref, key.clone()));
                        }
                    }
                    registry.with(&key, |rec| {
                        assert_eq!(rec.id(), key);
                        check(rec);
                    });
                    if let Some(status) = registry.status(&key) {
                        check_status(&key, &status);
                        if seen.len() < 256 {
                            seen.push((status.agent_ref, key.clone()));
                        }
                    }
                    for (r, owner) in seen.iter().skip(n % 8).step_by(8) {
                        if let Some(rec) = registry.get_ref(*r) {
                            assert_eq!(rec.id(), owner, "handle {r} reached another agent");
                            assert_eq!(rec.agent_ref, *r);
                            check(&rec.view());
                        }
                        if let Some(status) = registry.status_ref(*r) {
                            assert_eq!(status.agent_ref, *r, "handle {r} reached another");
                            check_status(owner, &status);
                        }
                    }
                    if n == 0 {
                        let list = registry.list(&AgentFilter::default());
                        // A scan, not a snapshot: it may exceed MAX when one shard frees
                        // while the other registers ahead of it; each id still shows once.
                        assert!(list.windows(2).all(|w| w[0].id() < w[1].id()));
                        list.iter().for_each(|rec| check(&rec.view()));
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let writer_threads: Vec<_> = writers
        .into_iter()
        .zip(by_shard)
        .enumerate()
        .map(|(i, (w, ids))| thread::spawn(move || writer_loop(w, ids, 0x9E37_79B9 + i as u64)))
        .collect();
    let refused: u64 = writer_threads.into_iter().map(|h| h.join().unwrap()).sum();
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    assert!(reads.load(Ordering::Relaxed) > 100, "readers barely ran");
    assert!(refused > 0, "the capacity limit was never reached");
    assert!(registry.count() <= MAX);
    // Everything still registered is consistent and reachable by id and by handle.
    for rec in registry.list(&AgentFilter::default()) {
        check(&rec.view());
        assert_eq!(
            registry.get_ref(rec.agent_ref).map(|r| r.id().to_owned()),
            Some(rec.id().to_owned())
        );
        assert_eq!(registry.status(rec.id()), Some(AgentStatus::of(&rec)));
        assert_eq!(
            registry.status_ref(rec.agent_ref),
            Some(AgentStatus::of(&rec))
        );
        assert!(matches!(
            rec.state,
            AgentState::Registered
                | AgentState::Starting
                | AgentState::Running
                | AgentState::Stopping
                | AgentState::Stopped
        ));
    }
    // With every writer idle and flushed, retired records drain.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while registry.retired_backlog() != 0 && std::time::Instant::now() < deadline {
        mabeam_engine::sync::epoch::pin().flush();
        thread::yield_now();
    }
    assert_eq!(registry.retired_backlog(), 0, "retired records never freed");
}
