//! What every HTTP thread shares: the engine handle, limits, auth, audit, metrics and the
//! readiness switches.

use crate::http::audit::AuditSink;
use crate::http::auth::Auth;
use crate::http::idempotency::Idempotency;
use crate::http::metrics::HttpMetrics;
use crate::http::quota::Quota;
use http::HeaderValue;
use ipnet::IpNet;
use mabeam_engine::api::Handle;
use mabeam_engine::profile::{AuditLevel, Config};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Most one-shot requests in one `POST /api/coordinate/batch`.
pub(crate) const BATCH_REQUESTS_MAX: usize = 4_096;

/// The `[server]` limits in the form the server uses them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerSettings {
    pub(crate) listen: SocketAddr,
    pub(crate) body_max_bytes: usize,
    pub(crate) header_max_bytes: usize,
    pub(crate) header_read_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) connections_per_core_max: usize,
    pub(crate) graceful_shutdown_timeout: Duration,
}

impl ServerSettings {
    pub(crate) fn from_config(config: &Config) -> Self {
        let s = &config.server;
        Self {
            listen: s.listen,
            body_max_bytes: s.body_max_bytes,
            header_max_bytes: s.header_max_bytes,
            header_read_timeout: s.header_read_timeout_ms,
            request_timeout: s.request_timeout_ms,
            connections_per_core_max: s.connections_per_core_max,
            graceful_shutdown_timeout: config.core.graceful_shutdown_timeout,
        }
    }
}

/// Shared by every HTTP thread and connection.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) handle: Handle,
    pub(crate) settings: ServerSettings,
    pub(crate) node_id: String,
    pub(crate) node_header: HeaderValue,
    pub(crate) auth: Auth,
    pub(crate) audit: Option<AuditSink>,
    pub(crate) metrics: Arc<HttpMetrics>,
    pub(crate) idempotency: Idempotency,
    /// Per-client request quotas, when `security.rate_limit_per_second` is set.
    pub(crate) quota: Option<Quota>,
    /// Failed authentications per client address, when auth is on and
    /// `security.auth_failures_per_second` is set: an address with an empty bucket is
    /// refused before its token is looked at.
    pub(crate) auth_failures: Option<Quota>,
    /// `security.trusted_proxies`: peers whose `X-Forwarded-For` names the client.
    pub(crate) trusted_proxies: Vec<IpNet>,
    /// `security.audit_level`.
    pub(crate) audit_level: AuditLevel,
    /// Set once every HTTP thread listens.
    serving: AtomicBool,
    /// Set when shutdown begins: `/ready` turns false first.
    draining: AtomicBool,
    /// Turns true when shutdown begins: clearings in flight on the pool are stopped and
    /// answered 503 (and new ones refused), so shutdown never waits for a long clearing.
    stop_clearing: watch::Sender<bool>,
}

impl AppState {
    pub(crate) fn new(
        handle: Handle,
        node_id: String,
        audit: Option<AuditSink>,
        metrics: Arc<HttpMetrics>,
    ) -> Self {
        let config = handle.config();
        let node_header =
            HeaderValue::from_str(&node_id).unwrap_or_else(|_| HeaderValue::from_static("mabeam"));
        Self {
            settings: ServerSettings::from_config(config),
            auth: Auth::new(&config.security),
            idempotency: Idempotency::new(config.coordination.idempotency_keys_max),
            quota: Quota::new(
                config.security.rate_limit_per_second,
                config.security.rate_limit_burst,
            ),
            auth_failures: if config.security.auth_enabled {
                Quota::new(
                    config.security.auth_failures_per_second,
                    config.security.auth_failures_burst,
                )
            } else {
                None
            },
            trusted_proxies: config.security.trusted_proxies.clone(),
            audit_level: config.security.audit_level,
            node_id,
            node_header,
            audit,
            metrics,
            handle,
            serving: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            stop_clearing: watch::Sender::new(false),
        }
    }

    pub(crate) fn set_serving(&self) {
        self.serving.store(true, Ordering::Release);
    }

    pub(crate) fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
        self.stop_clearing.send_replace(true);
    }

    /// Resolves once shutdown has begun (at once if it has).
    pub(crate) async fn clearing_stopped(&self) {
        let mut rx = self.stop_clearing.subscribe();
        // An error means the sender is gone, which only happens with `self`: stop too.
        let _ = rx.wait_for(|stop| *stop).await;
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Over `performance.memory_limit_mb` by the last sample.
    pub(crate) fn over_memory(&self) -> bool {
        let limit = self.handle.config().performance.memory_limit_mb;
        self.handle.telemetry().memory_over_limit(limit)
    }

    /// Why the node is not ready, or `None` when it is.
    pub(crate) fn not_ready_reason(&self) -> Option<&'static str> {
        if self.is_draining() {
            Some("draining")
        } else if !self.serving.load(Ordering::Acquire) || !self.handle.is_ready() {
            Some("starting")
        } else if self.over_memory() {
            Some("memory_limit")
        } else {
            None
        }
    }
}
