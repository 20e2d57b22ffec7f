//! One connection: TLS handshake if configured, then hyper's HTTP/1.1 state machine with
//! the header-size limit (431), the header-read timeout (with a real timer: without one
//! hyper ignores the timeout) and graceful shutdown; or, past the per-core connection cap,
//! a canned 503 with `Retry-After`.

use crate::http::reply::{ApiError, RETRY_AFTER_SECONDS};
use crate::http::service;
use crate::http::state::AppState;
use http::StatusCode;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

/// Time a refused client gets to take its 503.
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

/// The bytes of the 503 a refused connection gets.
pub(crate) fn refusal_bytes(node: &str) -> Vec<u8> {
    let body = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "too_many_connections",
        "this server core is at server.connections_per_core_max open connections; retry shortly or reuse a connection",
    )
    .body();
    let mut out = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: {RETRY_AFTER_SECONDS}\r\nx-mabeam-node: {node}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

async fn refuse_io<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, bytes: &[u8]) {
    if s.write_all(bytes).await.is_err() {
        return;
    }
    let _ = s.shutdown().await;
    // Read what the client sent so closing does not reset the connection under it.
    let mut sink = [0u8; 4096];
    let mut total = 0usize;
    while total < 64 * 1024 {
        match s.read(&mut sink).await {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
}

/// Answers 503 + `Retry-After` and closes (past the connection cap).
pub(crate) async fn refuse(stream: TcpStream, tls: Option<TlsAcceptor>, bytes: Arc<[u8]>) {
    let _ = tokio::time::timeout(REFUSE_BUDGET, async {
        match tls {
            None => refuse_io(stream, &bytes).await,
            Some(acceptor) => {
                if let Ok(s) = acceptor.accept(stream).await {
                    refuse_io(s, &bytes).await;
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
    fn refusal_is_a_complete_http_response() {
        let b = refusal_bytes("n1");
        let text = String::from_utf8(b).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains("retry-after: 1"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "too_many_connections");
    }
}
