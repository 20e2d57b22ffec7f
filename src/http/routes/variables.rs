//! Shared variables over HTTP. A token writes a variable only as its own agent.

use crate::http::auth::Principal;
use crate::http::body;
use crate::http::reply::{ApiError, Reply, json};
use crate::http::routes::query;
use crate::http::state::AppState;
use http::StatusCode;
use http::header::{HeaderValue, LOCATION};
use http::request::Parts;
use mabeam_engine::variables::{CoordinateRequest, CreateRequest, UpdateRequest};
use std::sync::Arc;

/// `POST /api/variables` -> 201 `{"name","value","version":1}`.
pub(crate) async fn create(
    state: &Arc<AppState>,
    principal: &Principal,
    bytes: &[u8],
) -> Result<Reply, ApiError> {
    let req: CreateRequest = body::parse(bytes)?;
    match &req.agent_id {
        Some(agent) => principal.may_act_as(agent)?,
        None => principal.require_operator()?,
    }
    let name = req.name.clone();
    let resp = state.handle.create_variable(req).await?;
    let mut r = json(StatusCode::CREATED, &resp);
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/variables/{name}")) {
        r.headers_mut().insert(LOCATION, loc);
    }
    Ok(r)
}

/// `GET /api/variables/{name}`.
pub(crate) async fn get(state: &Arc<AppState>, name: &str) -> Result<Reply, ApiError> {
    Ok(json(
        StatusCode::OK,
        &state.handle.get_variable(name).await?,
    ))
}

/// `PUT /api/variables/{name}` -> 200; a stale `version` is 409.
pub(crate) async fn update(
    state: &Arc<AppState>,
    principal: &Principal,
    name: &str,
    bytes: &[u8],
) -> Result<Reply, ApiError> {
    let req: UpdateRequest = body::parse(bytes)?;
    principal.may_act_as(&req.agent_id)?;
    Ok(json(
        StatusCode::OK,
        &state.handle.update_variable(name, req).await?,
    ))
}

/// `GET /api/variables/{name}/history?limit=N`, newest first.
pub(crate) async fn history(
    state: &Arc<AppState>,
    parts: &Parts,
    name: &str,
) -> Result<Reply, ApiError> {
    let mut limit = None;
    for (_, v) in query::parse(parts.uri.query(), &["limit"])? {
        limit = Some(v.parse::<usize>().map_err(|_| {
            ApiError::bad_request("invalid_field", "`limit` must be a non-negative integer")
                .with_field("limit")
        })?);
    }
    Ok(json(
        StatusCode::OK,
        &state.handle.variable_history(name, limit).await?,
    ))
}

/// `POST /api/variables/{name}/coordinate`: a vote or auction among stakeholders.
pub(crate) async fn coordinate(
    state: &Arc<AppState>,
    name: &str,
    bytes: &[u8],
) -> Result<Reply, ApiError> {
    let req: CoordinateRequest = body::parse(bytes)?;
    Ok(json(
        StatusCode::OK,
        &state.handle.coordinate_variable(name, req).await?,
    ))
}
