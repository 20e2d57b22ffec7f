//! What a slot publishes: the record plus an inline copy of its key, so that a lookup by
//! id compares against memory it has already fetched instead of chasing the spec's `Arc`
//! and the id's heap buffer (two dependent cache misses per probe).

use super::record::AgentRecord;

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

/// A published slot value. `repr(C)` keeps the key first, in the record's first line.
#[repr(C)]
pub(crate) struct Entry {
    pub(crate) key: InlineKey,
    pub(crate) record: AgentRecord,
}

impl Entry {
    pub(crate) fn new(key: InlineKey, record: AgentRecord) -> Box<Self> {
        Box::new(Self { key, record })
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
        self.key.len == u8::MAX && id.len() > INLINE_LEN && self.record.spec.id == id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{AgentRef, AgentSpec, hash_id};
    use std::sync::Arc;

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
