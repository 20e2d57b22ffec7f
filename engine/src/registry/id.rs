//! Agent ids and names: validation, the stable hash and the shard an id belongs to.
//!
//! An id (and any name: kinds, capabilities, metadata keys) is 1 to 128 characters of
//! `[A-Za-z0-9_.:-]`.
//!
//! The hash is part of the engine's contract: the runtime routes commands to the owning
//! worker by [`shard_of`], and a cluster proxy may do the same, so it must not change
//! between builds, platforms or runs. It reads the id's bytes as little-endian 64-bit words
//! (the last one zero-padded), folds each in with `h = (rotl(h, 23) ^ word) * K` starting
//! from `len * K ^ S`, and finishes with the 64-bit MurmurHash3 finaliser (`K`, `S` below).
//! The shard is taken from the high 32 bits by multiply-shift; the name index uses the low
//! bits, so the two never correlate.

use super::error::RegistryError;

/// Longest id or name, in bytes (every allowed character is one byte).
pub const NAME_LEN_MAX: usize = 128;

const K: u64 = 0x9E37_79B9_7F4A_7C15;
const S: u64 = 0x243F_6A88_85A3_08D3;

/// Whether `c` may appear in an id or name.
fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'-')
}

/// Whether `name` is 1-128 characters of `[A-Za-z0-9_.:-]`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= NAME_LEN_MAX && name.bytes().all(is_name_char)
}

/// Checks an agent id, saying what is wrong.
pub fn validate_id(id: &str) -> Result<(), RegistryError> {
    check_name(id).map_err(|reason| RegistryError::InvalidId {
        id: truncate(id),
        reason,
    })
}

/// Checks a name (kind, capability, metadata key); the reason says what is wrong.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty; use 1-128 characters of [A-Za-z0-9_.:-]".into());
    }
    if name.len() > NAME_LEN_MAX {
        return Err(format!(
            "it is {} bytes long; the limit is {NAME_LEN_MAX}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !c.is_ascii() || !is_name_char(*c as u8))
    {
        return Err(format!(
            "it contains {c:?}; only [A-Za-z0-9_.:-] are allowed"
        ));
    }
    Ok(())
}

/// At most the first 128 characters of `s`, for error messages.
pub(crate) fn truncate(s: &str) -> String {
    s.chars().take(NAME_LEN_MAX).collect()
}

/// The stable 64-bit hash of an id (see the module docs).
#[inline]
pub fn hash_id(id: &str) -> u64 {
    let bytes = id.as_bytes();
    let mut h = (bytes.len() as u64).wrapping_mul(K) ^ S;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut word = [0u8; 8];
        word[..tail.len()].copy_from_slice(tail);
        h = (h.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    fmix64(h)
}

/// The shard (of `shards`) a hash belongs to; `shards` must be at least 1.
#[inline]
pub fn shard_for_hash(hash: u64, shards: usize) -> usize {
    (((hash >> 32) * shards as u64) >> 32) as usize
}

/// The shard (of `shards`) the id belongs to: `shard_for_hash(hash_id(id), shards)`.
pub fn shard_of(id: &str, shards: usize) -> usize {
    shard_for_hash(hash_id(id), shards)
}

fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_name("agent-1"));
        assert!(is_valid_name("a.b:c_d-E9"));
        assert!(is_valid_name(&"x".repeat(128)));
        assert!(!is_valid_name(&"x".repeat(129)));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("a b"));
        assert!(!is_valid_name("é"));
        assert!(validate_id("bad/id").is_err());
        let err = validate_id("bad/id").unwrap_err();
        assert_eq!(err.code(), "invalid_agent");
        assert!(err.to_string().contains("'/'"), "{err}");
    }

    #[test]
    fn hash_is_stable() {
        // Pinned values: changing them breaks routing across versions.
        assert_eq!(hash_id(""), fmix64(S));
        let a = hash_id("agent-000001");
        assert_eq!(a, hash_id("agent-000001"));
        assert_ne!(a, hash_id("agent-000002"));
        assert_ne!(hash_id("a"), hash_id("a\0"));
        assert_eq!(hash_id("agent-000001"), 0x2979_5018_a690_60ea);
    }

    #[test]
    fn shards_are_balanced_and_in_range() {
        for shards in [1usize, 2, 3, 7, 16] {
            let mut counts = vec![0usize; shards];
            for i in 0..10_000 {
                let s = shard_of(&format!("agent-{i}"), shards);
                assert!(s < shards);
                counts[s] += 1;
            }
            let expected = 10_000 / shards;
            for c in counts {
                assert!(
                    c > expected * 8 / 10 && c < expected * 12 / 10,
                    "{c} vs {expected}"
                );
            }
        }
    }
}
