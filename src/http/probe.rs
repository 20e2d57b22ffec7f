//! The probe listener (`server.probe_listen`): `/health` and `/ready` on an address of
//! their own, answered by one `mabeam-probe` thread, outside the API's per-core
//! connection cap. A flood that fills the API's connections cannot make the liveness
//! probe fail, so an orchestrator does not restart a node for being busy.
//!
//! The probe listener stays open through the whole drain (the API listeners close
//! first), so `/ready` is seen false for `server.drain_grace_ms`. It serves plain HTTP
//! and nothing but the two probes; bind it to an address only the orchestrator reaches.

use crate::http::conn;
use crate::http::reply::{ApiError, Reply};
use crate::http::routes;
use crate::http::service::NODE_HEADER;
use crate::http::state::AppState;
use http::header::{CONNECTION, HeaderValue};
use http::{Method, Request};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use mabeam_engine::api::ErrorClass;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;

/// Probe connections open at once; past it a new one gets a canned 503 and is closed
/// (probes open a connection each, a few per period).
const PROBE_CONNECTIONS_MAX: usize = 64;
/// Time a probe connection gets to finish once the listener stops.
const CLOSE_BUDGET: Duration = Duration::from_millis(500);

/// A running probe listener.
#[derive(Debug)]
pub(crate) struct ProbeServer {
    thread: JoinHandle<()>,
    stop: watch::Sender<bool>,
    local_addr: SocketAddr,
}

impl ProbeServer {
    /// Binds `addr` and starts the `mabeam-probe` thread.
    pub(crate) fn start(state: Arc<AppState>, addr: SocketAddr) -> io::Result<ProbeServer> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("mabeam-probe".to_owned())
            .spawn(move || rt.block_on(run(listener, state, stop_rx)))?;
        Ok(ProbeServer {
            thread,
            stop,
            local_addr,
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Closes the listener and joins the thread.
    pub(crate) fn shutdown(self) {
        let _ = self.stop.send(true);
        if self.thread.join().is_err() {
            tracing::error!("the probe thread panicked");
        }
    }
}

async fn run(
    listener: std::net::TcpListener,
    state: Arc<AppState>,
    mut stop: watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "could not register the probe listener");
            return;
        }
    };
    let open = Arc::new(AtomicUsize::new(0));
    let overflow = conn::overflow_bytes(&state.node_id);
    loop {
        tokio::select! {
            biased;
            _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    if open.load(Ordering::Relaxed) >= PROBE_CONNECTIONS_MAX {
                        conn::refuse_at_once(&stream, false, &overflow);
                        continue;
                    }
                    open.fetch_add(1, Ordering::Relaxed);
                    let _ = stream.set_nodelay(true);
                    let state = Arc::clone(&state);
                    let open = Arc::clone(&open);
                    let stop = stop.clone();
                    tokio::spawn(async move {
                        serve(stream, state, stop).await;
                        open.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "probe accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(CLOSE_BUDGET, async {
        while open.load(Ordering::Relaxed) > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

async fn serve(
    stream: tokio::net::TcpStream,
    state: Arc<AppState>,
    mut stop: watch::Receiver<bool>,
) {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.settings.header_read_timeout)
        .max_buf_size(8_192)
        .keep_alive(true);
    let svc_state = Arc::clone(&state);
    let svc = service_fn(move |req| answer(Arc::clone(&svc_state), req));
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(CLOSE_BUDGET, conn).await;
        }
    }
}

/// The answer to `GET` (or `HEAD`) `/health` or `/ready`; `None` for anything else.
/// Shared by the probe listener and the connections past the API's cap.
pub(crate) fn probe_reply<B>(state: &Arc<AppState>, req: &Request<B>) -> Option<Reply> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    match req.uri().path() {
        "/health" => Some(routes::health(state)),
        "/ready" => Some(routes::ready(state)),
        _ => None,
    }
}

/// `/health` and `/ready`; anything else is 404 or 405. A request body is never read,
/// so an answer to one closes the connection.
async fn answer(state: Arc<AppState>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let path = req.uri().path();
    let mut resp = match probe_reply(&state, &req) {
        Some(r) => r,
        None if matches!(path, "/health" | "/ready") => {
            ApiError::method_not_allowed(req.method(), "GET, HEAD").into_reply()
        }
        None => ApiError::new(
            ErrorClass::NotFound,
            "not_found",
            format!(
                "no route {:?} on the probe listener (server.probe_listen): it serves GET /health and GET /ready only",
                crate::http::reply::truncate(path, 128)
            ),
        )
        .into_reply(),
    };
    resp.headers_mut()
        .insert(NODE_HEADER, state.node_header.clone());
    if crate::http::body::present(req.headers()) {
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(resp)
}
