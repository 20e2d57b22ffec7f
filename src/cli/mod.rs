//! The subcommands of `mabeam`.

pub(crate) mod check_profile;
pub(crate) mod demo;
pub(crate) mod logging;
pub(crate) mod preflight;
pub(crate) mod serve;
