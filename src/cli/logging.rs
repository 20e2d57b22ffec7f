//! tracing setup: `RUST_LOG` (or `MABEAM_LOG`) filter, text or JSON lines on stderr.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `MABEAM_LOG_FORMAT=json` switches to JSON lines.
pub(crate) fn init() {
    let filter = std::env::var("MABEAM_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let json = std::env::var("MABEAM_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Panics (an agent's handler, caught and supervised by the engine) are logged
/// as one line through tracing instead of a backtrace on stderr: resolving a
/// backtrace takes long enough to stall a worker.
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        let thread = std::thread::current();
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(thread = thread.name().unwrap_or("?"), %location, "panic: {msg}");
    }));
}
