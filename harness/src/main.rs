//! `mabeam-load`: thin glue. Parse flags, run, map the outcome to an exit code:
//! 0 every budget met, 1 a budget breached, 2 an invalid run, 3 a usage or
//! configuration error (refused before any load starts).

#![forbid(unsafe_code)]

use clap::Parser;
use mabeam_harness::cli::Args;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 3 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match mabeam_harness::run::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("mabeam-load: {e}");
            ExitCode::from(3)
        }
    }
}
