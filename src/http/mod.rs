//! The HTTP front end: the API of `docs/api.md` over hyper 1.x HTTP/1.1.
//!
//! One `mabeam-http-N` thread per engine worker core, each running its own tokio
//! current_thread runtime with its own `SO_REUSEPORT` listener ([`listener`]), so a
//! request is parsed, routed and (for one-shot coordination) cleared on the core whose
//! kernel queue received it, with no cross-thread hand-off. Stateful commands go to the
//! owning engine worker's inbox and are awaited as futures.
//!
//! A request's path: [`conn`] (TLS, hyper limits and timers, connection cap) ->
//! [`service`] (route, auth, timeout, panic guard, node header, metrics, audit) ->
//! [`router`] -> [`routes`] (JSON <-> engine) -> [`reply`] (JSON errors). See `README.md`
//! beside this file for the design and the shutdown order.

#![forbid(unsafe_code)]

pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod body;
pub(crate) mod client;
pub(crate) mod conn;
pub(crate) mod idempotency;
pub(crate) mod key;
pub(crate) mod listener;
pub(crate) mod metrics;
pub(crate) mod probe;
pub(crate) mod quota;
pub(crate) mod reply;
pub(crate) mod router;
pub(crate) mod routes;
pub(crate) mod server;
pub(crate) mod service;
pub(crate) mod state;
pub(crate) mod tls;

pub(crate) use server::Server;
pub(crate) use state::AppState;
