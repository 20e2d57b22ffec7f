//! `/health`, `/ready`, `/metrics` and `GET /api/metrics/coordination`.

use crate::http::metrics::{self, HttpCollector};
use crate::http::reply::{ApiError, RETRY_AFTER_SECONDS, Reply, bytes_reply, json};
use crate::http::routes::query;
use crate::http::state::AppState;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::request::Parts;
use mabeam_engine::api::ErrorClass;
use mabeam_engine::api::{EngineError, HealthStatus, ServiceHealth};
use mabeam_engine::telemetry::{CONTENT_TYPE as PROMETHEUS, PREFIX, Window};
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::sync::Arc;

pub(crate) use mabeam_engine::api::unix_ms;

#[derive(Debug, Serialize)]
struct HealthBody<'a> {
    status: HealthStatus,
    timestamp: String,
    node: &'a str,
    services: &'a std::collections::BTreeMap<&'static str, ServiceHealth>,
    workers: &'a [mabeam_engine::api::WorkerHealth],
    agents: usize,
    ready: bool,
}

/// The engine's own health (`Handle::health`: worker heartbeats, memory, limits),
/// with this server's drain on top: once SIGTERM arrives, `core` reads `draining`.
fn health_body(state: &AppState) -> (StatusCode, Vec<u8>) {
    let handle = &state.handle;
    let mut health = handle.health();
    if state.is_draining() && health.services.get("core") == Some(&ServiceHealth::Up) {
        health.services.insert("core", ServiceHealth::Draining);
        if health.status == HealthStatus::Healthy {
            health.status = HealthStatus::Degraded;
        }
    }
    let code = match health.status {
        HealthStatus::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
        HealthStatus::Healthy | HealthStatus::Degraded => StatusCode::OK,
    };
    let body = HealthBody {
        status: health.status,
        timestamp: rfc3339_utc(unix_ms()),
        node: &state.node_id,
        services: &health.services,
        workers: &health.workers,
        agents: handle.agent_count(),
        ready: state.not_ready_reason().is_none(),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| br#"{"status":"unhealthy"}"#.to_vec());
    (code, bytes)
}

/// `ms` since the Unix epoch as RFC 3339 UTC with milliseconds, e.g.
/// `2026-01-02T03:04:05.678Z` (the deployment guide's `timestamp`).
fn rfc3339_utc(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// `GET /health`: liveness.
pub(crate) fn health(state: &Arc<AppState>) -> Reply {
    let (code, body) = health_body(state);
    bytes_reply(code, body)
}

/// `GET /ready`: readiness; 503 while starting, draining or over the memory budget.
pub(crate) fn ready(state: &Arc<AppState>) -> Reply {
    match state.not_ready_reason() {
        None => bytes_reply(StatusCode::OK, &br#"{"ready":true}"#[..]),
        Some(reason) => {
            let mut r = json(
                StatusCode::SERVICE_UNAVAILABLE,
                &serde_json::json!({"ready": false, "reason": reason}),
            );
            r.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
            r
        }
    }
}

/// `GET /metrics`: the engine's families and the HTTP families in one exposition.
pub(crate) fn metrics(state: &Arc<AppState>) -> Result<Reply, ApiError> {
    let cfg = state.handle.config();
    if !cfg.telemetry.metrics_enabled {
        return Err(ApiError::new(
            ErrorClass::NotFound,
            "metrics_disabled",
            "metrics export is off (telemetry.metrics_enabled = false)",
        ));
    }
    let telemetry = state.handle.telemetry();
    telemetry.request_flush();
    // Publish this thread's own recorder now; the others publish at their next tick.
    metrics::with_recorder(|rec| {
        rec.flush();
    });
    let mut registry = Registry::with_prefix(PREFIX);
    registry.register_collector(Box::new(telemetry.collector()));
    registry.register_collector(Box::new(HttpCollector(Arc::clone(&state.metrics))));
    let mut out = String::with_capacity(48 * 1024);
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        .map_err(|e| ApiError::internal(format!("metrics exposition failed: {e}")))?;
    let mut r = bytes_reply(StatusCode::OK, out);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROMETHEUS));
    Ok(r)
}

/// `GET /api/metrics/coordination?protocol=P&window=1m|1h|24h`.
pub(crate) fn coordination_metrics(
    state: &Arc<AppState>,
    parts: &Parts,
) -> Result<Reply, ApiError> {
    let params = query::parse(parts.uri.query(), &["protocol", "window"])?;
    let mut protocol = None;
    let mut window = Window::OneMinute;
    for (k, v) in params {
        match k {
            "protocol" if v == "all" || v.is_empty() => protocol = None,
            "protocol" => protocol = Some(v),
            _ => {
                window = v
                    .parse()
                    .map_err(|e: mabeam_engine::telemetry::TelemetryError| {
                        ApiError::bad_request("invalid_field", e.to_string()).with_field("window")
                    })?;
            }
        }
    }
    metrics::with_recorder(|rec| {
        rec.flush();
    });
    let summary = state
        .handle
        .coordination_metrics(protocol.as_deref(), window)
        .map_err(|e| match e {
            EngineError::InvalidInput(m) => {
                ApiError::bad_request("invalid_field", m).with_field("protocol")
            }
            other => ApiError::from(other),
        })?;
    Ok(json(StatusCode::OK, &summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::metrics::HttpMetrics;
    use mabeam_engine::api::Engine;
    use mabeam_engine::profile::Config;
    use std::sync::atomic::AtomicU64;

    fn state(engine: &Engine) -> Arc<AppState> {
        let metrics = Arc::new(HttpMetrics::new(1, Arc::new(AtomicU64::new(0))));
        Arc::new(AppState::new(engine.handle(), "n1".into(), None, metrics))
    }

    fn body(r: Reply) -> (StatusCode, serde_json::Value) {
        let status = r.status();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = rt.block_on(async {
            use http_body_util::BodyExt as _;
            r.into_body().collect().await.unwrap().to_bytes()
        });
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn readiness_follows_start_and_drain() {
        let mut config = Config::test_min();
        config.performance.memory_limit_mb = 1_048_576;
        let engine = Engine::start(config).unwrap();
        let s = state(&engine);
        let (code, v) = body(ready(&s));
        assert_eq!(
            (code, v["reason"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("starting"))
        );
        s.set_serving();
        assert_eq!(body(ready(&s)).0, StatusCode::OK);
        let (code, v) = body(health(&s));
        assert_eq!(code, StatusCode::OK);
        assert_eq!(v["status"], "healthy");
        assert_eq!(v["node"], "n1");
        s.start_draining();
        let (code, v) = body(ready(&s));
        assert_eq!(
            (code, v["reason"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("draining"))
        );
        assert_eq!(body(health(&s)).1["services"]["core"], "draining");
        drop(s);
        engine.shutdown();
    }

    #[test]
    fn exited_workers_make_the_node_unhealthy() {
        let engine = Engine::start(Config::test_min()).unwrap();
        let s = state(&engine);
        engine.shutdown();
        let (code, v) = body(health(&s));
        assert_eq!(
            (code, v["status"].as_str(), v["services"]["core"].as_str()),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Some("unhealthy"),
                Some("down")
            )
        );
    }
}
