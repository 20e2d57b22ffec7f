//! tracing setup: the level filter, the line format and where lines go.
//!
//! One subscriber for the whole process, installed before the flags are parsed (stderr,
//! level `info`, or `MABEAM_LOG` / `RUST_LOG`). Once a profile is read, [`apply`] sets what
//! it says: `core.log_level` (unless `MABEAM_LOG` or `RUST_LOG` is set: those win),
//! `server.log_format` (unless `MABEAM_LOG_FORMAT` is set) and `core.log_file` (lines go to
//! that file, rotated by size, instead of stderr). The filter sits behind a reload handle;
//! the format and the destination are process-wide switches read on every event.
//!
//! Colour (ANSI escapes) only when lines go to stderr and stderr is a terminal: a log file
//! or a pipe gets plain text.

use crate::logfile::{self, RotatingFile};
use mabeam_engine::profile::{CoreConfig, LogFormat, LogLevel};
use parking_lot::{Mutex, MutexGuard};
use std::io::{IsTerminal as _, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Full, Json, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// True: JSON lines; false: text.
static JSON: AtomicBool = AtomicBool::new(false);
/// True: text lines carry colour (stderr is a terminal and no log file is set).
static COLOUR: AtomicBool = AtomicBool::new(false);
/// The log file, once `core.log_file` is applied.
static FILE: OnceLock<Mutex<RotatingFile>> = OnceLock::new();
/// Replaces the level filter once the profile is read.
static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// The format `MABEAM_LOG_FORMAT` asks for, if it is set to a known value.
fn env_format() -> Option<LogFormat> {
    std::env::var("MABEAM_LOG_FORMAT")
        .ok()
        .and_then(|v| LogFormat::parse(&v.to_ascii_lowercase()))
}

/// The filter `MABEAM_LOG` (then `RUST_LOG`) sets, if either is set (not empty) and valid.
fn env_filter() -> Option<EnvFilter> {
    ["MABEAM_LOG", "RUST_LOG"]
        .into_iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok())
}

/// Text (plain or coloured) or JSON, decided per event by the switches.
struct Switch {
    plain: Format<Full>,
    colour: Format<Full>,
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
        } else if COLOUR.load(Ordering::Relaxed) {
            self.colour.format_event(ctx, writer, event)
        } else {
            self.plain.format_event(ctx, writer, event)
        }
    }
}

/// Where a line goes: the log file once one is set, else stderr.
struct Output;

/// One event's writer.
enum Line<'a> {
    Stderr(std::io::Stderr),
    File(MutexGuard<'a, RotatingFile>),
}

impl Write for Line<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Line::Stderr(s) => s.write(buf),
            Line::File(f) => f.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Line::Stderr(s) => s.flush(),
            Line::File(f) => f.flush(),
        }
    }
}

impl<'a> MakeWriter<'a> for Output {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        match FILE.get() {
            Some(f) => Line::File(f.lock()),
            None => Line::Stderr(std::io::stderr()),
        }
    }
}

/// Installs the global subscriber: stderr, `MABEAM_LOG` / `RUST_LOG` or `info`,
/// `MABEAM_LOG_FORMAT=json` for JSON lines.
pub(crate) fn init() {
    let filter = env_filter().unwrap_or_else(|| EnvFilter::new(LogLevel::Info.as_str()));
    JSON.store(env_format() == Some(LogFormat::Json), Ordering::Relaxed);
    COLOUR.store(std::io::stderr().is_terminal(), Ordering::Relaxed);
    let (filter, handle) = reload::Layer::new(filter);
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(Output)
        .event_format(Switch {
            plain: Format::default().with_ansi(false),
            colour: Format::default().with_ansi(true),
            json: Format::default().json(),
        });
    if tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init()
        .is_ok()
    {
        let _ = FILTER.set(handle);
    }
}

/// Applies a profile's logging keys: `server.log_format`, `core.log_level` and
/// `core.log_file` (opened, its directory created, rotated past `core.log_file_max_bytes`
/// keeping `core.log_files_max` files). An unusable log file is an error.
pub(crate) fn apply(core: &CoreConfig, format: LogFormat) -> std::io::Result<()> {
    if env_format().is_none() {
        JSON.store(format == LogFormat::Json, Ordering::Relaxed);
    }
    if env_filter().is_none()
        && let Some(handle) = FILTER.get()
        && let Err(e) = handle.reload(EnvFilter::new(core.log_level.as_str()))
    {
        tracing::warn!(error = %e, "could not apply core.log_level");
    }
    if let Some(path) = &core.log_file {
        let file = logfile::open(
            path,
            core.log_file_max_bytes,
            core.log_files_max,
            0o640,
            "core.log_file",
        )?;
        if FILE.set(Mutex::new(file)).is_ok() {
            COLOUR.store(false, Ordering::Relaxed);
        }
    }
    Ok(())
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
