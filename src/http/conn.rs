//! One connection: TLS handshake if configured, then hyper's HTTP/1.1 state machine with
//! the header-size limit (431), the header-read timeout (with a real timer: without one
//! hyper ignores the timeout) and graceful shutdown; or, past the per-core connection cap,
//! the probes answered and anything else a 503 with `Retry-After`.

use crate::http::probe;
use crate::http::reply::{ApiError, RETRY_AFTER_SECONDS, Reply};
use crate::http::service::{self, NODE_HEADER};
use crate::http::state::AppState;
use http::Request;
use http::header::{CONNECTION, HeaderValue};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use mabeam_engine::api::ErrorClass;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

/// Time a connection past the cap gets to send its request and take the answer.
const REFUSE_BUDGET: Duration = Duration::from_millis(500);

/// Serves `stream` until the client leaves, a limit closes it, or shutdown finishes its
/// in-flight request. `_alive` is dropped at the end: the core waits for all of them.
pub(crate) async fn serve(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    state: Arc<AppState>,
    core: usize,
    shutdown: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
) {
    // The client's address, for per-client quotas of anonymous clients.
    let peer = stream
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
    match tls {
        None => serve_io(TokioIo::new(stream), &state, core, peer, shutdown).await,
        Some(acceptor) => {
            let handshake = acceptor.accept(stream);
            match tokio::time::timeout(state.settings.header_read_timeout, handshake).await {
                Ok(Ok(tls_stream)) => {
                    serve_io(TokioIo::new(tls_stream), &state, core, peer, shutdown).await;
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }
    state.metrics.thread(core).connection_closed();
}

async fn serve_io<I>(
    io: I,
    state: &Arc<AppState>,
    core: usize,
    peer: IpAddr,
    mut shutdown: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let s = &state.settings;
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(s.header_read_timeout)
        .max_buf_size(s.header_max_bytes.max(8_192))
        .keep_alive(true);
    let svc_state = Arc::clone(state);
    let svc = service_fn(move |req| service::handle(Arc::clone(&svc_state), core, peer, req));
    let conn = builder.serve_connection(io, svc);
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => {
            if let Err(e) = res {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        _ = async { shutdown.wait_for(|stop| *stop).await.map(|_| ()) } => {
            // Finish the request in flight (if any), then close.
            conn.as_mut().graceful_shutdown();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error while draining");
            }
        }
    }
}

/// The answer on a connection past the cap: the probes as usual (so a full server still
/// answers its liveness and readiness probes), anything else 503 `too_many_connections`
/// with `Retry-After`; the connection closes after it.
fn over_cap(state: &Arc<AppState>, req: &Request<Incoming>) -> Reply {
    let mut resp =
        probe::probe_reply(state, req).unwrap_or_else(|| too_many_connections().into_reply());
    let h = resp.headers_mut();
    h.insert(NODE_HEADER, state.node_header.clone());
    h.insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// The 503 of a connection past a bound.
fn too_many_connections() -> ApiError {
    ApiError::new(
        ErrorClass::Overloaded,
        "too_many_connections",
        "this server is at its connection limit (server.connections_per_core_max); retry shortly or reuse a connection",
    )
}

async fn refuse_io<I>(io: I, state: &Arc<AppState>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(REFUSE_BUDGET)
        .max_buf_size(8_192)
        .keep_alive(false);
    let st = Arc::clone(state);
    let svc = service_fn(move |req| {
        let reply = over_cap(&st, &req);
        async move { Ok::<_, Infallible>(reply) }
    });
    if let Err(e) = builder.serve_connection(io, svc).await {
        tracing::debug!(error = %e, "refused connection ended with an error");
    }
}

/// The bytes of the 503 written at once, without reading the request, when even the
/// connections past the cap are too many to read (a bounded path must still answer).
pub(crate) fn overflow_bytes(node: &str) -> Vec<u8> {
    let body = too_many_connections().body();
    let mut out = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: {RETRY_AFTER_SECONDS}\r\nx-mabeam-node: {node}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// Writes `bytes` if the socket takes them at once (a fresh connection's send buffer is
/// empty), never waiting, and reads what already arrived (closing over unread bytes
/// would reset the connection under the answer); the caller then drops the stream. Over
/// TLS nothing can be said before a handshake, so the connection just closes.
pub(crate) fn refuse_at_once(stream: &TcpStream, tls: bool, bytes: &[u8]) {
    if tls || stream.try_write(bytes).is_err() {
        return;
    }
    let mut sink = [0u8; 4_096];
    for _ in 0..4 {
        match stream.try_read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}

/// Past the connection cap: reads one request head within a short budget, answers it
/// ([`over_cap`]) and closes.
pub(crate) async fn refuse(stream: TcpStream, tls: Option<TlsAcceptor>, state: Arc<AppState>) {
    let _ = tokio::time::timeout(REFUSE_BUDGET, async {
        match tls {
            None => refuse_io(TokioIo::new(stream), &state).await,
            Some(acceptor) => {
                if let Ok(s) = acceptor.accept(stream).await {
                    refuse_io(TokioIo::new(s), &state).await;
                }
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overflow_answer_is_a_complete_http_response() {
        let b = overflow_bytes("n1");
        let text = String::from_utf8(b).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains("retry-after: 1"));
        assert!(head.contains("connection: close"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "too_many_connections");
    }
}
