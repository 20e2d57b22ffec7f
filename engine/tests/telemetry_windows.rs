//! Windowed coordination summaries with controlled time, and retention cleanup.

use std::time::Duration;

use mabeam_engine::telemetry::{
    MINUTE_MS, Outcome, Protocol, Telemetry, TelemetryError, TelemetrySettings, Window,
};

const HOUR_MS: u64 = 60 * MINUTE_MS;

/// One request per minute for `minutes` minutes, the newest at `end_ms`.
fn record_minutes(t: &Telemetry, minutes: u64, end_ms: u64) {
    let mut rec = t.worker_recorder(0, 0).unwrap();
    for m in (0..minutes).rev() {
        rec.tick(end_ms - m * MINUTE_MS);
        rec.record_coordination(
            Protocol::Auction,
            Outcome::Success,
            Duration::from_millis(1 + m % 10),
            Some(0.5),
        );
    }
    rec.flush_blocking();
}

#[test]
fn windows_cover_the_last_minute_hour_and_day() {
    let t = Telemetry::new(TelemetrySettings::default()).unwrap();
    let now = 3 * 24 * HOUR_MS + 30_000; // half a minute into a minute
    record_minutes(&t, 2000, now);
    let count = |w| t.coordination_metrics(None, w, now).unwrap().count;
    // The last n whole minutes plus the current one.
    assert_eq!(count(Window::OneMinute), 2);
    assert_eq!(count(Window::OneHour), 61);
    assert_eq!(count(Window::OneDay), 1441);
    let s = t
        .coordination_metrics(Some("auction"), Window::OneHour, now)
        .unwrap();
    assert_eq!(s.protocol, "auction");
    assert_eq!(s.from_ms, (now / MINUTE_MS - 60) * MINUTE_MS);
    assert_eq!(s.to_ms, now);
    assert_eq!(s.success_rate, Some(1.0));
    assert_eq!(s.mean_efficiency, Some(0.5));
    assert_eq!(s.max_seconds, Some(0.010));
    // Durations 1..=10 ms in (nearly) equal shares: p50 about 5 ms, p99 about 10 ms.
    let p50 = s.p50_seconds.unwrap();
    let p99 = s.p99_seconds.unwrap();
    assert!((0.0045..=0.0066).contains(&p50), "p50 {p50}");
    assert!((0.0093..=0.0107).contains(&p99), "p99 {p99}");
    // Another protocol saw nothing: nulls, not zeros.
    let m = t
        .coordination_metrics(Some("market"), Window::OneDay, now)
        .unwrap();
    assert_eq!(m.count, 0);
    assert_eq!(m.success_rate, None);
    assert_eq!(m.p50_seconds, None);
}

#[test]
fn outcomes_and_json_shape() {
    let t = Telemetry::new(TelemetrySettings::default()).unwrap();
    let mut a = t.worker_recorder(0, 0).unwrap();
    let mut b = t.recorder("http-1", 0).unwrap();
    a.tick(5_000);
    b.tick(5_000);
    for _ in 0..6 {
        a.record_coordination(
            Protocol::Market,
            Outcome::Success,
            Duration::from_micros(200),
            Some(1.0),
        );
    }
    for _ in 0..3 {
        b.record_coordination(
            Protocol::Market,
            Outcome::Failure,
            Duration::from_micros(50),
            None,
        );
    }
    b.record_coordination(
        Protocol::Market,
        Outcome::Timeout,
        Duration::from_secs(10),
        None,
    );
    a.flush();
    b.flush();
    let s = t
        .coordination_metrics(Some("market"), Window::OneMinute, 5_000)
        .unwrap();
    assert_eq!(
        (s.count, s.successes, s.failures, s.timeouts),
        (10, 6, 4, 1)
    );
    assert_eq!(s.success_rate, Some(0.6));
    assert_eq!(s.mean_efficiency, Some(1.0));
    assert_eq!(s.max_seconds, Some(10.0));
    let json: serde_json::Value = serde_json::to_value(&s).unwrap();
    assert_eq!(json["window"], "1m");
    assert_eq!(json["protocol"], "market");
    for key in [
        "count",
        "successes",
        "failures",
        "timeouts",
        "success_rate",
        "p50_seconds",
        "p90_seconds",
        "p99_seconds",
        "max_seconds",
        "mean_seconds",
        "mean_efficiency",
        "from_ms",
        "to_ms",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    let err = t
        .coordination_metrics(Some("gossip"), Window::OneHour, 0)
        .unwrap_err();
    assert!(
        matches!(
            err,
            TelemetryError::UnknownLabel {
                kind: "protocol",
                ..
            }
        ),
        "{err}"
    );
    assert!("7d".parse::<Window>().is_err());
}

#[test]
fn retention_cleanup_drops_old_minutes() {
    let settings = TelemetrySettings {
        retention_minutes: 5,
        cleanup_interval_ms: 60_000,
        ..TelemetrySettings::default()
    };
    let t = Telemetry::new(settings).unwrap();
    let now = 100 * MINUTE_MS;
    record_minutes(&t, 4, now); // minutes 97..=100
    assert_eq!(
        t.coordination_metrics(None, Window::OneDay, now)
            .unwrap()
            .count,
        4
    );

    // Three minutes later (minute 103) the current minute and the 5 before it (98..=103)
    // are kept: minute 97 goes.
    let later = now + 3 * MINUTE_MS;
    let r = t.cleanup(later);
    assert_eq!((r.buckets_removed, r.buckets_kept), (1, 3));
    assert_eq!(
        t.coordination_metrics(None, Window::OneDay, later)
            .unwrap()
            .count,
        3
    );

    // cleanup_if_due honours the interval.
    assert_eq!(t.cleanup_if_due(later + 1_000), None);
    let r = t.cleanup_if_due(later + 60_000 + 10 * MINUTE_MS).unwrap();
    assert_eq!((r.buckets_removed, r.buckets_kept), (3, 0));
    assert_eq!(
        t.coordination_metrics(None, Window::OneDay, later + 20 * MINUTE_MS)
            .unwrap()
            .count,
        0
    );
}

#[test]
fn the_store_never_holds_more_than_retention_even_without_cleanup() {
    let settings = TelemetrySettings {
        retention_minutes: 10,
        ..TelemetrySettings::default()
    };
    let t = Telemetry::new(settings).unwrap();
    let now = 1000 * MINUTE_MS;
    record_minutes(&t, 500, now);
    // 10 whole minutes plus the current one survive.
    assert_eq!(
        t.coordination_metrics(None, Window::OneDay, now)
            .unwrap()
            .count,
        11
    );
    let text = t.render_prometheus();
    assert!(
        text.contains("mabeam_telemetry_window_buckets 11"),
        "{text}"
    );
}

mod ordered_percentiles {
    use super::*;
    use proptest::prelude::*;

    /// One recording: protocol index, microseconds, minutes back from now, recorder.
    fn recording() -> impl Strategy<Value = (usize, u64, u64, u32)> {
        (
            0..Protocol::ALL.len(),
            prop_oneof![1u64..2_000, 1u64..5_000_000, 0u64..4_000_000_000],
            prop_oneof![Just(0u64), 0u64..90, 0u64..1_500],
            0u32..3,
        )
    }

    proptest! {
        /// `p50 <= p90 <= p99 <= max` for every protocol (and all) and every window,
        /// from one sample up; recordings spread over recorders and minutes.
        #[test]
        fn percentiles_ascend_and_never_pass_the_max(
            recordings in proptest::collection::vec(recording(), 1..40),
        ) {
            let t = Telemetry::new(TelemetrySettings::default()).unwrap();
            let now = 2 * 24 * HOUR_MS + 17_000;
            let mut recs: Vec<_> = (0..3).map(|w| t.worker_recorder(w, 0).unwrap()).collect();
            let mut sorted = recordings.clone();
            sorted.sort_by_key(|r| std::cmp::Reverse(r.2));
            for (p, us, back, w) in sorted {
                let rec = &mut recs[w as usize];
                rec.tick(now - back * MINUTE_MS);
                rec.record_coordination(
                    Protocol::ALL[p],
                    Outcome::Success,
                    Duration::from_micros(us),
                    None,
                );
            }
            for mut rec in recs {
                rec.flush_blocking();
            }
            let names = Protocol::ALL.iter().map(|p| Some(p.as_str())).chain([None]);
            for name in names {
                for w in [Window::OneMinute, Window::OneHour, Window::OneDay] {
                    let s = t.coordination_metrics(name, w, now).unwrap();
                    if s.count == 0 {
                        prop_assert_eq!(s.max_seconds, None);
                        continue;
                    }
                    let (p50, p90, p99, max) = (
                        s.p50_seconds.unwrap(),
                        s.p90_seconds.unwrap(),
                        s.p99_seconds.unwrap(),
                        s.max_seconds.unwrap(),
                    );
                    prop_assert!(
                        p50 <= p90 && p90 <= p99 && p99 <= max,
                        "{:?} {:?}: p50 {} p90 {} p99 {} max {}", name, w, p50, p90, p99, max
                    );
                    prop_assert!(s.mean_seconds.unwrap() <= max * (1.0 + 1e-12));
                }
            }
        }
    }
}
