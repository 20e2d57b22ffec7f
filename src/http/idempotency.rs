//! `Idempotency-Key` for state-changing requests the engine does not deduplicate itself
//! (registering and managing agents; opening and closing sessions; variable writes).
//! Bids, orders and votes pass the key to the engine, which answers repeats itself.
//!
//! A key is scoped by who sent it. The first request with a key runs; its final answer
//! (anything but a retryable 5xx) is kept. A repeat with the same method, path and body
//! gets that answer again; one with another payload gets 422; one that arrives while
//! the first is still running gets 409. At most `coordination.idempotency_keys_max` keys
//! are kept; the oldest is forgotten first. One mutex guards the table: only requests
//! that carry a key touch it.

use crate::http::reply::ApiError;
use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use mabeam_engine::api::ErrorClass;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash as _, Hasher as _};
use std::sync::Mutex;

/// The header.
pub(crate) const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
/// Longest key accepted.
pub(crate) const KEY_LEN_MAX: usize = 128;

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
    pub(crate) location: Option<HeaderValue>,
}

#[derive(Debug)]
enum Slot {
    InFlight { fingerprint: u64 },
    Done { fingerprint: u64, answer: Stored },
}

#[derive(Debug, Default)]
struct Table {
    slots: HashMap<String, Slot>,
    order: VecDeque<String>,
}

/// What to do with a request that carries a key.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Begin {
    /// Run it, then [`Idempotency::finish`] (or [`Idempotency::abandon`]).
    Run,
    /// Answer this again.
    Replay(Stored),
}

/// The key table.
#[derive(Debug)]
pub(crate) struct Idempotency {
    table: Mutex<Table>,
    max: usize,
}

/// The key of a request, if it has a valid one.
pub(crate) fn key_of(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(v) = headers.get(HEADER) else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(k)
            if (1..=KEY_LEN_MAX).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(Some(k))
        }
        _ => Err(ApiError::bad_request(
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1 to {KEY_LEN_MAX} visible ASCII characters"),
        )
        .with_field("Idempotency-Key")),
    }
}

/// A fingerprint of what a request asks for.
pub(crate) fn fingerprint(method: &Method, path: &str, body: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    method.as_str().hash(&mut h);
    path.hash(&mut h);
    body.hash(&mut h);
    h.finish()
}

impl Idempotency {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            table: Mutex::new(Table::default()),
            max: max.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A panic while holding the lock leaves a consistent table (every update is a
        // single insert or remove), so a poisoned lock is still usable.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `key` (already scoped by principal) for a request with `fingerprint`.
    pub(crate) fn begin(&self, key: &str, fingerprint: u64) -> Result<Begin, ApiError> {
        let mut t = self.lock();
        match t.slots.get(key) {
            Some(Slot::Done {
                fingerprint: f,
                answer,
            }) if *f == fingerprint => {
                return Ok(Begin::Replay(answer.clone()));
            }
            Some(Slot::InFlight { fingerprint: f }) if *f == fingerprint => {
                return Err(ApiError::new(
                    ErrorClass::Conflict,
                    "idempotency_key_in_flight",
                    "a request with this Idempotency-Key is still running; retry after it answers",
                ));
            }
            Some(_) => {
                return Err(ApiError::new(
                    ErrorClass::Rejected,
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for another request; use a new key for a new request",
                )
                .with_field("Idempotency-Key"));
            }
            None => {}
        }
        while t.order.len() >= self.max {
            if let Some(old) = t.order.pop_front() {
                t.slots.remove(&old);
            }
        }
        t.slots
            .insert(key.to_owned(), Slot::InFlight { fingerprint });
        t.order.push_back(key.to_owned());
        Ok(Begin::Run)
    }

    /// Keeps the final answer of the request registered with `key`.
    pub(crate) fn finish(&self, key: &str, answer: Stored) {
        let mut t = self.lock();
        if let Some(slot) = t.slots.get_mut(key)
            && let Slot::InFlight { fingerprint } = *slot
        {
            *slot = Slot::Done {
                fingerprint,
                answer,
            };
        }
    }

    /// Forgets `key` (the request failed in a way a retry may fix).
    pub(crate) fn abandon(&self, key: &str) {
        let mut t = self.lock();
        if matches!(t.slots.get(key), Some(Slot::InFlight { .. })) {
            t.slots.remove(key);
            t.order.retain(|k| k != key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(s: u16) -> Stored {
        Stored {
            status: StatusCode::from_u16(s).unwrap(),
            body: Bytes::from_static(b"{}"),
            location: None,
        }
    }

    #[test]
    fn repeat_replays_other_payload_is_422_in_flight_is_409() {
        let t = Idempotency::new(8);
        assert_eq!(t.begin("k", 1).unwrap(), Begin::Run);
        assert_eq!(t.begin("k", 1).unwrap_err().status, StatusCode::CONFLICT);
        t.finish("k", stored(201));
        assert_eq!(t.begin("k", 1).unwrap(), Begin::Replay(stored(201)));
        let e = t.begin("k", 2).unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
        );
    }

    #[test]
    fn abandoned_keys_run_again_and_the_table_is_bounded() {
        let t = Idempotency::new(2);
        assert_eq!(t.begin("a", 1).unwrap(), Begin::Run);
        t.abandon("a");
        assert_eq!(t.begin("a", 1).unwrap(), Begin::Run);
        t.finish("a", stored(200));
        assert_eq!(t.begin("b", 1).unwrap(), Begin::Run);
        assert_eq!(t.begin("c", 1).unwrap(), Begin::Run);
        // "a" was the oldest: forgotten, so it runs again.
        assert_eq!(t.begin("a", 1).unwrap(), Begin::Run);
        assert!(t.lock().slots.len() <= 2);
    }

    #[test]
    fn keys_are_checked() {
        let mut h = HeaderMap::new();
        assert_eq!(key_of(&h).unwrap(), None);
        h.insert(HEADER, HeaderValue::from_static("abc-1"));
        assert_eq!(key_of(&h).unwrap(), Some("abc-1"));
        h.insert(HEADER, HeaderValue::from_static("has space"));
        assert_eq!(key_of(&h).unwrap_err().code, "invalid_idempotency_key");
        assert_ne!(
            fingerprint(&Method::POST, "/a", b"1"),
            fingerprint(&Method::POST, "/a", b"2")
        );
    }
}
