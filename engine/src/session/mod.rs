//! Live coordination sessions: auctions that take bids over time, markets that
//! trade continuously or in periodic calls, and consensus rounds that collect
//! votes until a quorum or a deadline.
//!
//! The problem: a one-shot coordination (`coord::clear`) gets all its input at
//! once; a live session gets it piece by piece, from many clients, and must close
//! on time, refuse what it cannot hold, answer retried requests with their first
//! result, and still produce exactly the outcome the one-shot call would give on
//! the same input.
//!
//! Each session is owned by one worker (its id's shard, like an agent). The
//! worker keeps its sessions in a `Sessions` table (single writer, no locks, no
//! clock: every call takes `now`). Entries are checked on arrival by the same
//! validation as the one-shot request; a session due to clear (closed on request,
//! at its deadline, at its quorum, or at a call-market tick) becomes a clearing job
//! that the worker hands to the clearing pool; the result comes back on a later
//! tick and the waiting callers are answered. See `README.md` beside this file.
//!
//! Public here: the wire types ([`OpenAuction`], [`OpenMarket`], [`OpenConsensus`],
//! receipts), the views ([`SessionView`] and one per kind) and [`SessionError`].
//! The operations are methods of [`crate::api::Handle`].

#![forbid(unsafe_code)]

mod error;
mod idempotency;
mod live;
mod request;
mod table;
mod view;

pub use error::SessionError;
pub use idempotency::KEY_LEN_MAX;
pub use request::{
    BidReceipt, MarketKind, OpenAuction, OpenConsensus, OpenMarket, OrderReceipt, VoteReceipt,
};
pub use view::{
    AuctionView, CallRecord, ConsensusView, MarketView, SessionList, SessionState, SessionView,
};

pub(crate) use table::{Done, Finished, Job, SessionSettings, Sessions, Waited, clear_job};
