//! `SessionError`: why a live-session operation was refused, with a stable code and
//! the HTTP status it maps to.

use crate::coord::CoordError;

/// A refused live-session operation. Nothing changed unless the variant says so.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionError {
    /// No session of this kind has this id (never opened, or finished and forgotten).
    #[error("no {what} with id {id:?}; check the id (finished sessions are kept only for a while)")]
    NotFound {
        /// What was looked for (`auction`, `market`, `consensus`, `session`).
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// A session with this id exists (open, or finished and still retained).
    #[error("a session with id {id:?} already exists; pick another id or leave it out to get one")]
    AlreadyExists {
        /// The id asked for.
        id: String,
    },
    /// `coordination.max_concurrent_coordinations` sessions are open engine-wide.
    #[error(
        "{max} coordination sessions are open (coordination.max_concurrent_coordinations); retry when some close"
    )]
    TooManySessions {
        /// The limit.
        max: usize,
    },
    /// The session no longer accepts entries (closing, closed, expired, cancelled).
    #[error("session {id:?} is {state}, so it takes no more {what}; open a new one")]
    NotOpen {
        /// The session.
        id: String,
        /// Its state.
        state: &'static str,
        /// What was refused (`bids`, `orders`, `votes`, `cancellation`).
        what: &'static str,
    },
    /// The session holds its limit of entries (`bids_per_auction_max`,
    /// `orders_per_market_max`, or the vote limit).
    #[error(
        "session {id:?} already holds its limit of {max} {what} (coordination.{setting}); close it and open another"
    )]
    Full {
        /// The session.
        id: String,
        /// The limit.
        max: usize,
        /// What is full (`bids`, `orders`, `votes`).
        what: &'static str,
        /// The profile key that sets it.
        setting: &'static str,
    },
    /// One agent may place one bid (vote) in a session of this type.
    #[error(
        "agent {agent_id:?} already has an entry in session {id:?}; one per agent (bundles excepted)"
    )]
    Duplicate {
        /// The session.
        id: String,
        /// The agent.
        agent_id: String,
    },
    /// The idempotency key was used before with another payload.
    #[error(
        "idempotency key {key:?} was used for a different request in session {id:?}; use a new key for a new request"
    )]
    KeyReused {
        /// The session.
        id: String,
        /// The key.
        key: String,
    },
    /// The session remembers `coordination.idempotency_keys_max` keys already.
    #[error(
        "session {id:?} remembers its limit of {max} idempotency keys (coordination.idempotency_keys_max); send the request without a key or open a new session"
    )]
    KeysExhausted {
        /// The session.
        id: String,
        /// The limit.
        max: usize,
    },
    /// An idempotency key is not 1-128 printable ASCII characters.
    #[error("idempotency key is invalid: use 1-128 printable ASCII characters")]
    InvalidKey,
    /// The operation does not apply to this kind of session.
    #[error("session {id:?} is {kind}: {hint}")]
    WrongKind {
        /// The session.
        id: String,
        /// What it is (`continuous market`, `auction`, ...).
        kind: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// A bid, order, vote or session parameter was invalid.
    #[error(transparent)]
    Invalid(#[from] CoordError),
}

impl SessionError {
    /// A stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::NotFound { .. } => "not_found",
            SessionError::AlreadyExists { .. } => "already_exists",
            SessionError::TooManySessions { .. } => "too_many_sessions",
            SessionError::NotOpen { .. } => "session_closed",
            SessionError::Full { .. } => "session_full",
            SessionError::Duplicate { .. } => "duplicate_entry",
            SessionError::KeyReused { .. } => "idempotency_key_reused",
            SessionError::KeysExhausted { .. } => "idempotency_keys_exhausted",
            SessionError::InvalidKey => "invalid_idempotency_key",
            SessionError::WrongKind { .. } => "wrong_session_kind",
            SessionError::Invalid(e) => e.code(),
        }
    }

    /// The HTTP status: 409 for state and capacity conflicts, 422 for a reused
    /// idempotency key, 503 for the engine-wide session limit (transient: sessions
    /// finish by their deadline), 400 for invalid input.
    pub fn status(&self) -> u16 {
        match self {
            SessionError::NotFound { .. } => 404,
            SessionError::AlreadyExists { .. }
            | SessionError::NotOpen { .. }
            | SessionError::Full { .. }
            | SessionError::Duplicate { .. }
            | SessionError::KeysExhausted { .. }
            | SessionError::WrongKind { .. } => 409,
            SessionError::TooManySessions { .. } => 503,
            SessionError::KeyReused { .. } => 422,
            SessionError::InvalidKey => 400,
            SessionError::Invalid(e) if e.is_client_error() => 400,
            SessionError::Invalid(_) => 409,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        let e = SessionError::KeyReused {
            id: "a".into(),
            key: "k".into(),
        };
        assert_eq!((e.code(), e.status()), ("idempotency_key_reused", 422));
        let e = SessionError::TooManySessions { max: 4 };
        assert_eq!((e.code(), e.status()), ("too_many_sessions", 503));
        assert!(e.to_string().contains("max_concurrent_coordinations"));
        let e = SessionError::Invalid(CoordError::BookFull { capacity: 2 });
        assert_eq!((e.code(), e.status()), ("book_full", 409));
        let e = SessionError::NotOpen {
            id: "a".into(),
            state: "closed",
            what: "bids",
        };
        assert_eq!((e.code(), e.status()), ("session_closed", 409));
    }
}
