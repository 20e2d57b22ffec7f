//! Idempotency keys of one session: the same key with the same payload answers
//! the first result; with another payload it is refused. Bounded.

use std::collections::HashMap;

use crate::session::error::SessionError;

/// Longest idempotency key, in bytes.
pub const KEY_LEN_MAX: usize = 128;

/// What a key lookup found.
#[derive(Debug, PartialEq)]
pub(crate) enum Seen<A> {
    /// The key is new (or absent): go ahead.
    New,
    /// The key was used for this payload: answer this again.
    Repeat(A),
}

/// Up to `max` keys, each with the request it came with and the first answer.
#[derive(Debug)]
pub(crate) struct Keys<R, A> {
    max: usize,
    map: HashMap<String, (R, A)>,
}

impl<R: PartialEq, A: Clone> Keys<R, A> {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            map: HashMap::new(),
        }
    }

    /// Checks `key` for `req` before the request runs: a repeat answers the first
    /// result, a reuse with another payload is refused, a new key is refused when
    /// the table is full (so a successful request can always be remembered).
    pub(crate) fn check(
        &self,
        session: &str,
        key: Option<&str>,
        req: &R,
    ) -> Result<Seen<A>, SessionError> {
        let Some(key) = key else {
            return Ok(Seen::New);
        };
        if key.is_empty() || key.len() > KEY_LEN_MAX || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SessionError::InvalidKey);
        }
        match self.map.get(key) {
            Some((first, answer)) if first == req => Ok(Seen::Repeat(answer.clone())),
            Some(_) => Err(SessionError::KeyReused {
                id: session.to_owned(),
                key: key.to_owned(),
            }),
            None if self.map.len() >= self.max => Err(SessionError::KeysExhausted {
                id: session.to_owned(),
                max: self.max,
            }),
            None => Ok(Seen::New),
        }
    }

    /// Remembers the answer to a request that succeeded (after [`Keys::check`] said
    /// [`Seen::New`], so there is room).
    pub(crate) fn remember(&mut self, key: Option<String>, req: R, answer: A) {
        if let Some(key) = key
            && self.map.len() < self.max
        {
            self.map.insert(key, (req, answer));
        }
    }

    /// Keys remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_reuse_and_bound() {
        let mut keys: Keys<u32, &str> = Keys::new(2);
        assert_eq!(keys.check("s", Some("k1"), &1).unwrap(), Seen::New);
        keys.remember(Some("k1".into()), 1, "first");
        assert_eq!(
            keys.check("s", Some("k1"), &1).unwrap(),
            Seen::Repeat("first")
        );
        assert_eq!(
            keys.check("s", Some("k1"), &2).unwrap_err().code(),
            "idempotency_key_reused"
        );
        assert_eq!(keys.check("s", None, &2).unwrap(), Seen::New);
        keys.remember(Some("k2".into()), 2, "second");
        assert_eq!(
            keys.check("s", Some("k3"), &3).unwrap_err().code(),
            "idempotency_keys_exhausted"
        );
        // A known key still answers when the table is full.
        assert_eq!(
            keys.check("s", Some("k2"), &2).unwrap(),
            Seen::Repeat("second")
        );
        assert_eq!(
            keys.check("s", Some(""), &2).unwrap_err().code(),
            "invalid_idempotency_key"
        );
        assert_eq!(keys.len(), 2);
    }
}
