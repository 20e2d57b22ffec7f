//! Anomaly detection: outliers flagged, ordinary noise not, events bounded and visible.

use std::time::Duration;

use mabeam_engine::telemetry::{
    AnomalyDetector, AnomalyMetric, Counter, Outcome, Protocol, Telemetry, TelemetrySettings,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn flags_1000_among_values_near_110() {
    let mut d = AnomalyDetector::new(1000, 30, 3.0).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..200 {
        assert_eq!(d.observe(rng.random_range(105.0..115.0)), None);
    }
    let dev = d.observe(1000.0).expect("1000 is far outside 110 +- 3 sd");
    assert!((dev.mean - 110.0).abs() < 1.0, "{dev:?}");
    assert!(dev.stddev > 1.0 && dev.stddev < 5.0, "{dev:?}");
}

#[test]
fn uniform_noise_is_not_flagged_at_the_default_threshold() {
    let settings = TelemetrySettings::default();
    let mut d = AnomalyDetector::new(
        settings.anomaly_window_samples as usize,
        settings.anomaly_min_samples as usize,
        settings.anomaly_threshold,
    )
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let flagged = (0..20_000)
        .filter(|_| d.observe(rng.random_range(100.0..=120.0)).is_some())
        .count();
    assert_eq!(flagged, 0, "uniform 100..120 is ordinary noise");
}

#[test]
fn a_threshold_of_one_and_a_half_flags_uniform_noise() {
    // Documented for the integrator: the deployment guide's `anomaly_threshold: 1.5`
    // flags about 13% of uniformly distributed values (|x - mean| > 1.5 sd).
    let mut d = AnomalyDetector::new(1000, 30, 1.5).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let flagged = (0..20_000)
        .filter(|_| d.observe(rng.random_range(100.0..=120.0)).is_some())
        .count();
    assert!((1_500..4_000).contains(&flagged), "{flagged}");
}

#[test]
fn recorder_exposes_anomalies_as_events_and_counter() {
    let t = Telemetry::new(TelemetrySettings::test_min()).unwrap(); // buffer_size 8, window 50
    let mut rec = t.worker_recorder(0, 0).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut now = 0;
    let mut spikes = 0;
    for round in 0..20 {
        for _ in 0..60 {
            rec.record_coordination(
                Protocol::Consensus,
                Outcome::Success,
                Duration::from_micros(rng.random_range(105..=115)),
                None,
            );
        }
        now += 1;
        rec.tick(now);
        rec.record_coordination(
            Protocol::Consensus,
            Outcome::Success,
            Duration::from_micros(1000),
            None,
        );
        spikes += 1;
        if round == 0 {
            rec.flush_blocking();
            let first = t.anomalies();
            assert_eq!(first.events.len(), 1);
            let e = &first.events[0];
            assert_eq!(e.metric, AnomalyMetric::CoordinationDurationConsensus);
            assert!((e.value - 0.001).abs() < 1e-12);
            assert!((e.mean - 0.000110).abs() < 0.000002, "{e:?}");
            assert_eq!(e.at_ms, 1);
        }
    }
    rec.flush_blocking();
    let metric = Counter::Anomalies(AnomalyMetric::CoordinationDurationConsensus);
    assert_eq!(t.counter(metric), spikes);
    let report = t.anomalies();
    assert_eq!(report.events.len(), 8, "bounded by buffer_size");
    assert_eq!(
        report.dropped,
        spikes - 8,
        "the oldest were dropped, and counted"
    );
    assert_eq!(report.events.last().unwrap().at_ms, now);
    let text = t.render_prometheus();
    assert!(text.contains(&format!(
        "mabeam_anomaly_events_dropped_total {}",
        spikes - 8
    )));
    assert!(text.contains(&format!(
        "mabeam_anomalies_total{{metric=\"coordination_duration_consensus\"}} {spikes}"
    )));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["events"][0]["metric"],
        "coordination_duration_consensus"
    );
}
