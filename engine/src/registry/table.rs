//! The shared, read-only side of the registry: [`Registry`].

use std::sync::Arc;

use super::entry::Entry;
use super::error::RegistryError;
use super::id::{hash_id, shard_for_hash};
use super::record::{
    AgentFilter, AgentRecord, AgentRef, AgentStatus, AgentView, SHARDS_MAX, SLOTS_MAX,
};
use super::writer::ShardWriter;
use crate::sync::epoch::{Backlog, Guard, pin};
use crate::sync::index::{KeyedSlots, SlotsWriter};
use crate::sync::primitive::{AtomicUsize, CachePadded, Ordering};
use crate::sync::status::{Probe, StatusTable, StatusWriter};

/// One shard's published state: written only by its [`ShardWriter`], read by anyone.
pub(crate) struct Shard {
    /// Preallocated slots, each holding the current record of one agent or nothing, and
    /// the id hash index whose buckets point at the records.
    pub(crate) table: KeyedSlots<Entry>,
    /// The status words of each slot's agent and an index to them, read without pinning.
    pub(crate) status: StatusTable,
    /// Agents published in this shard.
    pub(crate) live: CachePadded<AtomicUsize>,
    /// Slots at or beyond this index have never been used (bounds `list` scans).
    pub(crate) high_water: CachePadded<AtomicUsize>,
    /// Records and index tables this shard retired and that are not freed yet (one gauge
    /// per shard, so writers on different cores do not share a counter).
    pub(crate) backlog: Backlog,
}

impl Shard {
    /// The record of `id` (whose hash is `hash`), if it is in this shard.
    #[inline]
    pub(crate) fn find<'g>(
        &'g self,
        id: &str,
        hash: u64,
        guard: &'g Guard,
    ) -> Option<(u32, &'g Entry)> {
        self.table.find(hash, guard, |entry| entry.is(id, hash))
    }
}

pub(crate) struct Inner {
    pub(crate) shards: Box<[Shard]>,
    /// Agents registered or being registered, all shards (the capacity reservation).
    pub(crate) reserved: CachePadded<AtomicUsize>,
    pub(crate) max_agents: usize,
}

/// The agent registry, as seen by readers: a cheap handle (`Clone + Send + Sync`) that any
/// thread may use to look agents up. Lookups and listings take no lock and never block;
/// each shard is written only by its [`ShardWriter`].
#[derive(Clone)]
pub struct Registry {
    pub(crate) inner: Arc<Inner>,
}

impl Registry {
    /// A registry of `shards` shards holding at most `max_agents` agents in total, and its
    /// writers (one per shard, in shard order; hand each to the thread that owns it).
    ///
    /// Every shard preallocates `max_agents` slots (a pointer each), so however the ids
    /// hash, registration is refused only at the total limit.
    pub fn new(
        shards: usize,
        max_agents: usize,
    ) -> Result<(Registry, Vec<ShardWriter>), RegistryError> {
        if shards == 0 || shards > SHARDS_MAX {
            return Err(RegistryError::InvalidConfig {
                reason: format!("{shards} shards asked for; use 1 to {SHARDS_MAX}"),
            });
        }
        if max_agents == 0 || max_agents > SLOTS_MAX {
            return Err(RegistryError::InvalidConfig {
                reason: format!("max_agents is {max_agents}; use 1 to {SLOTS_MAX}"),
            });
        }
        let per_shard = max_agents.div_ceil(shards);
        let mut slot_writers: Vec<(SlotsWriter, StatusWriter)> = Vec::with_capacity(shards);
        let shards_vec: Box<[Shard]> = (0..shards)
            .map(|_| {
                let backlog = Backlog::new();
                let (table, writer) = KeyedSlots::new(max_agents, per_shard, backlog.clone());
                let (status, status_writer) = StatusTable::new(max_agents, per_shard);
                slot_writers.push((writer, status_writer));
                Shard {
                    table,
                    status,
                    live: CachePadded::new(AtomicUsize::new(0)),
                    high_water: CachePadded::new(AtomicUsize::new(0)),
                    backlog,
                }
            })
            .collect();
        let registry = Registry {
            inner: Arc::new(Inner {
                shards: shards_vec,
                reserved: CachePadded::new(AtomicUsize::new(0)),
                max_agents,
            }),
        };
        let writers = slot_writers
            .into_iter()
            .enumerate()
            .map(|(shard, (slots, status))| {
                ShardWriter::new(registry.clone(), shard, slots, status)
            })
            .collect();
        Ok((registry, writers))
    }

    /// The number of shards.
    pub fn shards(&self) -> usize {
        self.inner.shards.len()
    }

    /// The total agent limit.
    pub fn max_agents(&self) -> usize {
        self.inner.max_agents
    }

    /// The shard that owns `id`: [`super::shard_of`]`(id, self.shards())`. Route every
    /// write for `id` to that shard's writer.
    pub fn shard_of(&self, id: &str) -> usize {
        shard_for_hash(hash_id(id), self.shards())
    }

    #[inline]
    fn find<'g>(&'g self, id: &str, guard: &'g Guard) -> Option<&'g Entry> {
        let hash = hash_id(id);
        let shard = &self.inner.shards[shard_for_hash(hash, self.inner.shards.len())];
        shard.find(id, hash, guard).map(|(_, entry)| entry)
    }

    #[inline]
    fn find_ref<'g>(&'g self, agent_ref: AgentRef, guard: &'g Guard) -> Option<&'g Entry> {
        let shard = self.inner.shards.get(usize::from(agent_ref.shard))?;
        let entry = shard.table.get(agent_ref.slot, guard)?;
        (entry.agent_ref == agent_ref).then_some(entry)
    }

    /// A copy of the agent's record (cheap: the spec is shared).
    pub fn get(&self, id: &str) -> Option<AgentRecord> {
        self.with(id, |v| v.to_record())
    }

    /// Runs `f` on the agent as it is now, without copying the spec or allocating. The
    /// view is one write's worth of status (never a mix of two).
    /// Keep `f` short: memory retired meanwhile is not freed until it returns.
    #[inline]
    pub fn with<R>(&self, id: &str, f: impl FnOnce(&AgentView<'_>) -> R) -> Option<R> {
        let guard = pin();
        self.find(id, &guard).map(|entry| entry.view(f))
    }

    /// A copy of the record this handle was issued for, or `None` if that registration is
    /// gone (even if the slot now holds another agent).
    pub fn get_ref(&self, agent_ref: AgentRef) -> Option<AgentRecord> {
        self.with_ref(agent_ref, |v| v.to_record())
    }

    /// [`Registry::with`] by handle; `None` for a stale handle.
    #[inline]
    pub fn with_ref<R>(
        &self,
        agent_ref: AgentRef,
        f: impl FnOnce(&AgentView<'_>) -> R,
    ) -> Option<R> {
        let guard = pin();
        self.find_ref(agent_ref, &guard).map(|entry| entry.view(f))
    }

    /// The agent's live status (handle, state, health, counters): the cheapest lookup by
    /// id. It takes no lock, does not pin the epoch collector and never waits: it reads a
    /// compact mirror of the record under sequence counters, and only if a write is in
    /// progress right there (or the id is longer than 40 bytes) does it read the record
    /// instead.
    #[inline]
    pub fn status(&self, id: &str) -> Option<AgentStatus> {
        let hash = hash_id(id);
        let index = shard_for_hash(hash, self.inner.shards.len());
        let shard = &self.inner.shards[index];
        match shard.status.find(hash, id.as_bytes()) {
            // In range: there are at most SHARDS_MAX (1024) shards.
            Probe::Hit { slot, status } => Some(AgentStatus::unpack(index as u16, slot, status)),
            Probe::Miss => None,
            Probe::Busy => self.with(id, |v| v.status()),
        }
    }

    /// [`Registry::status`] by handle; `None` for a stale handle.
    #[inline]
    pub fn status_ref(&self, agent_ref: AgentRef) -> Option<AgentStatus> {
        let shard = self.inner.shards.get(usize::from(agent_ref.shard))?;
        match shard.status.get(agent_ref.slot) {
            Probe::Hit { slot, status } => Some(AgentStatus::unpack(agent_ref.shard, slot, status))
                .filter(|s| s.agent_ref == agent_ref),
            Probe::Miss => None,
            Probe::Busy => self.with_ref(agent_ref, |v| v.status()),
        }
    }

    /// The handle of the agent's current registration.
    pub fn resolve(&self, id: &str) -> Option<AgentRef> {
        self.status(id).map(|s| s.agent_ref)
    }

    /// Whether an agent with this id is registered.
    pub fn contains(&self, id: &str) -> bool {
        self.status(id).is_some()
    }

    /// The records that pass `filter`, sorted by id, each id once. Each record is
    /// consistent; the list is a scan, not a snapshot: agents registered or removed
    /// meanwhile may or may not appear.
    pub fn list(&self, filter: &AgentFilter) -> Vec<AgentRecord> {
        let guard = pin();
        let mut out = Vec::new();
        for shard in self.inner.shards.iter() {
            let used = shard
                .high_water
                .load(Ordering::Acquire)
                .min(shard.table.capacity());
            for slot in 0..used {
                // In range: `used` is at most the capacity, below SLOTS_MAX.
                if let Some(rec) = shard
                    .table
                    .get(slot as u32, &guard)
                    .and_then(|entry| entry.view(|v| v.matches(filter).then(|| v.to_record())))
                {
                    out.push(rec);
                }
            }
        }
        out.sort_by(|a, b| a.spec.id.cmp(&b.spec.id));
        // An agent deregistered and registered again during the scan can show up twice
        // (old slot, new slot); keep its current registration (or the first seen).
        if out.windows(2).any(|w| w[0].spec.id == w[1].spec.id) {
            let mut deduped: Vec<AgentRecord> = Vec::with_capacity(out.len());
            for rec in out {
                match deduped.last_mut() {
                    Some(last) if last.spec.id == rec.spec.id => {
                        if self.find(&rec.spec.id, &guard).map(|cur| cur.agent_ref)
                            == Some(rec.agent_ref)
                        {
                            *last = rec;
                        }
                    }
                    _ => deduped.push(rec),
                }
            }
            out = deduped;
        }
        out
    }

    /// Agents registered now (all shards).
    pub fn count(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|s| s.live.load(Ordering::Acquire))
            .sum()
    }

    /// Records (and index tables) retired by writers but not yet freed. It rises with
    /// write traffic and must drain when writers go idle and flush.
    pub fn retired_backlog(&self) -> usize {
        self.inner.shards.iter().map(|s| s.backlog.get()).sum()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("shards", &self.shards())
            .field("max_agents", &self.max_agents())
            .field("count", &self.count())
            .finish()
    }
}
