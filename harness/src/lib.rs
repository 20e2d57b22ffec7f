//! mabeam-load: replays wrk-style load against a deployment or an in-process engine and
//! holds the run to latency, memory and "GC" budgets.
//!
//! The problem: a closed-loop load generator (send, wait, send) stops sending while the
//! server stalls, so the stall hides in a handful of samples (coordinated omission).
//! mabeam-load runs an **open loop** by default: every request has an intended start
//! time from a schedule (constant, ramp, steps, Poisson, or a recorded trace), and its
//! latency is counted from that time. Service time and send lag get histograms of their
//! own, so a harness that falls behind is visible, and a run that does not reach the
//! asked rate is declared invalid rather than quietly reported.
//!
//! Tour: [`cli`] (flags, checks) -> [`run`] (setup, threads, collect, judge, report);
//! [`schedule`] and [`template`]/[`scenario`] decide what is sent when; [`conn`] is a
//! connection's loop over [`targets::http`] (a minimal HTTP/1.1 client with pipelining)
//! or [`targets::embedded`]; [`record`] holds per-thread HDR histograms merged once a
//! second by [`collect`]; [`verdict`] judges; [`report`] writes text, `.hgrm`, JSON,
//! SVG and HTML.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod collect;
pub mod conn;
pub mod driver;
pub mod error;
pub mod record;
pub mod report;
pub mod run;
pub mod scenario;
pub mod schedule;
pub mod targets;
pub mod template;
pub mod units;
pub mod verdict;
