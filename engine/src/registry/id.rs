//! Agent ids and names: validation, the stable hash and the shard an id belongs to.
//!
//! An id (and any name: kinds, capabilities, metadata keys) is 1 to 128 characters of
//! `[A-Za-z0-9_.:-]`.
//!
//! The hash is part of the engine's contract: the runtime routes commands to the owning
//! worker by [`shard_of`], and a cluster proxy may do the same, so it must not change
//! between builds, platforms or runs. It is built on the folded multiply
//! `fold(a, b) = lo64(a * b) ^ hi64(a * b)` (128-bit product) with the constants `P0..P3`
//! below. The id's bytes are read as little-endian words: ids of 16 bytes or fewer as two
//! (possibly overlapping) words `a`, `b` (4-byte words for 4-7 bytes; the first, middle and
//! last byte for 1-3 bytes), longer ids as 16-byte blocks, the last one overlapping the end.
//! Each block folds in as `acc = fold(a ^ P1, b ^ acc)`, starting from
//! `acc = P0 ^ len * P2`; the result is `fold(acc ^ P3, len ^ P1)`. Short ids, the common
//! case, cost two multiplies. The shard is taken from the high 32 bits by multiply-shift;
//! the name index uses the low bits, so the two never correlate.

use super::error::RegistryError;

/// Longest id or name, in bytes (every allowed character is one byte).
pub const NAME_LEN_MAX: usize = 128;

const P0: u64 = 0x243F_6A88_85A3_08D3;
const P1: u64 = 0x9E37_79B9_7F4A_7C15;
const P2: u64 = 0xA409_3822_299F_31D0;
const P3: u64 = 0x082E_FA98_EC4E_6C89;

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
    hash_bytes(id.as_bytes())
}

/// [`hash_id`] over raw bytes (`hash_id(s) == hash_bytes(s.as_bytes())`).
#[inline]
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    let mut acc = P0 ^ (len as u64).wrapping_mul(P2);
    if len <= 16 {
        let (a, b) = if len >= 8 {
            (word8(bytes, 0), word8(bytes, len - 8))
        } else if len >= 4 {
            (word4(bytes, 0), word4(bytes, len - 4))
        } else if len > 0 {
            let v = u64::from(bytes[0]) << 16 | u64::from(bytes[len / 2]) << 8;
            (v | u64::from(bytes[len - 1]), 0)
        } else {
            (0, 0)
        };
        acc = fold(a ^ P1, b ^ acc);
    } else {
        acc = fold_blocks(bytes, acc);
    }
    fold(acc ^ P3, len as u64 ^ P1)
}

/// The block loop of [`hash_bytes`] for ids over 16 bytes, out of line so that the short
/// path inlines into lookups.
#[inline(never)]
fn fold_blocks(bytes: &[u8], mut acc: u64) -> u64 {
    let len = bytes.len();
    let mut at = 0;
    while at + 16 < len {
        acc = fold(word8(bytes, at) ^ P1, word8(bytes, at + 8) ^ acc);
        at += 16;
    }
    fold(word8(bytes, len - 16) ^ P1, word8(bytes, len - 8) ^ acc)
}

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

#[inline]
fn word8(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[inline]
fn word4(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u64::from(u32::from_le_bytes(word))
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
        assert_eq!(hash_id(""), fold(fold(P1, P0) ^ P3, P1));
        let a = hash_id("agent-000001");
        assert_eq!(a, hash_id("agent-000001"));
        assert_ne!(a, hash_id("agent-000002"));
        assert_ne!(hash_id("a"), hash_id("a\0"));
        // Every length path gives distinct values for distinct ids.
        let mut seen = std::collections::HashSet::new();
        for len in 0..=40 {
            for c in [b'a', b'b'] {
                let mut s = vec![b'x'; len];
                if len > 0 {
                    s[len / 3] = c;
                }
                seen.insert(hash_id(std::str::from_utf8(&s).unwrap()));
            }
        }
        assert_eq!(seen.len(), 1 + 40 * 2);
        assert_eq!(hash_id("agent-000001"), 0x6e1d_b3fb_5b27_9817);
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
