//! The server: one `mabeam-http-N` thread per worker core, each with its own tokio
//! current_thread runtime and listener, and the shutdown that stops them in order.

use crate::http::conn;
use crate::http::listener::{self, Mode};
use crate::http::metrics;
use crate::http::routes::unix_ms;
use crate::http::state::AppState;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;

/// How often an HTTP thread publishes its telemetry recorder.
const TICK_EVERY: Duration = Duration::from_millis(100);
/// Connections past the cap one core answers at once (probes answered, the rest 503);
/// past it a canned 503 is written without waiting (plain HTTP) and the connection closed.
const REFUSALS_MAX: usize = 256;
/// Threads each runtime may use for blocking work (batch clearing on the pool).
const BLOCKING_THREADS_MAX: usize = 4;

/// A running server.
#[derive(Debug)]
pub(crate) struct Server {
    threads: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
    local_addr: SocketAddr,
    mode: Mode,
}

impl Server {
    /// Binds and starts `cores` HTTP threads.
    pub(crate) fn start(
        state: Arc<AppState>,
        tls: Option<TlsAcceptor>,
        cores: usize,
    ) -> io::Result<Server> {
        let (listeners, mode) = listener::bind(state.settings.listen, cores)?;
        let local_addr = listeners[0].local_addr()?;
        let (stop, stop_rx) = watch::channel(false);
        let mut threads = Vec::with_capacity(listeners.len());
        for (core, l) in listeners.into_iter().enumerate() {
            let state = Arc::clone(&state);
            let tls = tls.clone();
            let rx = stop_rx.clone();
            let t = std::thread::Builder::new()
                .name(format!("mabeam-http-{core}"))
                .spawn(move || run_thread(core, l, state, tls, rx))?;
            threads.push(t);
        }
        state.set_serving();
        Ok(Server {
            threads,
            stop,
            local_addr,
            mode,
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    /// Stops accepting, lets in-flight requests finish (within each thread's grace
    /// period), and joins the threads.
    pub(crate) fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.threads {
            if t.join().is_err() {
                tracing::error!("an HTTP thread panicked");
            }
        }
    }
}

fn run_thread(
    core: usize,
    listener: std::net::TcpListener,
    state: Arc<AppState>,
    tls: Option<TlsAcceptor>,
    stop: watch::Receiver<bool>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS_MAX)
        .thread_name(format!("mabeam-http-{core}-blocking"))
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(core, error = %e, "could not build the HTTP runtime");
            return;
        }
    };
    rt.block_on(run_core(core, listener, state, tls, stop));
}

async fn run_core(
    core: usize,
    listener: std::net::TcpListener,
    state: Arc<AppState>,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    metrics::install_recorder(state.handle.telemetry(), core, unix_ms());
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(core, error = %e, "could not register the listener");
            return;
        }
    };
    let stats = state.metrics.thread(core);
    let overflow = conn::overflow_bytes(&state.node_id);
    let cap = state.settings.connections_per_core_max;
    let refusing = Arc::new(AtomicUsize::new(0));
    let (alive, mut all_closed) = mpsc::channel::<()>(1);
    let conn_stop = stop.clone();
    let mut ticker = tokio::time::interval(TICK_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => break,
            _ = ticker.tick() => metrics::tick(unix_ms()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    if stats.open_connections() >= cap as u64 {
                        stats.connection_refused();
                        // Answering refusals is bounded too: past the cap of refusals in
                        // flight, a canned 503 is written without waiting, then closed.
                        if refusing.load(Ordering::Relaxed) >= REFUSALS_MAX {
                            conn::refuse_at_once(&stream, tls.is_some(), &overflow);
                        } else {
                            refusing.fetch_add(1, Ordering::Relaxed);
                            let refusing = Arc::clone(&refusing);
                            let tls = tls.clone();
                            let state = Arc::clone(&state);
                            tokio::spawn(async move {
                                conn::refuse(stream, tls, state).await;
                                refusing.fetch_sub(1, Ordering::Relaxed);
                            });
                        }
                        continue;
                    }
                    stats.connection_opened();
                    tokio::spawn(conn::serve(
                        stream,
                        tls.clone(),
                        Arc::clone(&state),
                        core,
                        conn_stop.clone(),
                        alive.clone(),
                    ));
                }
                Err(e) => {
                    // Out of descriptors or a transient accept error: back off briefly.
                    tracing::warn!(core, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
    // Stop accepting, then give in-flight requests the grace period.
    drop(listener);
    drop(alive);
    let grace = state.settings.graceful_shutdown_timeout;
    if tokio::time::timeout(grace, all_closed.recv())
        .await
        .is_err()
    {
        tracing::warn!(
            core,
            open = stats.open_connections(),
            "connections still open after core.graceful_shutdown_timeout; closing them"
        );
    }
    metrics::tick(unix_ms());
    metrics::remove_recorder();
}
