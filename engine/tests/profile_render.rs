//! `LoadedProfile::render` (what `mabeam check-profile` prints) and round trips of the
//! written form.

use mabeam_engine::profile::{Config, ProfileError, Source, key_paths, load};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn profile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../profiles/{name}.toml"))
}

fn row<'a>(rendered: &'a str, key: &str) -> &'a str {
    rendered
        .lines()
        .find(|line| line.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("no row for {key} in\n{rendered}"))
}

#[test]
fn render_shows_every_key_its_value_and_its_source() {
    let path = profile("prod");
    let loaded = load(
        Some(&path),
        vec![("MABEAM_ENGINE__WORKERS".to_owned(), "3".to_owned())],
    )
    .expect("valid");
    let out = loaded.render();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("profile: {}", path.display()));
    assert!(lines[1].starts_with("KEY") && lines[1].ends_with("SOURCE"));
    for key in key_paths() {
        row(&out, &key);
    }
    let file = format!("file {}", path.display());
    let workers = row(&out, "engine.workers");
    assert!(
        workers.contains(" 3 ") && workers.ends_with("env MABEAM_ENGINE__WORKERS"),
        "{workers}"
    );
    let timeout = row(&out, "core.coordination_timeout");
    assert!(
        timeout.contains("10000 ms") && timeout.ends_with(&file),
        "{timeout}"
    );
    let retention = row(&out, "telemetry.retention_minutes");
    assert!(retention.contains("1440 min"), "{retention}");
    let node = row(&out, "server.node_id");
    assert!(
        node.contains("(unset)") && node.ends_with("default"),
        "{node}"
    );
    let derived = row(&out, "derived.effective_max_agents");
    assert!(derived.contains("10000"), "{derived}");
    // Columns line up: every value starts at the same offset.
    let offset = lines[1].find("VALUE").expect("header");
    assert!(
        lines[2..]
            .iter()
            .all(|l| l.len() > offset && &l[offset - 2..offset] == "  ")
    );
}

#[test]
fn render_without_a_file_says_so() {
    let loaded = load(None, Vec::new()).expect("defaults");
    let out = loaded.render();
    assert!(out.starts_with("profile: (none: built-in defaults)\n"));
    assert!(loaded.sources.iter().all(|s| s.source == Source::Default));
    assert!(row(&out, "engine.inbox_depth_max").ends_with("default"));
}

#[test]
fn to_spec_reproduces_every_shipped_profile() {
    for name in ["default", "prod", "low-latency", "throughput", "test-min"] {
        let config = load(Some(&profile(name)), Vec::new())
            .expect("loads")
            .config;
        let text = toml::to_string(&config.to_spec()).expect("serializable");
        let again = Config::from_toml_str(&text, name).expect("written form loads");
        assert_eq!(again, config, "{name}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any count written for a key is either taken exactly or refused with an error naming
    /// that key; nothing panics.
    #[test]
    fn any_count_is_taken_or_refused_by_name(
        key in prop::sample::select(vec![
            ("agent_registry", "max_agents"),
            ("engine", "inbox_depth_max"),
            ("engine", "batch_max"),
            ("engine", "workers"),
            ("coordination", "bids_per_auction_max"),
            ("health_monitoring", "degraded_threshold"),
        ]),
        value in prop_oneof![0u64..64, 0u64..20_000_000, any::<u32>().prop_map(u64::from)],
    ) {
        let (section, name) = key;
        let text = format!("[{section}]\n{name} = {value}\n");
        match Config::from_toml_str(&text, "p.toml") {
            Ok(config) => {
                let spec = toml::Table::try_from(config.to_spec()).expect("serializable");
                let got = spec[section][name].as_integer().expect("an integer");
                prop_assert_eq!(u64::try_from(got).ok(), Some(value));
            }
            Err(ProfileError::Invalid { problems, .. }) => {
                let path = format!("{section}.{name}");
                prop_assert!(
                    problems.iter().any(|p| p.key == path || p.problem.contains(&path)),
                    "{:?}", problems
                );
            }
            Err(other) => prop_assert!(false, "unexpected {}", other),
        }
    }

    /// The written form of a valid configuration loads back to the same configuration.
    #[test]
    fn written_form_round_trips(
        max_agents in 1usize..=10_000_000,
        depth in 1usize..=1_000_000,
        batch_fraction in 0.0f64..=1.0,
        timeout_ms in 1u64..=3_600_000,
        threshold in 0.001f64..100.0,
        workers in 0usize..=64,
    ) {
        let mut config = Config::test_min();
        config.agent_registry.max_agents = max_agents;
        config.engine.inbox_depth_max = depth;
        config.engine.batch_max = ((depth as f64 * batch_fraction) as usize).max(1);
        config.coordination.default_timeout = std::time::Duration::from_millis(timeout_ms);
        config.coordination.protocol_timeout = std::time::Duration::from_millis(timeout_ms);
        config.telemetry.anomaly_threshold = threshold;
        config.engine.workers = workers;
        let text = toml::to_string(&config.to_spec()).expect("serializable");
        let again = Config::from_toml_str(&text, "round-trip.toml");
        prop_assert_eq!(again.ok(), Some(config));
    }
}
