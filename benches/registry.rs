//! Registry benchmarks, each beside its peers on the same workload in the same run:
//! `dashmap::DashMap`, `scc::HashMap`, `papaya::HashMap` and
//! `parking_lot::RwLock<std::collections::HashMap>`, all keyed by the same `String` ids and
//! holding the same `AgentRecord` values. Peers use their default hashers (std's
//! `RandomState`, SipHash, for all four); `{peer}_idhash` are the same
//! peers hashing with the registry's own id hash, to show how much of the difference is
//! the hash function.
//!
//! - `registry_lookup/{target}/{threads}`: 95% reads (read `state` and `restarts` of a
//!   random agent in place, no copy), 5% writes (bump `restarts` of an agent the thread
//!   owns; ours goes through the shard's `ShardWriter`). `ours` reads by id with
//!   `Registry::with` (borrow), `ours_get` with `Registry::get` (an owned copy: clones the
//!   spec's `Arc`, allocates nothing), `ours_by_ref` by `AgentRef`; `ours_status` with
//!   `Registry::status` (a copy of the status words, read without pinning) and
//!   `ours_status_ref` with `Registry::status_ref`.
//! - `registry_churn/{target}/{threads}`: one full lifecycle per iteration: register,
//!   starting, running, stopping, stopped, deregister.
//!
//! At 2 threads every thread runs `iters` operations at once, so a time per iteration is
//! the time for 2 operations in parallel. The machine is shared and noisy: compare targets
//! within one run and quote ratios.
//!
//! Every target allocates through the allocator the `mabeam` binary ships (jemalloc); the
//! allocator moves the ratios (the peers' `String` keys and in-place records suffer more
//! from glibc's chunk headers than our inline keys do), so compare both:
//!
//! `cargo bench --bench registry -- --warm-up-time 1 --measurement-time 3`
//! `cargo bench --bench registry --no-default-features -- registry_lookup` (system allocator)

#[cfg(all(
    feature = "jemalloc",
    not(feature = "mimalloc"),
    not(feature = "system")
))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(all(feature = "mimalloc", not(feature = "system")))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mabeam_engine::registry::{
    AgentRecord, AgentRef, AgentSpec, AgentState, Registry, ShardWriter, hash_bytes, shard_of,
};
use parking_lot::RwLock;

const AGENTS: usize = 10_000;
const CHURN_KEYS: usize = 1_024;
const OPS: usize = 1 << 16;
const WRITE_PERCENT: u64 = 5;

fn agent_id(n: usize) -> String {
    format!("agent-{n:06}")
}

fn record(id: &str, n: usize) -> AgentRecord {
    AgentRecord::new(
        Arc::new(AgentSpec::new(id, "worker").with_capability("bench")),
        AgentRef {
            shard: 0,
            slot: n as u32,
            generation: 1,
        },
        0,
    )
}

/// A `Hasher` running the registry's id hash over the key bytes (a `str` key writes its
/// bytes, then a 0xff terminator byte).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = self.0.rotate_left(17) ^ hash_bytes(bytes);
    }
    fn write_u8(&mut self, byte: u8) {
        self.0 = self.0.rotate_left(5) ^ u64::from(byte);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type IdHash = BuildHasherDefault<IdHasher>;

/// One thread's precomputed operations: (key index, is_write). Reads pick any agent,
/// writes pick one the thread owns.
fn ops_for(thread: usize, threads: usize, ids: &[String]) -> Vec<(usize, bool)> {
    let owned: Vec<usize> = (0..ids.len())
        .filter(|&i| shard_of(&ids[i], threads) == thread)
        .collect();
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (thread as u64 + 1);
    (0..OPS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 100 < WRITE_PERCENT {
                (owned[(x >> 8) as usize % owned.len()], true)
            } else {
                ((x >> 8) as usize % ids.len(), false)
            }
        })
        .collect()
}

/// A map under test. `W` is the per-thread write capability (our `ShardWriter`).
trait Target: Sync {
    type W: Send;
    fn read(&self, id: &str, n: usize) -> u32;
    fn write(&self, w: &mut Self::W, id: &str);
    fn churn(&self, w: &mut Self::W, id: &str, n: usize);
}

/// How `Ours` reads.
#[derive(Clone, Copy)]
enum Read {
    /// `Registry::with(id)`.
    With,
    /// `Registry::get(id)`: an owned copy.
    Get,
    /// `Registry::with_ref(handle)`.
    ByRef,
    /// `Registry::status(id)`: the pin-free status copy.
    Status,
    /// `Registry::status_ref(handle)`.
    StatusRef,
}

struct Ours {
    registry: Registry,
    refs: Vec<AgentRef>,
    read: Read,
}

impl Target for Ours {
    type W = ShardWriter;
    #[inline]
    fn read(&self, id: &str, n: usize) -> u32 {
        match self.read {
            Read::With => self
                .registry
                .with(id, |r| r.restarts + r.state as u32)
                .unwrap_or(0),
            Read::Get => self
                .registry
                .get(id)
                .map_or(0, |r| r.restarts + r.state as u32),
            Read::ByRef => self
                .registry
                .with_ref(self.refs[n], |r| r.restarts + r.state as u32)
                .unwrap_or(0),
            Read::Status => self
                .registry
                .status(id)
                .map_or(0, |s| s.restarts + s.state as u32),
            Read::StatusRef => self
                .registry
                .status_ref(self.refs[n])
                .map_or(0, |s| s.restarts + s.state as u32),
        }
    }
    fn write(&self, w: &mut ShardWriter, id: &str) {
        w.record_restart(id, 1).unwrap();
    }
    fn churn(&self, w: &mut ShardWriter, id: &str, _n: usize) {
        w.register(AgentSpec::new(id, "worker").with_capability("bench"), 0)
            .unwrap();
        for to in [
            AgentState::Starting,
            AgentState::Running,
            AgentState::Stopping,
            AgentState::Stopped,
        ] {
            w.transition(id, to, 1).unwrap();
        }
        w.deregister(id).unwrap();
    }
}

const LIFECYCLE: [AgentState; 4] = [
    AgentState::Starting,
    AgentState::Running,
    AgentState::Stopping,
    AgentState::Stopped,
];

struct Dash<S = std::hash::RandomState>(dashmap::DashMap<String, AgentRecord, S>);
impl<S: std::hash::BuildHasher + Clone + Send + Sync> Target for Dash<S> {
    type W = ();
    #[inline]
    fn read(&self, id: &str, _: usize) -> u32 {
        self.0.get(id).map_or(0, |r| r.restarts + r.state as u32)
    }
    fn write(&self, _: &mut (), id: &str) {
        if let Some(mut r) = self.0.get_mut(id) {
            r.restarts += 1;
        }
    }
    fn churn(&self, _: &mut (), id: &str, n: usize) {
        self.0.insert(id.to_owned(), record(id, n));
        for to in LIFECYCLE {
            if let Some(mut r) = self.0.get_mut(id) {
                r.state = to;
            }
        }
        self.0.remove(id);
    }
}

struct Scc<S: std::hash::BuildHasher = std::hash::RandomState>(
    scc::HashMap<String, AgentRecord, S>,
);
impl<S: std::hash::BuildHasher + Send + Sync> Target for Scc<S> {
    type W = ();
    #[inline]
    fn read(&self, id: &str, _: usize) -> u32 {
        self.0
            .read_sync(id, |_, r| r.restarts + r.state as u32)
            .unwrap_or(0)
    }
    fn write(&self, _: &mut (), id: &str) {
        self.0.update_sync(id, |_, r| r.restarts += 1);
    }
    fn churn(&self, _: &mut (), id: &str, n: usize) {
        let _ = self.0.insert_sync(id.to_owned(), record(id, n));
        for to in LIFECYCLE {
            self.0.update_sync(id, |_, r| r.state = to);
        }
        self.0.remove_sync(id);
    }
}

struct Papaya<S = std::hash::RandomState>(papaya::HashMap<String, AgentRecord, S>);
impl<S: std::hash::BuildHasher + Send + Sync> Target for Papaya<S> {
    type W = ();
    #[inline]
    fn read(&self, id: &str, _: usize) -> u32 {
        self.0
            .pin()
            .get(id)
            .map_or(0, |r| r.restarts + r.state as u32)
    }
    fn write(&self, _: &mut (), id: &str) {
        self.0.pin().update(id.to_owned(), |r| {
            let mut r = r.clone();
            r.restarts += 1;
            r
        });
    }
    fn churn(&self, _: &mut (), id: &str, n: usize) {
        let m = self.0.pin();
        m.insert(id.to_owned(), record(id, n));
        for to in LIFECYCLE {
            m.update(id.to_owned(), |r| {
                let mut r = r.clone();
                r.state = to;
                r
            });
        }
        m.remove(id);
    }
}

struct Locked<S = std::hash::RandomState>(RwLock<HashMap<String, AgentRecord, S>>);
impl<S: std::hash::BuildHasher + Send + Sync> Target for Locked<S> {
    type W = ();
    #[inline]
    fn read(&self, id: &str, _: usize) -> u32 {
        self.0
            .read()
            .get(id)
            .map_or(0, |r| r.restarts + r.state as u32)
    }
    fn write(&self, _: &mut (), id: &str) {
        if let Some(r) = self.0.write().get_mut(id) {
            r.restarts += 1;
        }
    }
    fn churn(&self, _: &mut (), id: &str, n: usize) {
        self.0.write().insert(id.to_owned(), record(id, n));
        for to in LIFECYCLE {
            if let Some(r) = self.0.write().get_mut(id) {
                r.state = to;
            }
        }
        self.0.write().remove(id);
    }
}

/// Runs `body(thread, writer, iters)` on every thread at once and times the whole.
fn timed<T: Target>(
    writers: &mut [T::W],
    iters: u64,
    body: &(dyn Fn(usize, &mut T::W, u64) + Sync),
) -> Duration {
    if writers.len() == 1 {
        let start = Instant::now();
        body(0, &mut writers[0], iters);
        return start.elapsed();
    }
    let barrier = Barrier::new(writers.len() + 1);
    std::thread::scope(|s| {
        for (t, w) in writers.iter_mut().enumerate() {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                body(t, w, iters);
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

fn lookup_run<T: Target>(
    target: &T,
    writers: &mut [T::W],
    ids: &[String],
    ops: &[Vec<(usize, bool)>],
    iters: u64,
) -> Duration {
    timed::<T>(writers, iters, &|t, w, iters| {
        let ops = &ops[t];
        let mut acc = 0u32;
        for i in 0..iters as usize {
            let (k, write) = ops[i % OPS];
            if write {
                target.write(w, &ids[k]);
            } else {
                acc = acc.wrapping_add(target.read(&ids[k], k));
            }
        }
        black_box(acc);
    })
}

fn churn_run<T: Target>(
    target: &T,
    writers: &mut [T::W],
    keys: &[Vec<(usize, String)>],
    iters: u64,
) -> Duration {
    timed::<T>(writers, iters, &|t, w, iters| {
        let keys = &keys[t];
        for i in 0..iters as usize {
            let (n, id) = &keys[i % keys.len()];
            target.churn(w, id, *n);
        }
    })
}

type IdHashPeers = (Dash<IdHash>, Scc<IdHash>, Papaya<IdHash>, Locked<IdHash>);

fn idhash_peers(ids: &[String]) -> IdHashPeers {
    let dash = Dash(dashmap::DashMap::with_hasher(IdHash::default()));
    let scc_map = Scc(scc::HashMap::with_hasher(IdHash::default()));
    let pap = Papaya(papaya::HashMap::with_hasher(IdHash::default()));
    let mut plain = HashMap::with_hasher(IdHash::default());
    for (n, id) in ids.iter().enumerate() {
        dash.0.insert(id.clone(), record(id, n));
        let _ = scc_map.0.insert_sync(id.clone(), record(id, n));
        pap.0.pin().insert(id.clone(), record(id, n));
        plain.insert(id.clone(), record(id, n));
    }
    (dash, scc_map, pap, Locked(RwLock::new(plain)))
}

fn peers(ids: &[String]) -> (Dash, Scc, Papaya, Locked) {
    let dash = Dash(dashmap::DashMap::new());
    let scc_map = Scc(scc::HashMap::new());
    let pap = Papaya(papaya::HashMap::new());
    let mut plain = HashMap::new();
    for (n, id) in ids.iter().enumerate() {
        dash.0.insert(id.clone(), record(id, n));
        let _ = scc_map.0.insert_sync(id.clone(), record(id, n));
        pap.0.pin().insert(id.clone(), record(id, n));
        plain.insert(id.clone(), record(id, n));
    }
    (dash, scc_map, pap, Locked(RwLock::new(plain)))
}

fn ours(threads: usize, ids: &[String]) -> (Registry, Vec<ShardWriter>, Vec<AgentRef>) {
    let (registry, mut writers) =
        Registry::new(threads, AGENTS + CHURN_KEYS).expect("bench registry config");
    let refs = ids
        .iter()
        .map(|id| {
            writers[registry.shard_of(id)]
                .register(
                    AgentSpec::new(id.as_str(), "worker").with_capability("bench"),
                    0,
                )
                .expect("bench registration")
        })
        .collect();
    (registry, writers, refs)
}

fn bench_lookup(c: &mut Criterion) {
    let ids: Vec<String> = (0..AGENTS).map(agent_id).collect();
    let mut group = c.benchmark_group("registry_lookup");
    for threads in [1usize, 2] {
        let ops: Vec<_> = (0..threads).map(|t| ops_for(t, threads, &ids)).collect();
        let (registry, mut writers, refs) = ours(threads, &ids);
        let (dash, scc_map, pap, locked) = peers(&ids);
        let mut units = vec![(); threads];
        for (name, read) in [
            ("ours", Read::With),
            ("ours_get", Read::Get),
            ("ours_by_ref", Read::ByRef),
            ("ours_status", Read::Status),
            ("ours_status_ref", Read::StatusRef),
        ] {
            let target = Ours {
                registry: registry.clone(),
                refs: refs.clone(),
                read,
            };
            group.bench_function(BenchmarkId::new(name, threads), |b| {
                b.iter_custom(|iters| lookup_run(&target, &mut writers, &ids, &ops, iters))
            });
        }
        group.bench_function(BenchmarkId::new("dashmap", threads), |b| {
            b.iter_custom(|iters| lookup_run(&dash, &mut units, &ids, &ops, iters))
        });
        group.bench_function(BenchmarkId::new("scc", threads), |b| {
            b.iter_custom(|iters| lookup_run(&scc_map, &mut units, &ids, &ops, iters))
        });
        group.bench_function(BenchmarkId::new("papaya", threads), |b| {
            b.iter_custom(|iters| lookup_run(&pap, &mut units, &ids, &ops, iters))
        });
        group.bench_function(BenchmarkId::new("rwlock_hashmap", threads), |b| {
            b.iter_custom(|iters| lookup_run(&locked, &mut units, &ids, &ops, iters))
        });
        let (dash_fast, scc_fast, pap_fast, locked_fast) = idhash_peers(&ids);
        group.bench_function(BenchmarkId::new("dashmap_idhash", threads), |b| {
            b.iter_custom(|iters| lookup_run(&dash_fast, &mut units, &ids, &ops, iters))
        });
        group.bench_function(BenchmarkId::new("scc_idhash", threads), |b| {
            b.iter_custom(|iters| lookup_run(&scc_fast, &mut units, &ids, &ops, iters))
        });
        group.bench_function(BenchmarkId::new("papaya_idhash", threads), |b| {
            b.iter_custom(|iters| lookup_run(&pap_fast, &mut units, &ids, &ops, iters))
        });
        group.bench_function(BenchmarkId::new("rwlock_idhash", threads), |b| {
            b.iter_custom(|iters| lookup_run(&locked_fast, &mut units, &ids, &ops, iters))
        });
    }
    group.finish();
}

fn bench_churn(c: &mut Criterion) {
    let ids: Vec<String> = (0..AGENTS).map(agent_id).collect();
    let mut group = c.benchmark_group("registry_churn");
    for threads in [1usize, 2] {
        let mut keys: Vec<Vec<(usize, String)>> = vec![Vec::new(); threads];
        for n in 0..CHURN_KEYS {
            let id = format!("churn-{n:05}");
            keys[shard_of(&id, threads)].push((AGENTS + n, id));
        }
        let (registry, mut writers, refs) = ours(threads, &ids);
        let (dash, scc_map, pap, locked) = peers(&ids);
        let mut units = vec![(); threads];
        let target = Ours {
            registry,
            refs,
            read: Read::With,
        };
        group.bench_function(BenchmarkId::new("ours", threads), |b| {
            b.iter_custom(|iters| churn_run(&target, &mut writers, &keys, iters))
        });
        group.bench_function(BenchmarkId::new("dashmap", threads), |b| {
            b.iter_custom(|iters| churn_run(&dash, &mut units, &keys, iters))
        });
        group.bench_function(BenchmarkId::new("scc", threads), |b| {
            b.iter_custom(|iters| churn_run(&scc_map, &mut units, &keys, iters))
        });
        group.bench_function(BenchmarkId::new("papaya", threads), |b| {
            b.iter_custom(|iters| churn_run(&pap, &mut units, &keys, iters))
        });
        group.bench_function(BenchmarkId::new("rwlock_hashmap", threads), |b| {
            b.iter_custom(|iters| churn_run(&locked, &mut units, &keys, iters))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_lookup, bench_churn);
criterion_main!(benches);
