//! The Prometheus exposition: naming rules, histogram shape, and `promtool check metrics`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use mabeam_engine::telemetry::{
    AgentState, AuctionType, CONTENT_TYPE, Outcome, Protocol, RejectReason, Telemetry,
    TelemetrySettings,
};

fn busy_telemetry() -> (Telemetry, String) {
    let t = Telemetry::new(TelemetrySettings::default()).unwrap();
    let mut w0 = t.worker_recorder(0, 0).unwrap();
    let mut w1 = t.worker_recorder(1, 0).unwrap();
    let mut http = t.recorder("http-0", 0).unwrap();
    for (i, rec) in [&mut w0, &mut w1].into_iter().enumerate() {
        rec.tick(1_000);
        rec.record_coordination(
            Protocol::Auction,
            Outcome::Success,
            Duration::from_micros(300 + i as u64),
            Some(0.9),
        );
        rec.record_coordination(
            Protocol::Market,
            Outcome::Timeout,
            Duration::from_secs(2),
            None,
        );
        rec.record_auction(AuctionType::Dutch, 3, Duration::from_millis(5), Some(1.0));
        rec.record_market(6, Some(6_500_000), Some(1.0));
        rec.record_tick(Duration::from_micros(40), 12, false);
        rec.record_sweep(Duration::from_micros(900));
        rec.set_inbox_depth(5 + i);
        rec.agent_transition(None, Some(AgentState::Running));
        rec.set_reclaim_backlog(2);
        rec.record_park();
    }
    http.tick(1_000);
    http.record_rejection(RejectReason::InboxFull);
    http.record_coordination(
        Protocol::Consensus,
        Outcome::Failure,
        Duration::from_micros(80),
        None,
    );
    http.flush();
    let text = t.render_prometheus();
    drop((w0, w1, http));
    (t, text)
}

fn line_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn content_type_is_prometheus_text_0_0_4() {
    assert_eq!(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
}

#[test]
fn names_follow_the_rules() {
    let (_t, text) = busy_telemetry();
    let mut typed = std::collections::HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            let (name, kind) = (it.next().unwrap(), it.next().unwrap());
            assert!(name.starts_with("mabeam_"), "{name} lacks the prefix");
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter {name} lacks _total");
            } else {
                assert!(!name.ends_with("_total"), "{kind} {name} ends with _total");
            }
            assert!(
                !name.contains("_ms") && !name.contains("millis"),
                "{name}: use seconds"
            );
            typed.insert(name.to_owned(), kind.to_owned());
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            assert!(
                rest.split_once(' ').is_some_and(|(_, h)| !h.is_empty()),
                "{line}"
            );
        } else if !line.is_empty() {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
                })
                .unwrap_or(name);
            assert!(
                typed.contains_key(family),
                "sample {name} has no TYPE line before it"
            );
        }
    }
    for needed in [
        "mabeam_agents_registered_total",
        "mabeam_agents",
        "mabeam_restart_intensity_exceeded_total",
        "mabeam_coordination_requests_total",
        "mabeam_coordination_duration_seconds",
        "mabeam_coordination_in_flight",
        "mabeam_coordination_rejected_total",
        "mabeam_auctions_total",
        "mabeam_auction_bids_total",
        "mabeam_auction_duration_seconds",
        "mabeam_auction_efficiency_ratio",
        "mabeam_market_equilibria_found_total",
        "mabeam_market_volume_total",
        "mabeam_market_efficiency_ratio",
        "mabeam_market_clearing_price",
        "mabeam_sessions_opened_total",
        "mabeam_sessions_closed_total",
        "mabeam_sessions_expired_total",
        "mabeam_sessions_cancelled_total",
        "mabeam_sessions_open",
        "mabeam_runtime_inbox_depth",
        "mabeam_runtime_commands_total",
        "mabeam_runtime_tick_duration_seconds",
        "mabeam_runtime_stalls_total",
        "mabeam_runtime_parks_total",
        "mabeam_runtime_inbox_full_rejections_total",
        "mabeam_gc_sweep_pause_seconds",
        "mabeam_gc_sweeps_total",
        "mabeam_gc_reclaim_backlog",
        "mabeam_anomalies_total",
        "mabeam_anomaly_events_dropped_total",
        "mabeam_memory_allocator_stats_available",
        "mabeam_process_start_time_seconds",
        "mabeam_build_info",
    ] {
        assert!(typed.contains_key(needed), "family {needed} missing");
    }
    assert_eq!(typed["mabeam_coordination_duration_seconds"], "histogram");
}

#[test]
fn values_are_merged_over_recorders() {
    let (_t, text) = busy_telemetry();
    let v = |s: &str| line_value(&text, s).unwrap_or_else(|| panic!("no series {s}\n{text}"));
    assert_eq!(
        v("mabeam_coordination_requests_total{protocol=\"auction\",result=\"success\"}"),
        2.0
    );
    assert_eq!(
        v("mabeam_coordination_requests_total{protocol=\"market\",result=\"timeout\"}"),
        2.0
    );
    assert_eq!(
        v("mabeam_coordination_rejected_total{reason=\"inbox_full\"}"),
        1.0
    );
    assert_eq!(v("mabeam_auctions_total{type=\"dutch\"}"), 2.0);
    assert_eq!(v("mabeam_auction_bids_total"), 6.0);
    assert_eq!(v("mabeam_market_volume_total"), 12.0);
    assert_eq!(v("mabeam_runtime_commands_total"), 24.0);
    assert_eq!(v("mabeam_runtime_parks_total"), 2.0);
    assert_eq!(v("mabeam_agents{state=\"running\"}"), 2.0);
    assert_eq!(v("mabeam_gc_reclaim_backlog"), 4.0);
    assert_eq!(v("mabeam_runtime_inbox_depth{worker=\"0\"}"), 5.0);
    assert_eq!(v("mabeam_runtime_inbox_depth{worker=\"1\"}"), 6.0);
    assert_eq!(v("mabeam_telemetry_recorders"), 3.0);
    // Histograms: cumulative buckets ending in +Inf == _count, and an exact _sum.
    let h = "mabeam_coordination_duration_seconds";
    assert_eq!(v(&format!("{h}_count{{protocol=\"market\"}}")), 2.0);
    assert!((v(&format!("{h}_sum{{protocol=\"market\"}}")) - 4.0).abs() < 1e-9);
    assert_eq!(
        v(&format!("{h}_bucket{{protocol=\"market\",le=\"1\"}}")),
        0.0
    );
    assert_eq!(
        v(&format!("{h}_bucket{{protocol=\"market\",le=\"2.5\"}}")),
        2.0
    );
    assert_eq!(
        v(&format!("{h}_bucket{{protocol=\"market\",le=\"+Inf\"}}")),
        2.0
    );
    assert_eq!(
        v(&format!(
            "{h}_bucket{{protocol=\"auction\",le=\"0.00025\"}}"
        )),
        0.0
    );
    assert_eq!(
        v(&format!("{h}_bucket{{protocol=\"auction\",le=\"0.0005\"}}")),
        2.0
    );
    assert_eq!(v("mabeam_market_clearing_price_bucket{le=\"10\"}"), 2.0);
    assert!((v("mabeam_market_clearing_price_sum") - 13.0).abs() < 1e-9);
    assert_eq!(v("mabeam_auction_efficiency_ratio_bucket{le=\"1\"}"), 2.0);
    assert_eq!(
        v("mabeam_auction_efficiency_ratio_bucket{le=\"0.999\"}"),
        0.0
    );
}

#[test]
fn histogram_buckets_are_cumulative() {
    let (_t, text) = busy_telemetry();
    let mut last: Option<(String, f64)> = None;
    for line in text.lines().filter(|l| l.contains("_bucket{")) {
        let series = line.split("le=").next().unwrap().to_owned();
        let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        if let Some((s, prev)) = &last
            && *s == series
        {
            assert!(value >= *prev, "not cumulative at {line}");
        }
        last = Some((series, value));
    }
}

#[test]
fn exposition_passes_promtool() {
    let (_t, text) = busy_telemetry();
    let skip = std::env::var("MABEAM_SKIP_PROMTOOL").is_ok_and(|v| v == "1");
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if skip => {
            eprintln!("promtool not run ({e}); MABEAM_SKIP_PROMTOOL=1 is set");
            return;
        }
        Err(e) => panic!(
            "promtool is required for this test but could not be started ({e}). Install it \
             (`apt-get install -y prometheus` provides /usr/bin/promtool) or set \
             MABEAM_SKIP_PROMTOOL=1 to skip this check locally."
        ),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "promtool check metrics failed ({}):\n{stdout}\n{stderr}\n--- exposition ---\n{text}",
        out.status
    );
}

#[test]
fn disabled_telemetry_records_nothing_but_still_renders() {
    let t = Telemetry::new(TelemetrySettings {
        enabled: false,
        ..TelemetrySettings::default()
    })
    .unwrap();
    let mut r = t.worker_recorder(0, 0).unwrap();
    r.record_coordination(
        Protocol::Market,
        Outcome::Success,
        Duration::from_micros(5),
        None,
    );
    r.flush_blocking();
    let text = t.render_prometheus();
    assert_eq!(
        line_value(
            &text,
            "mabeam_coordination_requests_total{protocol=\"market\",result=\"success\"}"
        ),
        Some(0.0)
    );
    assert!(text.contains("mabeam_process_start_time_seconds"));
}
