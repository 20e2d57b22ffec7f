//! Route handlers: JSON in, engine call, JSON out. Each returns a [`Reply`] or an
//! [`ApiError`]; the service adds the common headers, metrics and audit.

mod agents;
mod coordinate;
mod probes;
mod query;

use crate::http::auth::Principal;
use crate::http::body;
use crate::http::reply::{ApiError, Reply};
use crate::http::router::Route;
use crate::http::state::AppState;
use bytes::Bytes;
use http::request::Parts;
use hyper::body::Incoming;
use std::sync::Arc;

pub(crate) use probes::{health, ready, unix_ms};

/// One request, split: the head (borrowed by the route) and the body (read on demand).
pub(crate) struct Call<'a> {
    pub(crate) state: &'a Arc<AppState>,
    pub(crate) parts: &'a Parts,
    pub(crate) principal: &'a Principal,
    pub(crate) body: Option<Incoming>,
}

impl Call<'_> {
    /// The body, read whole within `server.body_max_bytes`.
    pub(crate) async fn bytes(&mut self) -> Result<Bytes, ApiError> {
        let Some(b) = self.body.take() else {
            return Ok(Bytes::new());
        };
        body::read(b, &self.parts.headers, self.state.settings.body_max_bytes).await
    }
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
            coordinate::one(call.state, &bytes)
        }
        Route::CoordinateBatch => {
            let bytes = call.bytes().await?;
            coordinate::batch(call.state, &bytes).await
        }
        Route::AgentCreate => {
            let bytes = call.bytes().await?;
            agents::create(call.state, call.principal, &bytes).await
        }
        Route::AgentList => agents::list(call.state, call.parts),
        Route::AgentGet(id) => agents::get(call.state, id),
        Route::AgentDelete(id) => agents::delete(call.state, id).await,
        Route::AgentLifecycle(id, op) => agents::lifecycle(call.state, id, op).await,
        Route::AgentHealth(id) => agents::health(call.state, id),
    }
}
