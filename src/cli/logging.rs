//! tracing setup: `RUST_LOG` (or `MABEAM_LOG`) filter, text or JSON lines on stderr.
//!
//! One subscriber for the whole process, installed before the flags are parsed. Its
//! line format can still change once a profile is read (`server.log_format`): the
//! formatter consults a process-wide switch on every event ([`set_format`]).
//! `MABEAM_LOG_FORMAT=json|text` wins over the profile.

use mabeam_engine::profile::LogFormat;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{Format, Full, Json, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// True: JSON lines; false: text.
static JSON: AtomicBool = AtomicBool::new(false);

/// The format `MABEAM_LOG_FORMAT` asks for, if it is set to a known value.
fn env_format() -> Option<LogFormat> {
    std::env::var("MABEAM_LOG_FORMAT")
        .ok()
        .and_then(|v| LogFormat::parse(&v.to_ascii_lowercase()))
}

/// Text or JSON, decided per event by the [`JSON`] switch.
struct Switch {
    text: Format<Full>,
    json: Format<Json>,
}

impl<S, N> FormatEvent<S, N> for Switch
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        if JSON.load(Ordering::Relaxed) {
            self.json.format_event(ctx, writer, event)
        } else {
            self.text.format_event(ctx, writer, event)
        }
    }
}

/// Installs the global subscriber. `MABEAM_LOG_FORMAT=json` switches to JSON lines.
pub(crate) fn init() {
    let filter = std::env::var("MABEAM_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    JSON.store(env_format() == Some(LogFormat::Json), Ordering::Relaxed);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(Switch {
            text: Format::default(),
            json: Format::default().json(),
        })
        .try_init();
}

/// Applies a profile's `server.log_format`, unless `MABEAM_LOG_FORMAT` chose already.
pub(crate) fn set_format(format: LogFormat) {
    if env_format().is_none() {
        JSON.store(format == LogFormat::Json, Ordering::Relaxed);
    }
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
