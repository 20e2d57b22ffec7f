//! Shared variables: named JSON values that agents read, write and decide together.
//!
//! The problem: many agents share a setting (a rate limit, a leader, a plan) and must not
//! overwrite each other blindly. Each variable has a [`Domain`] (what it may hold), a
//! [`Policy`] (how concurrent writers are reconciled: last write wins, optimistic versions,
//! or coordinated only), a bounded history, and subscribers who are told of every change.
//!
//! # Tour
//! - [`Variables`] is one shard's store. The worker owning the shard mutates it through
//!   `&mut self`: no locks, no clock (`now_ms` is passed in), every table bounded by
//!   [`VariableSettings`].
//! - [`Variables::create`], [`Variables::update`] take the serde request bodies of the HTTP
//!   API ([`CreateRequest`], [`UpdateRequest`]) and answer [`VariableResponse`]
//!   (`{"name","value","version"}`). A stale `version` is [`VariableError::Conflict`].
//! - [`Variables::coordinate`] decides a value by a vote (the consensus rules) or a sealed-bid
//!   second-price auction ([`CoordinateRequest`]); the decision logic is pure and lives in
//!   [`coordinate`] with its documented tie-break (earliest `at`, then agent id).
//! - Successful writes append one [`Delivery`] per subscriber to a caller-owned buffer; the
//!   runtime moves them to the agents' inboxes.
//! - [`Variables::get`], [`Variables::list`] lend [`VariableView`]s; [`Variables::history`]
//!   returns [`HistoryResponse`], newest first.
//!
//! ```
//! use mabeam_engine::variables::{CreateRequest, UpdateRequest, Variables, VariableSettings};
//! use serde_json::json;
//!
//! let mut vars = Variables::new(VariableSettings::default()).unwrap();
//! let create: CreateRequest = serde_json::from_value(json!({
//!     "name": "rate", "value": 5, "domain": {"type": "range", "min": 0, "max": 10},
//!     "policy": "version_check"})).unwrap();
//! assert_eq!(vars.create(create, 1_000).unwrap().version, 1);
//! vars.subscribe("rate", "watcher").unwrap();
//!
//! let mut outbox = Vec::new();
//! let put = UpdateRequest { value: json!(7), agent_id: "a1".into(), version: Some(1) };
//! assert_eq!(vars.update("rate", put, 2_000, &mut outbox).unwrap().version, 2);
//! assert_eq!((&*outbox[0].to, outbox[0].change.version()), ("watcher", 2));
//!
//! let stale = UpdateRequest { value: json!(8), agent_id: "a2".into(), version: Some(1) };
//! assert_eq!(vars.update("rate", stale, 3_000, &mut outbox).unwrap_err().code(), "version_conflict");
//! ```

#![forbid(unsafe_code)]

pub mod coordinate;
mod domain;
mod error;
mod number;
mod request;
mod settings;
mod store;
mod view;

pub use domain::{Domain, NAME_LEN_MAX, Policy};
pub use error::VariableError;
pub use request::{
    BidSpec, CoordinateRequest, CreateRequest, RuleName, SubscribeRequest, UpdateRequest, VoteSpec,
};
pub use settings::{SettingsError, VariableSettings};
pub use store::{CONSENSUS_AUTHOR, CREATOR_DEFAULT, Variables};
pub use view::{
    Change, CoordinateResponse, Delivery, HistoryResponse, Protocol, Revision, TallyLine,
    VariableInfo, VariableResponse, VariableView,
};
