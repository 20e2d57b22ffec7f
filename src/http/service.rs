//! The per-request pipeline: route, authenticate, run the handler under the request
//! timeout with panics caught, then add `X-Mabeam-Node`, record metrics and audit.
//!
//! Nothing a client sends can take the server down: every failure becomes a JSON error,
//! a handler panic becomes a 500 (counted), and the connection keeps serving.

use crate::http::audit::AuditRecord;
use crate::http::auth::Principal;
use crate::http::client;
use crate::http::quota::Client;
use crate::http::reply::{ApiError, Reply};
use crate::http::router::{self, Family, Route};
use crate::http::routes::{self, Call};
use crate::http::state::AppState;
use http::header::{CONNECTION, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use mabeam_engine::api::ErrorClass;
use mabeam_engine::profile::AuditLevel;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

/// Every response names the node that answered.
pub(crate) const NODE_HEADER: HeaderName = HeaderName::from_static("x-mabeam-node");

/// Polls a future, turning a panic into `Err` (the last line of defence: handlers return
/// typed errors; this only catches bugs).
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err(())),
        }
    }
}

/// Runs the handler of `route` with the timeout and the panic guard.
async fn guarded(
    state: &Arc<AppState>,
    core: usize,
    route: Route<'_>,
    call: Call<'_>,
) -> Result<Reply, ApiError> {
    let stats = state.metrics.thread(core);
    let fut = CatchUnwind(Box::pin(routes::run(route, call)));
    match tokio::time::timeout(state.settings.request_timeout, fut).await {
        Ok(Ok(result)) => result,
        Ok(Err(())) => {
            stats.panicked();
            Err(ApiError::internal(
                "the request handler failed unexpectedly; the error is logged and counted (mabeam_http_handler_panics_total)",
            ))
        }
        Err(_) => {
            stats.timed_out();
            Err(ApiError::new(
                ErrorClass::Timeout,
                "request_timeout",
                format!(
                    "the request took longer than {} ms (server.request_timeout_ms); it may still complete; retry idempotently",
                    state.settings.request_timeout.as_millis()
                ),
            ))
        }
    }
}

/// The 429 for a client past its quota (`security.rate_limit_per_second`), if it is.
/// `/metrics` is exempt (scrapers); the probes never get here.
fn over_quota(
    state: &AppState,
    route: &Route<'_>,
    principal: &Principal,
    client: IpAddr,
) -> Option<ApiError> {
    let quota = state.quota.as_ref()?;
    if matches!(route, Route::Metrics) {
        return None;
    }
    let key = match principal {
        Principal::Token {
            agent_id: Some(id), ..
        } => Client::Agent(Arc::clone(id)),
        Principal::Token { role, .. } => Client::Role(role.as_str()),
        Principal::Anonymous => Client::Ip(client),
    };
    quota
        .take(&key, Instant::now())
        .err()
        .map(|wait| ApiError::rate_limited(quota.rate(), wait))
}

/// The 429 for an address past its failed authentications
/// (`security.auth_failures_per_second`), decided before the token is looked at.
fn too_many_failures(state: &AppState, wait: std::time::Duration) -> ApiError {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let s = &state.handle.config().security;
    ApiError::transport(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_auth_failures",
        format!(
            "this address failed authentication more than {} times per second (security.auth_failures_per_second, bursts of security.auth_failures_burst); its requests are refused for now; retry after {seconds} s with a valid token",
            s.auth_failures_per_second
        ),
    )
    .retry_after(seconds)
}

/// Who may send this request: the address's failed-authentication budget (checked
/// before the token), the token and its role, then the client's quota.
fn admit(
    state: &AppState,
    core: usize,
    route: &Route<'_>,
    headers: &http::HeaderMap,
    client: IpAddr,
) -> Result<Principal, ApiError> {
    let failures = state
        .auth_failures
        .as_ref()
        .filter(|_| state.auth.needs_token(route));
    let now = Instant::now();
    let key = Client::network(client);
    if let Some(f) = failures
        && let Err(wait) = f.available(&key, now)
    {
        state.metrics.thread(core).rate_limited();
        return Err(too_many_failures(state, wait));
    }
    let principal = state.auth.check(route, headers).inspect_err(|e| {
        if e.status == StatusCode::UNAUTHORIZED
            && let Some(f) = failures
        {
            // Spend one from the address's budget; an empty one is refused next time.
            let _ = f.take(&key, now);
        }
    })?;
    if let Some(e) = over_quota(state, route, &principal, client) {
        state.metrics.thread(core).rate_limited();
        return Err(e);
    }
    Ok(principal)
}

/// Answers one request. Never fails: every error is a response.
pub(crate) async fn handle(
    state: Arc<AppState>,
    core: usize,
    peer: IpAddr,
    req: Request<Incoming>,
) -> Result<Reply, Infallible> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let has_body = crate::http::body::present(&parts.headers);
    let body_read = AtomicBool::new(false);
    let client = client::address(peer, &parts.headers, &state.trusted_proxies);
    let mut principal = Principal::Anonymous;
    let mut audited = false;
    let (family, result) = match router::resolve(&parts.method, parts.uri.path()) {
        Err(e) => (Family::Unmatched, Err(e)),
        Ok(route) => {
            let family = route.family();
            audited = match state.audit_level {
                AuditLevel::Writes => route.is_write(),
                AuditLevel::All => !matches!(route, Route::Health | Route::Ready | Route::Metrics),
            };
            let result = match route {
                // The probes answer inline: no body, no wait, no timer.
                Route::Health => Ok(routes::health(&state)),
                Route::Ready => Ok(routes::ready(&state)),
                _ => match admit(&state, core, &route, &parts.headers, client) {
                    Err(e) => Err(e),
                    Ok(p) => {
                        principal = p;
                        let call = Call {
                            state: &state,
                            parts: &parts,
                            principal: &principal,
                            body: Some(body),
                            read: None,
                            body_read: &body_read,
                        };
                        guarded(&state, core, route, call).await
                    }
                },
            };
            (family, result)
        }
    };
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            let unauthorized = e.status == StatusCode::UNAUTHORIZED;
            let mut r = e.into_reply();
            if unauthorized {
                r.headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            r
        }
    };
    resp.headers_mut()
        .insert(NODE_HEADER, state.node_header.clone());
    // The connection ends after this answer when the server drains, or when the answer
    // goes out before the body was read (hyper cannot reuse the connection then): say so.
    if state.is_draining() || (has_body && !body_read.load(Ordering::Relaxed)) {
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let elapsed = started.elapsed();
    let status = resp.status().as_u16();
    state.metrics.thread(core).record(family, status, elapsed);
    if let Some(audit) = &state.audit {
        if matches!(status, 401 | 403 | 429) {
            // Refusals are counted per address and interval, never a line each.
            audit.refused(client, status);
        } else if audited {
            audit.log(AuditRecord {
                ts_ms: crate::http::routes::unix_ms(),
                client,
                who: principal.who().to_owned(),
                role: principal.role(),
                method: parts.method.as_str().to_owned(),
                path: crate::http::reply::truncate(parts.uri.path(), 256).to_owned(),
                status,
                latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            });
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_errors() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let out = rt.block_on(CatchUnwind(Box::pin(async {
            let v: Vec<u8> = Vec::new();
            v[usize::from(v.is_empty())]
        })));
        std::panic::set_hook(prev);
        assert_eq!(out, Err(()));
        let ok = rt.block_on(CatchUnwind(Box::pin(async { 7 })));
        assert_eq!(ok, Ok(7));
    }
}
