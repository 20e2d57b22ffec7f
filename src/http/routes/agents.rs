//! The agent registry over HTTP: register, list, read, deregister, lifecycle, health.
//!
//! Writes go to the owning worker and are awaited as futures (`Pending`), never blocked
//! on; reads go straight to the lock-free registry.

use crate::http::auth::Principal;
use crate::http::body;
use crate::http::reply::{ApiError, Reply, empty, json};
use crate::http::router::Lifecycle;
use crate::http::routes::query;
use crate::http::state::AppState;
use http::StatusCode;
use http::header::{HeaderValue, LOCATION};
use http::request::Parts;
use mabeam_engine::api::ErrorClass;
use mabeam_engine::registry::{AgentFilter, AgentRecord, AgentSpec, AgentState, Health};
use serde::Serialize;
use std::sync::Arc;

fn not_found(id: &str) -> ApiError {
    ApiError::new(
        ErrorClass::NotFound,
        "not_found",
        format!(
            "no agent {:?} is registered: check the id or register the agent first",
            crate::http::reply::truncate(id, 128)
        ),
    )
}

/// `POST /api/agents` -> 201 with the record (`"state":"registered"`).
pub(crate) async fn create(
    state: &Arc<AppState>,
    principal: &Principal,
    bytes: &[u8],
) -> Result<Reply, ApiError> {
    let spec: AgentSpec = body::parse(bytes)?;
    principal.may_act_as(&spec.id)?;
    let record = state.handle.register(spec).await?;
    let mut r = json(StatusCode::CREATED, &record);
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/agents/{}", record.id())) {
        r.headers_mut().insert(LOCATION, loc);
    }
    Ok(r)
}

#[derive(Serialize)]
struct AgentList {
    agents: Vec<AgentRecord>,
    count: usize,
}

fn parse_state(text: &str) -> Result<AgentState, ApiError> {
    AgentState::ALL
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| {
            let names: Vec<&str> = AgentState::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(
                "invalid_field",
                format!(
                    "`state` = {:?} is not a lifecycle state; use one of {}",
                    crate::http::reply::truncate(text, 64),
                    names.join(", ")
                ),
            )
            .with_field("state")
        })
}

/// `GET /api/agents?kind=&capability=&state=` -> `{"agents":[...],"count":N}`.
pub(crate) fn list(state: &Arc<AppState>, parts: &Parts) -> Result<Reply, ApiError> {
    let mut filter = AgentFilter::default();
    for (k, v) in query::parse(parts.uri.query(), &["kind", "capability", "state"])? {
        if v.is_empty() {
            continue;
        }
        match k {
            "kind" => filter.kind = Some(v),
            "capability" => filter.capability = Some(v),
            _ => filter.state = Some(parse_state(&v)?),
        }
    }
    let agents = state.handle.agents(&filter);
    let count = agents.len();
    Ok(json(StatusCode::OK, &AgentList { agents, count }))
}

/// `GET /api/agents/{id}`.
pub(crate) fn get(state: &Arc<AppState>, id: &str) -> Result<Reply, ApiError> {
    let record = state.handle.agent(id).ok_or_else(|| not_found(id))?;
    Ok(json(StatusCode::OK, &record))
}

/// `DELETE /api/agents/{id}` -> 204.
pub(crate) async fn delete(state: &Arc<AppState>, id: &str) -> Result<Reply, ApiError> {
    state.handle.deregister(id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `POST /api/agents/{id}/start|stop|restart` -> 200 with the record and its new state.
pub(crate) async fn lifecycle(
    state: &Arc<AppState>,
    id: &str,
    op: Lifecycle,
) -> Result<Reply, ApiError> {
    let pending = match op {
        Lifecycle::Start => state.handle.start(id),
        Lifecycle::Stop => state.handle.stop(id),
        Lifecycle::Restart => state.handle.restart(id),
    };
    let record = pending.await?;
    Ok(json(StatusCode::OK, &record))
}

#[derive(Serialize)]
struct AgentHealth<'a> {
    id: &'a str,
    state: AgentState,
    health: Health,
    restarts: u32,
    failures: u32,
    updated_at_ms: u64,
}

/// `GET /api/agents/{id}/health`.
pub(crate) fn health(state: &Arc<AppState>, id: &str) -> Result<Reply, ApiError> {
    let r = state.handle.agent(id).ok_or_else(|| not_found(id))?;
    Ok(json(
        StatusCode::OK,
        &AgentHealth {
            id: r.id(),
            state: r.state,
            health: r.health,
            restarts: r.restarts,
            failures: r.failures,
            updated_at_ms: r.updated_at_ms,
        },
    ))
}
