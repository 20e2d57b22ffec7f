//! What a slot publishes: an agent's fixed fields, an inline copy of its key (so that a
//! lookup by id compares against memory it has already fetched instead of chasing the
//! spec's `Arc` and the id's heap buffer), and its live status in a [`Latch`], which the
//! shard's writer updates in place.

use std::sync::Arc;

use super::record::{AgentRecord, AgentRef, AgentStatus, AgentView};
use super::spec::AgentSpec;
use crate::sync::latch::Latch;

/// Ids this long or shorter are compared inline; longer ones fall back to the spec's id.
const INLINE_LEN: usize = 23;

/// The id's full hash and, for short ids, its bytes.
#[derive(Clone, Copy)]
pub(crate) struct InlineKey {
    hash: u64,
    len: u8,
    bytes: [u8; INLINE_LEN],
}

impl InlineKey {
    pub(crate) fn new(id: &str, hash: u64) -> Self {
        let mut bytes = [0u8; INLINE_LEN];
        let len = if id.len() <= INLINE_LEN {
            bytes[..id.len()].copy_from_slice(id.as_bytes());
            id.len() as u8
        } else {
            u8::MAX
        };
        Self { hash, len, bytes }
    }
}

/// A published slot value. `repr(C)` keeps the key and the current copy of the live words
/// in the entry's first cache line.
///
/// What changes in place (state, health, counters, `updated_at_ms`) lives in `live`:
/// the shard's writer publishes a status change with one latch write, allocating and
/// retiring nothing. A new spec needs a new entry (`ShardWriter::update`).
#[repr(C)]
pub(crate) struct Entry {
    pub(crate) key: InlineKey,
    /// [`AgentStatus::pack`]'s two words, then `updated_at_ms`.
    live: Latch<3>,
    pub(crate) spec: Arc<AgentSpec>,
    pub(crate) agent_ref: AgentRef,
    registered_at_ms: u64,
}

impl Entry {
    pub(crate) fn new(key: InlineKey, record: AgentRecord) -> Box<Self> {
        let [a, b] = AgentStatus::of(&record).pack();
        Box::new(Self {
            key,
            live: Latch::new([a, b, record.updated_at_ms]),
            spec: record.spec,
            agent_ref: record.agent_ref,
            registered_at_ms: record.registered_at_ms,
        })
    }

    /// Whether this entry is the agent `id` (whose hash is `hash`).
    #[inline]
    pub(crate) fn is(&self, id: &str, hash: u64) -> bool {
        if self.key.hash != hash {
            return false;
        }
        if usize::from(self.key.len) == id.len() {
            return self.key.bytes[..id.len()] == *id.as_bytes();
        }
        self.key.len == u8::MAX && id.len() > INLINE_LEN && self.spec.id == id
    }

    /// Whether this entry's id hashes to `hash` (a cheap check of a slot found by id).
    #[inline]
    pub(crate) fn has_hash(&self, hash: u64) -> bool {
        self.key.hash == hash
    }

    /// The live status and `updated_at_ms`, from one write.
    #[inline]
    pub(crate) fn live(&self) -> (AgentStatus, u64) {
        let [a, b, updated_at_ms] = self.live.read();
        let r = self.agent_ref;
        (AgentStatus::unpack(r.shard, r.slot, [a, b]), updated_at_ms)
    }

    /// Runs `f` on the agent as it is now, without copying the spec.
    #[inline]
    pub(crate) fn view<R>(&self, f: impl FnOnce(&AgentView<'_>) -> R) -> R {
        let (status, updated_at_ms) = self.live();
        f(&AgentView {
            spec: &self.spec,
            agent_ref: self.agent_ref,
            state: status.state,
            health: status.health,
            restarts: status.restarts,
            failures: status.failures,
            registered_at_ms: self.registered_at_ms,
            updated_at_ms,
        })
    }

    /// An owned copy of the agent as it is now (clones the spec's `Arc`).
    pub(crate) fn record(&self) -> AgentRecord {
        self.view(|v| v.to_record())
    }

    /// Publishes a new live status (its handle must be this entry's) and returns the
    /// status words for the shard's mirror. Only the shard's writer calls it.
    pub(crate) fn publish(&self, status: &AgentStatus, updated_at_ms: u64) -> [u64; 2] {
        debug_assert_eq!(status.agent_ref, self.agent_ref);
        let [a, b] = status.pack();
        self.live.write([a, b, updated_at_ms]);
        [a, b]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{AgentRef, AgentSpec, hash_id};

    fn entry(id: &str) -> Box<Entry> {
        let rec = AgentRecord::new(
            Arc::new(AgentSpec::new(id, "k")),
            AgentRef {
                shard: 0,
                slot: 0,
                generation: 1,
            },
            0,
        );
        Entry::new(InlineKey::new(id, hash_id(id)), rec)
    }

    #[test]
    fn live_status_is_published_in_place() {
        let e = entry("a1");
        let (mut status, updated) = e.live();
        assert_eq!(updated, 0);
        assert_eq!(status.restarts, 0);
        status.restarts = 3;
        status.health = crate::registry::Health::Degraded;
        e.publish(&status, 7);
        let rec = e.record();
        assert_eq!(
            (rec.restarts, rec.health, rec.updated_at_ms),
            (3, crate::registry::Health::Degraded, 7)
        );
        assert_eq!(AgentStatus::of(&rec), status);
        assert_eq!(
            e.view(|v| (v.id().to_owned(), v.restarts)),
            ("a1".into(), 3)
        );
    }

    #[test]
    fn key_and_quiet_live_words_share_the_first_line() {
        // The key, the latch's sequence and its copy 0 (three words): what a lookup by id
        // and a quiet `live()` read touch, in one 64-byte line of the entry.
        assert!(std::mem::offset_of!(Entry, live) + 4 * 8 <= 64);
        assert_eq!(std::mem::offset_of!(Entry, key), 0);
    }

    #[test]
    fn short_and_long_ids_match_exactly() {
        let long = "x".repeat(100);
        for id in [
            "a",
            "agent-000001",
            "exactly-23-characters-x",
            long.as_str(),
        ] {
            let e = entry(id);
            assert!(e.is(id, hash_id(id)), "{id}");
            assert!(!e.is("other", hash_id("other")));
            // Same hash, other id: still refused.
            assert!(!e.is("other", hash_id(id)));
            assert!(!e.is(&format!("{id}y"), hash_id(id)));
        }
        assert!(!entry(&long).is(&"x".repeat(99), hash_id(&long)));
    }
}
