//! The engine's error vocabulary: every module error describes itself once as a stable
//! code, a class and a retry hint.
//!
//! Module errors ([`CoordError`](crate::coord::CoordError),
//! [`SessionError`](crate::session::SessionError),
//! [`VariableError`](crate::variables::VariableError),
//! [`RegistryError`](crate::registry::RegistryError) and the embedding API's
//! [`EngineError`](crate::api::EngineError)) keep their own types and messages; each
//! implements [`Describe`] with one `match`. Clients switch on the code (`book_full`,
//! `version_conflict`, ...); a transport decides its answer from the class alone (the HTTP
//! table is [`api::http_status`](crate::api::http_status)); people read the message.
//!
//! This module sits below `coord`, `session`, `variables` and `registry`, so they describe
//! their errors without importing `api`.

/// What kind of refusal an error is. A transport maps each class to one answer (for HTTP,
/// [`api::http_status`](crate::api::http_status)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The request is malformed or breaks a rule of its own (a missing field, an amount out
    /// of range, an unknown protocol). Sending it again unchanged fails again.
    Invalid,
    /// The caller is not authenticated.
    Unauthorised,
    /// The caller is authenticated but may not do this.
    Forbidden,
    /// No such resource (or a feature switched off).
    NotFound,
    /// The request conflicts with the resource's current state or with a per-resource
    /// limit (an id taken, a stale version, a closed session, a full order book).
    Conflict,
    /// The resource existed and is gone for good.
    Gone,
    /// The request or a value in it is over a size limit.
    TooLarge,
    /// The request is well formed but was refused on its merits (an agent's handler
    /// answered an error, an idempotency key reused with another body).
    Rejected,
    /// The node sheds load: an inbox, the clearing pool, memory or the process limit is
    /// full. Transient by nature.
    Overloaded,
    /// The engine cannot serve this now (shutting down, the clearing pool gone, a command
    /// dropped unanswered).
    Unavailable,
    /// No answer within a deadline; the work may have been stopped or may still complete.
    Timeout,
    /// An internal invariant failed or an agent crashed: a bug to report.
    Internal,
}

impl ErrorClass {
    /// Every class, for tables and tests.
    pub const ALL: [ErrorClass; 12] = [
        ErrorClass::Invalid,
        ErrorClass::Unauthorised,
        ErrorClass::Forbidden,
        ErrorClass::NotFound,
        ErrorClass::Conflict,
        ErrorClass::Gone,
        ErrorClass::TooLarge,
        ErrorClass::Rejected,
        ErrorClass::Overloaded,
        ErrorClass::Unavailable,
        ErrorClass::Timeout,
        ErrorClass::Internal,
    ];

    /// The class's snake_case name (`not_found`, `overloaded`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Invalid => "invalid",
            ErrorClass::Unauthorised => "unauthorised",
            ErrorClass::Forbidden => "forbidden",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Conflict => "conflict",
            ErrorClass::Gone => "gone",
            ErrorClass::TooLarge => "too_large",
            ErrorClass::Rejected => "rejected",
            ErrorClass::Overloaded => "overloaded",
            ErrorClass::Unavailable => "unavailable",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Internal => "internal",
        }
    }
}

/// Whether the same call may succeed if sent again unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retry {
    /// Sending the same call again fails the same way: change the request or the state
    /// first (fix a field, re-read a version, free capacity).
    No,
    /// The condition is transient: the same call may succeed after a short back-off.
    Later,
}

/// One error described in the vocabulary: code, class and retry hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Description {
    /// The stable snake_case code clients switch on (`book_full`, `version_conflict`).
    pub code: &'static str,
    /// The class a transport answers by.
    pub class: ErrorClass,
    /// Whether the same call may succeed later.
    pub retry: Retry,
}

impl Description {
    /// A refusal that fails again unchanged.
    pub const fn fixed(code: &'static str, class: ErrorClass) -> Description {
        Description {
            code,
            class,
            retry: Retry::No,
        }
    }

    /// A transient refusal: the same call may succeed after a back-off.
    pub const fn transient(code: &'static str, class: ErrorClass) -> Description {
        Description {
            code,
            class,
            retry: Retry::Later,
        }
    }
}

/// An error that describes itself once in the vocabulary.
pub trait Describe {
    /// Code, class and retry hint of this error.
    fn describe(&self) -> Description;
}
