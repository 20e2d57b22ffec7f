//! `/health`, `/ready`, `/metrics` and `GET /api/metrics/coordination`.

use crate::http::metrics::{self, HttpCollector};
use crate::http::reply::{ApiError, RETRY_AFTER_SECONDS, Reply, bytes_reply, json};
use crate::http::routes::query;
use crate::http::state::AppState;
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::request::Parts;
use mabeam_engine::telemetry::{CONTENT_TYPE as PROMETHEUS, PREFIX, Window};
use prometheus_client::registry::Registry;
use serde::Serialize;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A component's state in `/health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ServiceState {
    Up,
    Draining,
    Degraded,
    Down,
}

#[derive(Debug, Serialize)]
struct Services {
    core: ServiceState,
    agent_registry: ServiceState,
    coordination: ServiceState,
    telemetry: ServiceState,
}

#[derive(Debug, Serialize)]
struct HealthBody<'a> {
    status: &'static str,
    node: &'a str,
    services: Services,
    workers: usize,
    agents: usize,
    ready: bool,
}

/// The workers' state from their heartbeats: a worker beats at least once per
/// `min(agent_registry.health_check_interval, performance.gc_frequency)` even when idle.
/// Older than two periods plus `health_monitoring.health_check_timeout`: degraded; older
/// than `unhealthy_threshold` times that, or exited: down.
pub(crate) fn core_state(state: &AppState, now_ms: u64) -> ServiceState {
    let cfg = state.handle.config();
    let period = cfg
        .agent_registry
        .health_check_interval
        .min(cfg.performance.gc_frequency);
    let degraded_after =
        u64::try_from((period * 2 + cfg.health_monitoring.health_check_timeout).as_millis())
            .unwrap_or(u64::MAX);
    let down_after =
        degraded_after.saturating_mul(u64::from(cfg.health_monitoring.unhealthy_threshold));
    let mut worst = ServiceState::Up;
    for (_pinned, beat_ms, exited) in state.handle.worker_status() {
        let age = now_ms.saturating_sub(beat_ms);
        let s = if exited || age > down_after {
            ServiceState::Down
        } else if age > degraded_after {
            ServiceState::Degraded
        } else {
            ServiceState::Up
        };
        worst = worst.max(s);
    }
    worst
}

fn health_body(state: &AppState) -> (StatusCode, Vec<u8>) {
    let handle = &state.handle;
    let cfg = handle.config();
    let draining = state.is_draining() || !handle.is_ready();
    let agents = handle.agent_count();
    let services = Services {
        core: core_state(state, unix_ms()),
        agent_registry: if agents >= cfg.effective_max_agents() {
            ServiceState::Degraded
        } else {
            ServiceState::Up
        },
        coordination: if draining {
            ServiceState::Draining
        } else {
            ServiceState::Up
        },
        telemetry: if state.over_memory() {
            ServiceState::Degraded
        } else {
            ServiceState::Up
        },
    };
    let worst = [
        services.core,
        services.agent_registry,
        services.coordination,
        services.telemetry,
    ]
    .into_iter()
    .max()
    .unwrap_or(ServiceState::Up);
    let (status, code) = match worst {
        ServiceState::Up | ServiceState::Draining => ("healthy", StatusCode::OK),
        ServiceState::Degraded => ("degraded", StatusCode::OK),
        ServiceState::Down => ("unhealthy", StatusCode::SERVICE_UNAVAILABLE),
    };
    let body = HealthBody {
        status,
        node: &state.node_id,
        services,
        workers: handle.workers(),
        agents,
        ready: state.not_ready_reason().is_none(),
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| br#"{"status":"unhealthy"}"#.to_vec());
    (code, bytes)
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
            StatusCode::NOT_FOUND,
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
        .telemetry()
        .coordination_metrics(protocol.as_deref(), window, unix_ms())
        .map_err(|e| {
            ApiError::bad_request("invalid_field", e.to_string()).with_field("protocol")
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
        assert_eq!(core_state(&s, unix_ms()), ServiceState::Up);
        s.start_draining();
        let (code, v) = body(ready(&s));
        assert_eq!(
            (code, v["reason"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("draining"))
        );
        assert_eq!(body(health(&s)).1["services"]["coordination"], "draining");
        drop(s);
        engine.shutdown();
    }

    #[test]
    fn stale_or_exited_workers_are_down() {
        let engine = Engine::start(Config::test_min()).unwrap();
        let s = state(&engine);
        // An hour from now every heartbeat is far overdue.
        assert_eq!(core_state(&s, unix_ms() + 3_600_000), ServiceState::Down);
        let handle = engine.handle();
        engine.shutdown();
        assert!(handle.worker_status().iter().all(|w| w.2));
        assert_eq!(core_state(&s, unix_ms()), ServiceState::Down);
        let (code, v) = body(health(&s));
        assert_eq!(
            (code, v["status"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("unhealthy"))
        );
    }
}
