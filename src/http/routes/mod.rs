//! Route handlers: JSON in, engine call, JSON out. Each returns a [`Reply`] or an
//! [`ApiError`]; the service adds the common headers, metrics and audit.

mod agents;
mod coordinate;
mod probes;
mod query;
mod sessions;
mod variables;

use crate::http::auth::Principal;
use crate::http::body;
use crate::http::idempotency::{self, Begin, Idempotency, Stored};
use crate::http::key;
use crate::http::reply::{ApiError, Reply, bytes_reply};
use crate::http::router::Route;
use crate::http::state::AppState;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, LOCATION};
use http::request::Parts;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) use probes::{health, ready, unix_ms};

/// One request, split: the head (borrowed by the route) and the body (read on demand).
pub(crate) struct Call<'a> {
    pub(crate) state: &'a Arc<AppState>,
    pub(crate) parts: &'a Parts,
    pub(crate) principal: &'a Principal,
    pub(crate) body: Option<Incoming>,
    /// The body, when it was read before the handler ran (idempotent requests).
    pub(crate) read: Option<Bytes>,
    /// Set once the body has been read to its end: until then, answering means the
    /// connection closes (the service then says so with `Connection: close`).
    pub(crate) body_read: &'a AtomicBool,
}

impl Call<'_> {
    /// The body, read whole within `server.body_max_bytes`; a body that is not declared
    /// JSON is refused (415) before it is read.
    pub(crate) async fn bytes(&mut self) -> Result<Bytes, ApiError> {
        if let Some(b) = self.read.take() {
            return Ok(b);
        }
        let Some(b) = self.body.take() else {
            return Ok(Bytes::new());
        };
        if !body::present(&self.parts.headers) {
            self.body_read.store(true, Ordering::Relaxed);
            return Ok(Bytes::new());
        }
        body::require_json(&self.parts.headers)?;
        let bytes = body::read(b, &self.parts.headers, self.state.settings.body_max_bytes).await?;
        self.body_read.store(true, Ordering::Relaxed);
        Ok(bytes)
    }
}

/// Marks replayed answers.
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Forgets an in-flight key unless the request finished (a panic or the request
/// timeout dropped it): a retry may then run.
struct InFlight<'a> {
    table: &'a Idempotency,
    key: String,
    done: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.table.abandon(&self.key);
        }
    }
}

fn replay(stored: Stored) -> Reply {
    let mut r = bytes_reply(stored.status, stored.body);
    if let Some(loc) = stored.location {
        r.headers_mut().insert(LOCATION, loc);
    }
    r.headers_mut()
        .insert(REPLAYED, HeaderValue::from_static("true"));
    r
}

/// Runs `route`, honouring `Idempotency-Key` on the routes the HTTP layer deduplicates.
pub(crate) async fn run(route: Route<'_>, mut call: Call<'_>) -> Result<Reply, ApiError> {
    if !route.http_idempotent() {
        return dispatch(route, call).await;
    }
    let Some(key) = idempotency::key_of(&call.parts.headers)? else {
        return dispatch(route, call).await;
    };
    let bytes = call.bytes().await?;
    let table = &call.state.idempotency;
    let fp = idempotency::fingerprint(&call.parts.method, call.parts.uri.path(), &bytes);
    let scoped = format!("{}\n{key}", call.principal.who());
    if let Begin::Replay(stored) = table.begin(&scoped, fp)? {
        return Ok(replay(stored));
    }
    let mut guard = InFlight {
        table,
        key: scoped,
        done: false,
    };
    call.read = Some(bytes);
    let result = dispatch(route, call).await;
    let (status, body, location, result) = match result {
        Ok(reply) => {
            let (parts, body) = reply.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let location = parts.headers.get(LOCATION).cloned();
            let status = parts.status;
            let rebuilt = Reply::from_parts(parts, Full::new(body.clone()));
            (status, body, location, Ok(rebuilt))
        }
        Err(e) => (e.status, Bytes::from(e.body()), None, Err(e)),
    };
    if !status.is_server_error() {
        table.finish(
            &guard.key,
            Stored {
                status,
                body,
                location,
            },
        );
        guard.done = true;
    }
    result
}

/// Answers `route` (probes are answered by the service directly, without this future).
pub(crate) async fn dispatch(route: Route<'_>, mut call: Call<'_>) -> Result<Reply, ApiError> {
    match route {
        Route::Health => Ok(probes::health(call.state)),
        Route::Ready => Ok(probes::ready(call.state)),
        Route::Metrics => probes::metrics(call.state),
        Route::CoordinationMetrics => probes::coordination_metrics(call.state, call.parts),
        Route::Coordinate => {
            let bytes = call.bytes().await?;
            coordinate::one(call.state, &bytes).await
        }
        Route::CoordinateBatch => {
            let bytes = call.bytes().await?;
            coordinate::batch(call.state, &bytes).await
        }
        Route::AgentCreate => {
            let bytes = key::fill_id(call.bytes().await?, "id", &call.parts.headers)?;
            agents::create(call.state, call.principal, &bytes).await
        }
        Route::AgentList => agents::list(call.state, call.parts),
        Route::AgentGet(id) => agents::get(call.state, id),
        Route::AgentDelete(id) => agents::delete(call.state, id).await,
        Route::AgentLifecycle(id, op) => agents::lifecycle(call.state, id, op).await,
        Route::AgentHealth(id) => agents::health(call.state, id),
        Route::AuctionOpen => {
            let bytes = key::fill_id(call.bytes().await?, "id", &call.parts.headers)?;
            sessions::open_auction(call.state, &bytes).await
        }
        Route::AuctionGet(id) => sessions::auction(call.state, id).await,
        Route::AuctionBid(id) => {
            let bytes = call.bytes().await?;
            sessions::bid(call.state, call.principal, &call.parts.headers, id, &bytes).await
        }
        Route::AuctionClose(id) => sessions::close_auction(call.state, id).await,
        Route::MarketOpen => {
            let bytes = key::fill_id(call.bytes().await?, "id", &call.parts.headers)?;
            sessions::open_market(call.state, &bytes).await
        }
        Route::MarketGet(id) => sessions::market(call.state, id).await,
        Route::MarketOrder(id) => {
            let bytes = call.bytes().await?;
            sessions::order(call.state, call.principal, &call.parts.headers, id, &bytes).await
        }
        Route::MarketClear(id) => sessions::clear_market(call.state, id).await,
        Route::ConsensusOpen => {
            let bytes = key::fill_id(call.bytes().await?, "id", &call.parts.headers)?;
            sessions::open_consensus(call.state, &bytes).await
        }
        Route::ConsensusGet(id) => sessions::consensus(call.state, id).await,
        Route::ConsensusVote(id) => {
            let bytes = call.bytes().await?;
            sessions::vote(call.state, call.principal, &call.parts.headers, id, &bytes).await
        }
        Route::ConsensusClose(id) => sessions::close_consensus(call.state, id).await,
        Route::SessionList => sessions::list(call.state).await,
        Route::SessionGet(id) => sessions::get(call.state, id).await,
        Route::SessionCancel(id) => sessions::cancel(call.state, id).await,
        Route::VariableCreate => {
            let bytes = key::fill_id(call.bytes().await?, "name", &call.parts.headers)?;
            variables::create(call.state, call.principal, &bytes).await
        }
        Route::VariableGet(name) => variables::get(call.state, name).await,
        Route::VariablePut(name) => {
            let bytes = call.bytes().await?;
            variables::update(call.state, call.principal, name, &bytes).await
        }
        Route::VariableHistory(name) => variables::history(call.state, call.parts, name).await,
        Route::VariableCoordinate(name) => {
            let bytes = call.bytes().await?;
            variables::coordinate(call.state, name, &bytes).await
        }
    }
}
