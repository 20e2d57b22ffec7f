//! `SessionError`: why a live-session operation was refused, described once in the
//! engine's error vocabulary ([`crate::error`]).

use crate::coord::CoordError;
use crate::error::{Describe, Description, ErrorClass};

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

impl Describe for SessionError {
    /// State and per-session capacity refusals are `conflict`; a reused idempotency key is
    /// `rejected`; the engine-wide session limit is `overloaded` (sessions finish by their
    /// deadline, so it is transient); a coordination refusal describes itself.
    fn describe(&self) -> Description {
        use ErrorClass::{Conflict, Invalid, NotFound, Overloaded, Rejected};
        match self {
            SessionError::NotFound { .. } => Description::fixed("not_found", NotFound),
            SessionError::AlreadyExists { .. } => Description::fixed("already_exists", Conflict),
            SessionError::TooManySessions { .. } => {
                Description::transient("too_many_sessions", Overloaded)
            }
            SessionError::NotOpen { .. } => Description::fixed("session_closed", Conflict),
            SessionError::Full { .. } => Description::fixed("session_full", Conflict),
            SessionError::Duplicate { .. } => Description::fixed("duplicate_entry", Conflict),
            SessionError::KeyReused { .. } => {
                Description::fixed("idempotency_key_reused", Rejected)
            }
            SessionError::KeysExhausted { .. } => {
                Description::fixed("idempotency_keys_exhausted", Conflict)
            }
            SessionError::InvalidKey => Description::fixed("invalid_idempotency_key", Invalid),
            SessionError::WrongKind { .. } => Description::fixed("wrong_session_kind", Conflict),
            SessionError::Invalid(e) => e.describe(),
        }
    }
}

impl SessionError {
    /// The stable snake_case code (see [`Describe`]).
    pub fn code(&self) -> &'static str {
        self.describe().code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_classes() {
        let e = SessionError::KeyReused {
            id: "a".into(),
            key: "k".into(),
        };
        assert_eq!(
            (e.code(), e.describe().class),
            ("idempotency_key_reused", ErrorClass::Rejected)
        );
        let e = SessionError::TooManySessions { max: 4 };
        assert_eq!(
            (e.code(), e.describe().class),
            ("too_many_sessions", ErrorClass::Overloaded)
        );
        assert!(e.to_string().contains("max_concurrent_coordinations"));
        let e = SessionError::Invalid(CoordError::BookFull { capacity: 2 });
        assert_eq!(
            (e.code(), e.describe().class),
            ("book_full", ErrorClass::Conflict)
        );
        let e = SessionError::NotOpen {
            id: "a".into(),
            state: "closed",
            what: "bids",
        };
        assert_eq!(
            (e.code(), e.describe().class),
            ("session_closed", ErrorClass::Conflict)
        );
    }
}
