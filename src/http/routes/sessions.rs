//! Live sessions over HTTP: auctions, markets, consensus rounds, and any session by id.
//!
//! Every call goes to the session's owner worker and is awaited as a future. Bids,
//! orders and votes carry the `Idempotency-Key` header to the engine, which answers a
//! repeat with the first receipt (422 for another payload). A token may bid, order and
//! vote only as its own agent.

use crate::http::auth::Principal;
use crate::http::body;
use crate::http::idempotency;
use crate::http::reply::{ApiError, Reply, json};
use crate::http::state::AppState;
use http::StatusCode;
use http::header::{HeaderMap, HeaderValue, LOCATION};
use mabeam_engine::coord::{Bid, Order, Vote};
use mabeam_engine::session::{OpenAuction, OpenConsensus, OpenMarket};
use serde::Serialize;
use std::sync::Arc;

fn created<T: Serialize>(kind: &str, id: &str, view: &T) -> Reply {
    let mut r = json(StatusCode::CREATED, view);
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/{kind}/{id}")) {
        r.headers_mut().insert(LOCATION, loc);
    }
    r
}

fn key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    idempotency::key_of(headers)
}

/// `POST /api/auctions` -> 201 `{"id","state":"open",...}`.
pub(crate) async fn open_auction(state: &Arc<AppState>, bytes: &[u8]) -> Result<Reply, ApiError> {
    let req: OpenAuction = body::parse(bytes)?;
    let view = state.handle.open_auction(req).await?;
    Ok(created("auctions", &view.id, &view))
}

/// `GET /api/auctions/{id}`.
pub(crate) async fn auction(state: &Arc<AppState>, id: &str) -> Result<Reply, ApiError> {
    Ok(json(StatusCode::OK, &state.handle.auction(id).await?))
}

/// `POST /api/auctions/{id}/bids` -> 202 `{"bid_id",...}`.
pub(crate) async fn bid(
    state: &Arc<AppState>,
    principal: &Principal,
    headers: &HeaderMap,
    id: &str,
    bytes: &[u8],
) -> Result<Reply, ApiError> {
    let bid: Bid = body::parse(bytes)?;
    principal.may_act_as(&bid.agent_id)?;
    let receipt = state.handle.bid(id, bid, key(headers)?).await?;
    Ok(json(StatusCode::ACCEPTED, &receipt))
}

/// `POST /api/auctions/{id}/close` -> 200 with the outcome.
pub(crate) async fn close_auction(state: &Arc<AppState>, id: &str) -> Result<Reply, ApiError> {
    Ok(json(StatusCode::OK, &state.handle.close_auction(id).await?))
}

/// `POST /api/markets` -> 201.
pub(crate) async fn open_market(state: &Arc<AppState>, bytes: &[u8]) -> Result<Reply, ApiError> {
    let req: OpenMarket = body::parse(bytes)?;
    let view = state.handle.open_market(req).await?;
    Ok(created("markets", &view.id, &view))
}

/// `GET /api/markets/{id}`.
pub(crate) async fn market(state: &Arc<AppState>, id: &str) -> Result<Reply, ApiError> {
    Ok(json(StatusCode::OK, &state.handle.market(id).await?))
}

/// `POST /api/markets/{id}/orders` -> 202 `{"order_id","fills":[...]}`.
pub(crate) async fn order(
    state: &Arc<AppState>,
    principal: &Principal,
    headers: &HeaderMap,
    id: &str,
    bytes: &[u8],
) -> Result<Reply, ApiError> {
    let order: Order = body::parse(bytes)?;
    principal.may_act_as(&order.agent_id)?;
    let receipt = state.handle.order(id, order, key(headers)?).await?;
    Ok(json(StatusCode::ACCEPTED, &receipt))
}

/// `POST /api/markets/{id}/clear` -> 200 with the call's outcome.
pub(crate) async fn clear_market(state: &Arc<AppState>, id: &str) -> Result<Reply, ApiError> {
    Ok(json(StatusCode::OK, &state.handle.clear_market(id).await?))
}

/// `POST /api/consensus` -> 201 (extension).
pub(crate) async fn open_consensus(state: &Arc<AppState>, bytes: &[u8]) -> Result<Reply, ApiError> {
    let req: OpenConsensus = body::parse(bytes)?;
    let view = state.handle.open_consensus(req).await?;
    Ok(created("consensus", &view.id, &view))
}

/// `GET /api/consensus/{id}` (extension).
pub(crate) async fn consensus(state: &Arc<AppState>, id: &str) -> Result<Reply, ApiError> {
    Ok(json(StatusCode::OK, &state.handle.consensus(id).await?))
}

/// `POST /api/consensus/{id}/votes` -> 202 (extension).
pub(crate) async fn vote(
    state: &Arc<AppState>,
    principal: &Principal,
    headers: &HeaderMap,
    id: &str,
    bytes: &[u8],
) -> Result<Reply, ApiError> {
    let vote: Vote = body::parse(bytes)?;
    principal.may_act_as(&vote.agent_id)?;
    let receipt = state.handle.vote(id, vote, key(headers)?).await?;
    Ok(json(StatusCode::ACCEPTED, &receipt))
}

/// `POST /api/consensus/{id}/close` -> 200 with the decision (extension).
pub(crate) async fn close_consensus(state: &Arc<AppState>, id: &str) -> Result<Reply, ApiError> {
    Ok(json(
        StatusCode::OK,
        &state.handle.close_consensus(id).await?,
    ))
}

/// `GET /api/sessions`.
pub(crate) async fn list(state: &Arc<AppState>) -> Result<Reply, ApiError> {
    Ok(json(StatusCode::OK, &state.handle.sessions().await?))
}

/// `GET /api/sessions/{id}`.
pub(crate) async fn get(state: &Arc<AppState>, id: &str) -> Result<Reply, ApiError> {
    Ok(json(StatusCode::OK, &state.handle.session(id).await?))
}

/// `DELETE /api/sessions/{id}`: cancels an open session; 200 with its final view.
pub(crate) async fn cancel(state: &Arc<AppState>, id: &str) -> Result<Reply, ApiError> {
    Ok(json(
        StatusCode::OK,
        &state.handle.cancel_session(id).await?,
    ))
}
