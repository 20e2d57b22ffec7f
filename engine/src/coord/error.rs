//! `CoordError`: every way a coordination request can be refused, with a stable code and the
//! path of the offending field (`auction.bids[2].amount`) where there is one.

use crate::error::{Describe, Description, ErrorClass};

/// A refused coordination request or a failed clearing.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoordError {
    /// The body is not valid JSON for a coordination request (syntax, types, unknown fields).
    #[error("malformed request: {message}")]
    Malformed {
        /// What the parser said.
        message: String,
    },
    /// A required field is absent.
    #[error("`{field}` is required: {hint}")]
    MissingField {
        /// Path of the missing field.
        field: String,
        /// How to fix it.
        hint: &'static str,
    },
    /// A field that this protocol or type does not use.
    #[error("`{field}` is not used here: {hint}")]
    FieldNotAllowed {
        /// Path of the field.
        field: String,
        /// Why it is not used.
        hint: &'static str,
    },
    /// An id that is not 1-128 chars of `[A-Za-z0-9_.:-]`.
    #[error("`{field}` = {value:?} is not a valid id: use 1-128 characters of A-Z a-z 0-9 _ . : -")]
    InvalidId {
        /// Path of the id.
        field: String,
        /// The offending value (truncated to 140 characters).
        value: String,
    },
    /// A money amount that must be positive is zero or negative, or out of its range.
    #[error("`{field}` = {value} is invalid: {hint}")]
    InvalidAmount {
        /// Path of the amount.
        field: String,
        /// The value as written.
        value: String,
        /// What is allowed.
        hint: &'static str,
    },
    /// A quantity that must be positive is zero.
    #[error("`{field}` must be a positive integer quantity")]
    InvalidQuantity {
        /// Path of the quantity.
        field: String,
    },
    /// A parameter outside its domain.
    #[error("`{field}` is invalid: {hint}")]
    InvalidParameter {
        /// Path of the parameter.
        field: String,
        /// What is allowed.
        hint: String,
    },
    /// The same agent twice where one entry per agent is allowed.
    #[error("`{field}`: agent {agent_id:?} appears more than once; send one entry per agent")]
    DuplicateAgent {
        /// Path of the second entry.
        field: String,
        /// The repeated agent.
        agent_id: String,
    },
    /// A bundle names an item the auction does not offer.
    #[error("`{field}`: item {item:?} is not offered; use one of the auction's `items`")]
    UnknownItem {
        /// Path of the bundle entry.
        field: String,
        /// The unknown item.
        item: String,
    },
    /// More entries than the configured limit.
    #[error("`{field}` has {count} entries, more than the limit of {max}; split the request")]
    TooMany {
        /// Path of the list.
        field: String,
        /// How many were sent.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An agent holds more than the allowed share of the total voting weight.
    #[error(
        "`{field}`: agent {agent_id:?} holds more than {cap} of the total weight; lower it or raise `max_weight_share`"
    )]
    WeightCapExceeded {
        /// Path of the vote.
        field: String,
        /// The agent over the cap.
        agent_id: String,
        /// The cap as a share of the total weight.
        cap: f64,
    },
    /// A sum or product left the representable range.
    #[error("arithmetic overflow while computing {what}; use smaller amounts or quantities")]
    Overflow {
        /// What was being computed.
        what: &'static str,
    },
    /// An order book is at its size limit and the order would have to rest.
    #[error(
        "the order book holds its limit of {capacity} resting orders; cancel some or retry later"
    )]
    BookFull {
        /// The book's capacity.
        capacity: usize,
    },
    /// No resting order has this id.
    #[error("order {order_id} is not resting in this book (filled, cancelled or never placed)")]
    UnknownOrder {
        /// The id asked for.
        order_id: u64,
    },
    /// The clearing thread pool could not be built.
    #[error("could not start the clearing pool: {message}")]
    Pool {
        /// What the thread pool builder said.
        message: String,
    },
    /// The caller cancelled the clearing (its deadline passed or the server is stopping).
    #[error("the clearing was stopped before it finished (deadline passed or shutting down)")]
    Cancelled,
}

impl Describe for CoordError {
    /// Every refusal of a request's content is `invalid` (400 over HTTP). `book_full` is a
    /// capacity limit of one market, not of the node: `conflict` (409), retry later (orders
    /// fill or are cancelled), like a variable store's or a session's `capacity`. A missing
    /// clearing pool (retry later) and a stopped clearing (deadline or shutdown: not retried as is)
    /// are `unavailable` (503).
    fn describe(&self) -> Description {
        use ErrorClass::{Conflict, Invalid, Unavailable};
        match self {
            CoordError::Malformed { .. } => Description::fixed("malformed_request", Invalid),
            CoordError::MissingField { .. } => Description::fixed("missing_field", Invalid),
            CoordError::FieldNotAllowed { .. } => Description::fixed("field_not_allowed", Invalid),
            CoordError::InvalidId { .. } => Description::fixed("invalid_id", Invalid),
            CoordError::InvalidAmount { .. } => Description::fixed("invalid_amount", Invalid),
            CoordError::InvalidQuantity { .. } => Description::fixed("invalid_quantity", Invalid),
            CoordError::InvalidParameter { .. } => Description::fixed("invalid_parameter", Invalid),
            CoordError::DuplicateAgent { .. } => Description::fixed("duplicate_agent", Invalid),
            CoordError::UnknownItem { .. } => Description::fixed("unknown_item", Invalid),
            CoordError::TooMany { .. } => Description::fixed("too_many", Invalid),
            CoordError::WeightCapExceeded { .. } => {
                Description::fixed("weight_cap_exceeded", Invalid)
            }
            CoordError::Overflow { .. } => Description::fixed("overflow", Invalid),
            CoordError::BookFull { .. } => Description::transient("book_full", Conflict),
            CoordError::UnknownOrder { .. } => Description::fixed("unknown_order", Invalid),
            CoordError::Pool { .. } => Description::transient("pool_unavailable", Unavailable),
            CoordError::Cancelled => Description::fixed("cancelled", Unavailable),
        }
    }
}

impl CoordError {
    /// The stable snake_case code (see [`Describe`]).
    pub fn code(&self) -> &'static str {
        self.describe().code
    }

    /// The path of the offending field, where there is one (`auction.bids[2].amount`).
    pub fn field(&self) -> Option<&str> {
        match self {
            CoordError::MissingField { field, .. }
            | CoordError::FieldNotAllowed { field, .. }
            | CoordError::InvalidId { field, .. }
            | CoordError::InvalidAmount { field, .. }
            | CoordError::InvalidQuantity { field }
            | CoordError::InvalidParameter { field, .. }
            | CoordError::DuplicateAgent { field, .. }
            | CoordError::UnknownItem { field, .. }
            | CoordError::TooMany { field, .. }
            | CoordError::WeightCapExceeded { field, .. } => Some(field),
            CoordError::Malformed { .. }
            | CoordError::Overflow { .. }
            | CoordError::BookFull { .. }
            | CoordError::UnknownOrder { .. }
            | CoordError::Pool { .. }
            | CoordError::Cancelled => None,
        }
    }

    pub(crate) fn overflow(what: &'static str) -> CoordError {
        CoordError::Overflow { what }
    }
}

impl From<serde_json::Error> for CoordError {
    fn from(e: serde_json::Error) -> Self {
        CoordError::Malformed {
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_fields_are_reported() {
        let e = CoordError::InvalidAmount {
            field: "auction.bids[0].amount".into(),
            value: "0".into(),
            hint: "bids must be positive",
        };
        assert_eq!(e.code(), "invalid_amount");
        assert_eq!(e.field(), Some("auction.bids[0].amount"));
        assert!(e.to_string().contains("auction.bids[0].amount"));
        let o = CoordError::overflow("revenue");
        assert_eq!(o.field(), None);
        assert!(
            o.code()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_')
        );
    }
}
