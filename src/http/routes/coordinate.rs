//! `POST /api/coordinate` (a light request is cleared on the receiving HTTP thread, the
//! rest on the engine's clearing pool) and `POST /api/coordinate/batch` (cleared together
//! on the clearing pool). Work on the pool is awaited, never blocked on: the HTTP thread
//! keeps serving its other connections, and the one-shot deadline
//! (`coordination.default_timeout`) or shutdown stops the clearing and answers 504 or 503.

use crate::http::body;
use crate::http::metrics::record_cleared;
use crate::http::reply::{ApiError, Reply, json};
use crate::http::state::{AppState, BATCH_REQUESTS_MAX};
use http::StatusCode;
use mabeam_engine::api::{Clearing, EngineError};
use mabeam_engine::coord::{CoordError, CoordinationOutcome, CoordinationRequest, clears_inline};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

/// Awaits a clearing on the pool: its answer, or 504 `coordination_timeout` once its
/// deadline passes, or 503 `shutting_down` once shutdown begins. Returning drops the
/// clearing, which stops it.
async fn await_clearing<T>(state: &AppState, clearing: Clearing<T>) -> Result<T, EngineError> {
    let timed_out = clearing.timed_out();
    let deadline = tokio::time::sleep(clearing.deadline());
    tokio::select! {
        res = clearing => res,
        () = deadline => Err(timed_out),
        () = state.clearing_stopped() => Err(EngineError::ShuttingDown),
    }
}

/// `POST /api/coordinate`: one request, cleared right here when light, else on the pool.
pub(crate) async fn one(state: &Arc<AppState>, bytes: &[u8]) -> Result<Reply, ApiError> {
    let req: CoordinationRequest = body::parse(bytes)?;
    let started = Instant::now();
    if clears_inline(&req) {
        let res = state.handle.coordinate(&req);
        record_cleared(state.handle.config(), &req, &res, started.elapsed());
        return Ok(json(StatusCode::OK, &res?));
    }
    let req = Arc::new(req);
    let clearing = state.handle.coordinate_on_pool(Arc::clone(&req));
    let res = match await_clearing(state, clearing).await {
        Ok(outcome) => Ok(outcome),
        Err(EngineError::Coord(e)) => Err(e),
        Err(e) => {
            // Stopped (deadline or shutdown) or refused by the pool: a failure.
            record_cleared(
                state.handle.config(),
                &req,
                &Err(CoordError::Cancelled),
                started.elapsed(),
            );
            return Err(e.into());
        }
    };
    record_cleared(state.handle.config(), &req, &res, started.elapsed());
    Ok(json(StatusCode::OK, &res?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    requests: Vec<serde_json::Value>,
}

#[derive(Serialize)]
struct ErrorItem {
    error: ErrorDetail,
}

#[derive(Serialize)]
struct ErrorDetail {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Item {
    Outcome(CoordinationOutcome),
    Error(ErrorItem),
}

impl From<ApiError> for Item {
    fn from(e: ApiError) -> Self {
        Item::Error(ErrorItem {
            error: ErrorDetail {
                code: e.code,
                message: e.message,
                field: e.field,
            },
        })
    }
}

#[derive(Serialize)]
struct BatchReply {
    outcomes: Vec<Item>,
}

/// `POST /api/coordinate/batch`: `{"requests":[...]}` -> `{"outcomes":[...]}` in order.
/// Each element is parsed on its own, so one bad element answers an error object in its
/// place (field paths start with `requests[i]`) and the others still clear. The valid
/// ones clear together on the clearing pool, off this thread.
pub(crate) async fn batch(state: &Arc<AppState>, bytes: &[u8]) -> Result<Reply, ApiError> {
    let BatchBody { requests } = body::parse(bytes)?;
    if requests.len() > BATCH_REQUESTS_MAX {
        return Err(ApiError::bad_request(
            "too_many",
            format!(
                "`requests` has {} entries, more than the limit of {BATCH_REQUESTS_MAX}; split the batch",
                requests.len()
            ),
        )
        .with_field("requests"));
    }
    let mut items: Vec<Option<Item>> = Vec::with_capacity(requests.len());
    let mut valid: Vec<CoordinationRequest> = Vec::with_capacity(requests.len());
    for (i, value) in requests.into_iter().enumerate() {
        match body::parse_value::<CoordinationRequest>(value, &format!("requests[{i}]")) {
            Ok(req) => {
                valid.push(req);
                items.push(None);
            }
            Err(e) => items.push(Some(e.into())),
        }
    }
    let started = Instant::now();
    let valid: Arc<[CoordinationRequest]> = valid.into();
    let clearing = state.handle.coordinate_batch_on_pool(Arc::clone(&valid));
    let results = match await_clearing(state, clearing).await {
        Ok(results) => results,
        Err(e) => {
            let stopped = Err(CoordError::Cancelled);
            for req in valid.iter() {
                record_cleared(state.handle.config(), req, &stopped, started.elapsed());
            }
            return Err(e.into());
        }
    };
    let per_request = started
        .elapsed()
        .checked_div(u32::try_from(valid.len().max(1)).unwrap_or(u32::MAX))
        .unwrap_or_default();
    let mut results = valid.iter().zip(results);
    let outcomes = items
        .into_iter()
        .map(|slot| match slot {
            Some(item) => item,
            None => match results.next() {
                Some((req, res)) => {
                    record_cleared(state.handle.config(), req, &res, per_request);
                    match res {
                        Ok(o) => Item::Outcome(o),
                        Err(e) => ApiError::from(e).into(),
                    }
                }
                None => ApiError::internal("the clearing pool returned too few results").into(),
            },
        })
        .collect();
    Ok(json(StatusCode::OK, &BatchReply { outcomes }))
}
