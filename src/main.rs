//! `mabeam`: the engine as a command-line program.
//!
//! Thin glue: parse flags, load the profile, call the libraries, map errors to
//! exit codes (0 ok, 1 runtime failure, 2 invalid profile or usage).

#![forbid(unsafe_code)]

mod cli;
mod http;
mod logfile;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[cfg(all(
    feature = "jemalloc",
    not(feature = "mimalloc"),
    not(feature = "system")
))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[cfg(all(feature = "mimalloc", not(feature = "system")))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mabeam: a lock-free multi-agent coordination engine.
#[derive(Debug, Parser)]
#[command(name = "mabeam", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the engine embedded, register agents, run a few coordinations and
    /// print what happened.
    Demo {
        /// Profile file (TOML); default: the built-in defaults.
        #[arg(long, env = "MABEAM_PROFILE")]
        profile: Option<PathBuf>,
    },
    /// Validate a profile and print the effective configuration with the
    /// source of every value (default, file or environment).
    CheckProfile {
        /// The profile file to check.
        file: PathBuf,
    },
    /// Serve the HTTP API until SIGTERM or SIGINT (then drain and exit 0).
    Serve {
        /// Profile file (TOML); default: the built-in defaults.
        #[arg(long, env = "MABEAM_PROFILE")]
        profile: Option<PathBuf>,
        /// Address to listen on (IP:PORT; port 0 picks a free port); overrides
        /// `server.listen`.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// This node's id in the `X-Mabeam-Node` header; overrides `server.node_id`
        /// (default: the host name).
        #[arg(long)]
        node_id: Option<String>,
    },
}

fn main() -> ExitCode {
    cli::logging::init();
    cli::logging::install_panic_hook();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { profile } => cli::demo::run(profile.as_deref()),
        Command::CheckProfile { file } => cli::check_profile::run(&file),
        Command::Serve {
            profile,
            listen,
            node_id,
        } => cli::serve::run(
            profile.as_deref(),
            cli::serve::ServeFlags { listen, node_id },
        ),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mabeam: {e:#}");
            ExitCode::from(1)
        }
    }
}
