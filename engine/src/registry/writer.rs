//! The writing side of one shard: [`ShardWriter`].

use std::sync::Arc;

use super::entry::{Entry, InlineKey};
use super::error::RegistryError;
use super::id::{hash_id, shard_for_hash, truncate};
use super::record::{AgentRecord, AgentRef, AgentStatus, GENERATION_MAX};
use super::spec::AgentSpec;
use super::state::{AgentState, Health};
use super::table::{Registry, Shard};
use crate::sync::epoch::pin;
use crate::sync::index::SlotsWriter;
use crate::sync::primitive::Ordering;
use crate::sync::status::{Probe, StatusWriter};

/// The only writer of one shard. `Send` but not `Clone`: hand it to the worker thread
/// that owns the shard; every write takes `&mut self`, so writes to a shard are serialised
/// by construction. A status change (transition, health, counters) is published in place
/// through the entry's latch, then mirrored in the status table: readers see the old or
/// the new status, never a mix, and nothing is allocated or retired. Registering,
/// deregistering and a new spec publish or retire whole entries.
pub struct ShardWriter {
    registry: Registry,
    shard: usize,
    /// Generation last issued per slot ever used (index = slot).
    generations: Vec<u32>,
    /// Slots used before and free now (reused last-in first-out).
    free: Vec<u32>,
    /// The write capability of the shard's slots and index.
    slots: SlotsWriter,
    /// The write capability of the shard's status mirror.
    status: StatusWriter,
}

impl ShardWriter {
    pub(crate) fn new(
        registry: Registry,
        shard: usize,
        slots: SlotsWriter,
        status: StatusWriter,
    ) -> Self {
        let capacity = registry.inner.shards[shard].table.capacity();
        Self {
            registry,
            shard,
            generations: Vec::with_capacity(capacity),
            free: Vec::with_capacity(capacity),
            slots,
            status,
        }
    }

    /// The shard this writer owns.
    pub fn shard(&self) -> usize {
        self.shard
    }

    /// The registry this writer belongs to (for reads).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Agents registered in this shard.
    pub fn len(&self) -> usize {
        self.shard_ref().live.load(Ordering::Relaxed)
    }

    /// Whether this shard holds no agent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard_ref(&self) -> &Shard {
        &self.registry.inner.shards[self.shard]
    }

    /// The hash of `id`, or `WrongShard` if another shard owns it.
    fn owned_hash(&self, id: &str) -> Result<u64, RegistryError> {
        let hash = hash_id(id);
        let owner = shard_for_hash(hash, self.registry.shards());
        if owner != self.shard {
            return Err(RegistryError::WrongShard {
                id: truncate(id),
                shard: self.shard,
                owner,
            });
        }
        Ok(hash)
    }

    fn reserve(&self) -> Result<(), RegistryError> {
        let inner = &self.registry.inner;
        let mut current = inner.reserved.load(Ordering::Relaxed);
        loop {
            if current >= inner.max_agents {
                return Err(RegistryError::Capacity {
                    max: inner.max_agents,
                });
            }
            match inner.reserved.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(seen) => current = seen,
            }
        }
    }

    fn unreserve(&self) {
        self.registry.inner.reserved.fetch_sub(1, Ordering::AcqRel);
    }

    /// Registers an agent (state `registered`, health `unknown`) and returns its handle.
    ///
    /// Errors, in the order checked: `InvalidId`/`InvalidSpec`, `WrongShard` (the id
    /// belongs to another shard), `AlreadyExists`, `Capacity` (nothing else is disturbed).
    pub fn register(&mut self, spec: AgentSpec, now_ms: u64) -> Result<AgentRef, RegistryError> {
        spec.validate()?;
        let hash = self.owned_hash(&spec.id)?;
        let guard = pin();
        if self.shard_ref().find(&spec.id, hash, &guard).is_some() {
            return Err(RegistryError::AlreadyExists { id: spec.id });
        }
        self.reserve()?;
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None if self.generations.len() < self.shard_ref().table.capacity() => {
                self.generations.push(0);
                (self.generations.len() - 1) as u32
            }
            None => {
                // Unreachable while the reservation holds (every shard has max_agents
                // slots), but refuse rather than trust it.
                self.unreserve();
                return Err(RegistryError::Capacity {
                    max: self.registry.max_agents(),
                });
            }
        };
        let generation = match self.generations[slot as usize] {
            g if g >= GENERATION_MAX => 1,
            g => g + 1,
        };
        self.generations[slot as usize] = generation;
        let agent_ref = AgentRef {
            shard: self.shard as u16,
            slot,
            generation,
        };
        let key = InlineKey::new(&spec.id, hash);
        let record = AgentRecord::new(Arc::new(spec), agent_ref, now_ms);
        let status = AgentStatus::of(&record).pack();
        let spec = Arc::clone(&record.spec);
        let shard = &self.registry.inner.shards[self.shard];
        // Publishes the record in the slot, then the index entry that leads readers to it.
        if shard
            .table
            .insert(&mut self.slots, hash, slot, Entry::new(key, record), &guard)
            .is_err()
        {
            // Unreachable: the slot came from this writer's free list or was never used.
            self.free.push(slot);
            self.unreserve();
            return Err(RegistryError::Capacity {
                max: self.registry.max_agents(),
            });
        }
        // Then the status mirror (after the record, so it never leads it).
        let mirrored =
            shard
                .status
                .insert(&mut self.status, slot, hash, spec.id.as_bytes(), status);
        debug_assert!(mirrored, "status slot {slot} was not free");
        if shard.high_water.load(Ordering::Relaxed) <= slot as usize {
            shard.high_water.store(slot as usize + 1, Ordering::Release);
        }
        shard.live.fetch_add(1, Ordering::Release);
        Ok(agent_ref)
    }

    /// Removes an agent (in any state) and returns its last record. Its handle goes stale.
    pub fn deregister(&mut self, id: &str) -> Result<AgentRecord, RegistryError> {
        let hash = self.owned_hash(id)?;
        let guard = pin();
        let shard = &self.registry.inner.shards[self.shard];
        let Some((slot, _)) = shard.find(id, hash, &guard) else {
            return Err(RegistryError::NotFound { id: truncate(id) });
        };
        // Unlinks the index entry first, then empties the slot; then the status mirror.
        let old = shard
            .table
            .remove(&mut self.slots, hash, slot, &guard)
            .map(Entry::record);
        let unmirrored = shard.status.remove(&mut self.status, slot);
        debug_assert!(unmirrored, "status slot {slot} held no key");
        shard.live.fetch_sub(1, Ordering::Release);
        self.free.push(slot);
        self.unreserve();
        old.ok_or_else(|| RegistryError::NotFound { id: truncate(id) })
    }

    /// Moves an agent to `to` if its lifecycle allows it; returns the new record.
    pub fn transition(
        &mut self,
        id: &str,
        to: AgentState,
        now_ms: u64,
    ) -> Result<AgentRecord, RegistryError> {
        let ((), entry) = self.set_live(id, |entry, status, updated_at_ms| {
            if !status.state.can_transition_to(to) {
                return Err(RegistryError::InvalidTransition {
                    id: entry.spec.id.clone(),
                    from: status.state,
                    to,
                });
            }
            status.state = to;
            *updated_at_ms = now_ms;
            Ok(())
        })?;
        Ok(entry.record())
    }

    /// Sets the agent's health.
    pub fn set_health(&mut self, id: &str, health: Health) -> Result<(), RegistryError> {
        self.set_live(id, |_, status, _| {
            status.health = health;
            Ok(())
        })
        .map(|_| ())
    }

    /// Counts one failure (saturating); returns the failures counted so far.
    pub fn record_failure(&mut self, id: &str, now_ms: u64) -> Result<u32, RegistryError> {
        self.count_one(id, now_ms, |status| &mut status.failures)
    }

    /// Counts one restart (saturating); returns the restarts counted so far.
    pub fn record_restart(&mut self, id: &str, now_ms: u64) -> Result<u32, RegistryError> {
        self.count_one(id, now_ms, |status| &mut status.restarts)
    }

    /// Adds one (saturating) to the counter `field` picks; returns its new value.
    fn count_one(
        &mut self,
        id: &str,
        now_ms: u64,
        field: fn(&mut AgentStatus) -> &mut u32,
    ) -> Result<u32, RegistryError> {
        self.set_live(id, |_, status, updated_at_ms| {
            let counter = field(status);
            *counter = counter.saturating_add(1);
            *updated_at_ms = now_ms;
            Ok(*counter)
        })
        .map(|(count, _)| count)
    }

    /// Applies `f` to a copy of the agent's record and publishes the result.
    ///
    /// `f` may change the status fields and, through `Arc::make_mut(&mut rec.spec)`, the
    /// spec. It may not change the id, the handle or `registered_at_ms`, a state change
    /// must be an allowed transition, and a changed spec must still validate; otherwise
    /// nothing is published and the error says why. Status changes are published in
    /// place; a new spec publishes a new entry and retires the old one.
    pub fn update<R>(
        &mut self,
        id: &str,
        f: impl FnOnce(&mut AgentRecord) -> R,
    ) -> Result<R, RegistryError> {
        let hash = self.owned_hash(id)?;
        let shard = &self.registry.inner.shards[self.shard];
        let Some((slot, entry)) = locate(shard, &self.slots, id, hash) else {
            return Err(RegistryError::NotFound { id: truncate(id) });
        };
        let cur = entry.record();
        let mut next = cur.clone();
        let out = f(&mut next);
        check_update(&cur, &next)?;
        let status = AgentStatus::of(&next);
        let words = if Arc::ptr_eq(&next.spec, &cur.spec) {
            entry.publish(&status, next.updated_at_ms)
        } else {
            let guard = pin();
            let fresh = Entry::new(entry.key, next);
            if shard
                .table
                .replace(&mut self.slots, hash, slot, fresh, &guard)
                .is_err()
            {
                // Unreachable: `locate` just found (hash, slot) and this writer is the
                // only one.
                return Err(RegistryError::NotFound { id: truncate(id) });
            }
            status.pack()
        };
        let mirrored = shard.status.set(&mut self.status, slot, words);
        debug_assert!(mirrored, "status slot {slot} held no key");
        Ok(out)
    }

    /// Hands retired records to the collector so they can be freed; call it when the
    /// owning worker goes idle (the backlog gauge stays up otherwise).
    pub fn flush(&mut self) {
        pin().flush();
    }

    /// Publishes, in place, the live status `change` makes of the current one (given the
    /// entry, the status and `updated_at_ms`), then mirrors it; returns what `change`
    /// returns and the entry. Nothing is published if `change` fails. Allocates and
    /// retires nothing.
    fn set_live<R>(
        &mut self,
        id: &str,
        change: impl FnOnce(&Entry, &mut AgentStatus, &mut u64) -> Result<R, RegistryError>,
    ) -> Result<(R, &Entry), RegistryError> {
        let hash = self.owned_hash(id)?;
        let shard = &self.registry.inner.shards[self.shard];
        let Some((slot, entry)) = locate(shard, &self.slots, id, hash) else {
            return Err(RegistryError::NotFound { id: truncate(id) });
        };
        let (mut status, mut updated_at_ms) = entry.live();
        let out = change(entry, &mut status, &mut updated_at_ms)?;
        // The entry first, then the mirror (so the mirror never leads the record).
        let words = entry.publish(&status, updated_at_ms);
        let mirrored = shard.status.set(&mut self.status, slot, words);
        debug_assert!(mirrored, "status slot {slot} held no key");
        Ok((out, entry))
    }
}

/// The slot and entry of `id` (whose hash is `hash`) in `shard`, found by the shard's
/// writer without pinning: through the status mirror (one line), or through the index
/// for ids the mirror does not hold.
#[inline]
fn locate<'a>(
    shard: &'a Shard,
    slots: &'a SlotsWriter,
    id: &str,
    hash: u64,
) -> Option<(u32, &'a Entry)> {
    let slot = match shard.status.find(hash, id.as_bytes()) {
        Probe::Hit { slot, .. } => slot,
        // Exact: only this writer changes the mirror, and it is not writing now.
        Probe::Miss => return None,
        // An id too long for the mirror, or a shard past its share (not mirrored).
        Probe::Busy => shard.find(id, hash, &pin())?.0,
    };
    let entry = shard.table.get_owned(slots, slot)?;
    // The mirror and the index compared the whole id; the slot's entry is the agent's
    // because this writer keeps them in step (checked in full in debug builds, by hash
    // always).
    debug_assert!(entry.is(id, hash), "mirror slot {slot} is not {id}");
    entry.has_hash(hash).then_some((slot, entry))
}

fn check_update(cur: &AgentRecord, next: &AgentRecord) -> Result<(), RegistryError> {
    let fixed = |field: &str| RegistryError::InvalidSpec {
        field: field.to_owned(),
        reason: format!("an update cannot change the {field}; deregister and register again"),
    };
    if next.agent_ref != cur.agent_ref {
        return Err(fixed("ref"));
    }
    if next.registered_at_ms != cur.registered_at_ms {
        return Err(fixed("registered_at_ms"));
    }
    if !Arc::ptr_eq(&next.spec, &cur.spec) {
        if next.spec.id != cur.spec.id {
            return Err(fixed("id"));
        }
        next.spec.validate()?;
    }
    if next.state != cur.state && !cur.state.can_transition_to(next.state) {
        return Err(RegistryError::InvalidTransition {
            id: cur.spec.id.clone(),
            from: cur.state,
            to: next.state,
        });
    }
    Ok(())
}

impl Drop for ShardWriter {
    fn drop(&mut self) {
        pin().flush();
    }
}

impl std::fmt::Debug for ShardWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardWriter")
            .field("shard", &self.shard)
            .field("len", &self.len())
            .finish()
    }
}
