//! Every kind of bad profile input is a typed error naming the file, the key path and the fix.

use mabeam_engine::profile::{Config, ProfileError, load};
use std::path::Path;

fn refuse(text: &str) -> ProfileError {
    match Config::from_toml_str(text, "bad.toml") {
        Ok(config) => panic!("must be refused, got {config:?}"),
        Err(err) => err,
    }
}

/// The single problem of an `Invalid` error.
fn only_problem(err: &ProfileError) -> &mabeam_engine::profile::Problem {
    match err {
        ProfileError::Invalid { problems, .. } => {
            assert_eq!(problems.len(), 1, "{err}");
            &problems[0]
        }
        other => panic!("expected Invalid, got {other}"),
    }
}

#[test]
fn unknown_key_names_file_line_key_and_suggestion() {
    let err = refuse("[agent_registry]\nauto_restart = true\nmax_agnets = 50\n");
    match &err {
        ProfileError::UnknownKey {
            location,
            key,
            hint,
        } => {
            assert_eq!(location.origin, "bad.toml");
            assert_eq!(location.line, Some(3));
            assert_eq!(key, "agent_registry.max_agnets");
            assert!(hint.contains("did you mean `max_agents`?"), "{hint}");
        }
        other => panic!("unexpected {other}"),
    }
    let text = err.to_string();
    assert!(text.starts_with("bad.toml:3: unknown key `agent_registry.max_agnets`"));
    assert!(
        text.contains("fix: rename the key to `max_agents`"),
        "{text}"
    );
}

#[test]
fn unknown_key_without_a_close_match_lists_the_section() {
    let text = refuse("[performance]\nturbo = true\n").to_string();
    assert!(
        text.contains(
            "fix: remove it; `[performance]` takes memory_limit_mb, gc_frequency, metrics_retention"
        ),
        "{text}"
    );
}

#[test]
fn unknown_section_gets_a_suggestion() {
    let err = refuse("[core]\nmax_variables = 3\n\n[agent_registy]\nmax_agents = 5\n");
    match &err {
        ProfileError::UnknownSection {
            location,
            section,
            hint,
        } => {
            assert_eq!(location.line, Some(4));
            assert_eq!(section, "agent_registy");
            assert!(hint.contains("did you mean `[agent_registry]`?"), "{hint}");
        }
        other => panic!("unexpected {other}"),
    }
    let text = refuse("[nonsense_here]\n").to_string();
    assert!(
        text.contains("known sections are core, agent_registry"),
        "{text}"
    );
}

#[test]
fn wrong_type_names_key_expected_and_got() {
    let err = refuse("[engine]\nworkers = \"four\"\n");
    match &err {
        ProfileError::WrongType {
            location,
            key,
            expected,
            got,
        } => {
            assert_eq!(location.line, Some(2));
            assert_eq!(key, "engine.workers");
            assert_eq!(expected, "a non-negative integer");
            assert_eq!(got, "string \"four\"");
        }
        other => panic!("unexpected {other}"),
    }
    // The unit is part of what is expected.
    let text = refuse("[core]\ncoordination_timeout = 1.5\n").to_string();
    assert!(
        text.contains("expects a non-negative integer (ms), got float 1.5"),
        "{text}"
    );
    let text = refuse("[core]\ntelemetry_enabled = \"yes\"\n").to_string();
    assert!(text.contains("expects a boolean (true or false)"), "{text}");
}

#[test]
fn negative_numbers_and_unknown_choices_are_type_errors() {
    let err = refuse("[agent_registry]\nmax_agents = -5\n");
    assert!(
        matches!(&err, ProfileError::WrongType { got, .. } if got == "integer -5"),
        "{err}"
    );
    let err = refuse("[agent_registry]\nrestart_strategy = \"sometimes\"\n");
    let text = err.to_string();
    assert!(
        text.contains("one of \"permanent\", \"transient\", \"temporary\""),
        "{text}"
    );
    let text = refuse("[server]\nlog_format = \"yaml\"\n").to_string();
    assert!(text.contains("one of \"text\", \"json\""), "{text}");
}

#[test]
fn a_section_written_as_a_value_is_refused() {
    let err = refuse("core = 5\n");
    assert!(
        matches!(err, ProfileError::WrongType { ref key, .. } if key == "core"),
        "{err}"
    );
}

#[test]
fn out_of_range_values_name_the_range_and_the_line() {
    let err = refuse("[agent_registry]\nmax_agents = 0\n");
    let problem = only_problem(&err);
    assert_eq!(problem.key, "agent_registry.max_agents");
    assert_eq!(problem.source, "bad.toml:2");
    assert_eq!(problem.value, "0");
    assert_eq!(problem.fix, "set it between 1 and 10000000");

    let err = refuse("[agent_registry]\nmax_agents = 20_000_000\n");
    assert_eq!(only_problem(&err).problem, "must be at most 10000000");

    let err = refuse("[engine]\ntick_budget_us = 0\n");
    let problem = only_problem(&err);
    assert_eq!(problem.value, "0 us");
    assert_eq!(problem.fix, "set it between 1 and 1000000 (us)");
}

#[test]
fn anomaly_threshold_must_be_positive() {
    for bad in ["0.0", "-1.5", "nan", "inf"] {
        let err = refuse(&format!("[telemetry]\nanomaly_threshold = {bad}\n"));
        assert_eq!(
            only_problem(&err).key,
            "telemetry.anomaly_threshold",
            "{bad}"
        );
    }
    // An integer is accepted where a number is expected.
    let config = Config::from_toml_str("[telemetry]\nanomaly_threshold = 2\n", "ok.toml")
        .expect("integer threshold");
    assert_eq!(config.telemetry.anomaly_threshold, 2.0);
}

#[test]
fn inconsistent_thresholds_name_both_keys() {
    let err = refuse("[health_monitoring]\nunhealthy_threshold = 2\ndegraded_threshold = 5\n");
    let problem = only_problem(&err);
    assert_eq!(problem.key, "health_monitoring.degraded_threshold");
    assert_eq!(problem.source, "bad.toml:3");
    assert!(
        problem
            .problem
            .contains("`health_monitoring.unhealthy_threshold` = 2")
    );

    let err = refuse("[engine]\ninbox_depth_max = 8\nbatch_max = 16\n");
    assert_eq!(only_problem(&err).key, "engine.batch_max");

    let err = refuse("[coordination]\ndefault_timeout = 20000\nprotocol_timeout = 15000\n");
    let problem = only_problem(&err);
    assert_eq!(problem.key, "coordination.default_timeout");
    assert!(
        problem
            .problem
            .contains("`coordination.protocol_timeout` = 15000 ms"),
        "{}",
        problem.problem
    );

    let err = refuse("[budgets]\nlatency_p99_ms = 500\n");
    assert!(err.to_string().contains("budgets.latency_p99_ms"), "{err}");
}

#[test]
fn a_default_that_conflicts_with_a_written_value_says_so() {
    // degraded_threshold comes from the defaults (1); unhealthy_threshold = 0 is both out of
    // range and below it.
    let err = refuse("[health_monitoring]\nunhealthy_threshold = 0\n");
    match &err {
        ProfileError::Invalid { problems, origin } => {
            assert_eq!(origin, "bad.toml");
            assert_eq!(problems.len(), 2, "{err}");
            assert_eq!(problems[1].key, "health_monitoring.degraded_threshold");
            assert_eq!(problems[1].source, "built-in default (profile bad.toml)");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn tls_needs_cert_and_key_together() {
    let err = refuse("[security]\ntls_cert_path = \"/etc/cert.pem\"\n");
    let problem = only_problem(&err);
    assert_eq!(problem.key, "security.tls_key_path");
    assert!(
        problem
            .fix
            .contains("set both tls_cert_path and tls_key_path, or neither")
    );
    let config = Config::from_toml_str(
        "[security]\ntls_cert_path = \"/c.pem\"\ntls_key_path = \"/k.pem\"\n",
        "ok.toml",
    )
    .expect("both set");
    assert!(config.tls_enabled());
}

#[test]
fn audit_needs_a_path() {
    let err = refuse("[security]\naudit_enabled = true\n");
    assert_eq!(only_problem(&err).key, "security.audit_path");
}

#[test]
fn bad_listen_address_is_refused_with_an_example() {
    let err = refuse("[server]\nlisten = \"localhost:4000\"\n");
    let problem = only_problem(&err);
    assert_eq!(problem.key, "server.listen");
    assert_eq!(problem.value, "\"localhost:4000\"");
    assert!(problem.fix.contains("127.0.0.1:4000"));
}

#[test]
fn token_entries_are_checked_field_by_field() {
    let hex = "ab".repeat(32);
    let ok = format!(
        "[[security.tokens]]\ntoken_sha256 = \"{hex}\"\nrole = \"operator\"\n\n\
         [[security.tokens]]\ntoken_sha256 = \"{}\"\nagent_id = \"a-1\"\nrole = \"agent\"\n",
        "cd".repeat(32)
    );
    let config = Config::from_toml_str(&ok, "ok.toml").expect("valid tokens");
    assert_eq!(config.security.tokens.len(), 2);
    assert_eq!(config.security.tokens[0].token_sha256, [0xab; 32]);
    assert_eq!(config.security.tokens[1].agent_id.as_deref(), Some("a-1"));

    let err = refuse(&format!(
        "[[security.tokens]]\ntoken_sha256 = \"{hex}\"\nrol = \"agent\"\n"
    ));
    match &err {
        ProfileError::UnknownKey {
            location,
            key,
            hint,
        } => {
            assert_eq!(location.line, Some(3));
            assert_eq!(key, "security.tokens[0].rol");
            assert!(hint.contains("did you mean `role`?"), "{hint}");
        }
        other => panic!("unexpected {other}"),
    }

    let err = refuse("[[security.tokens]]\ntoken_sha256 = \"123\"\nrole = \"agent\"\n");
    let problem = only_problem(&err);
    assert_eq!(problem.key, "security.tokens[0].token_sha256");
    assert_eq!(problem.source, "bad.toml:2");

    let err = refuse(&format!(
        "[[security.tokens]]\ntoken_sha256 = \"{hex}\"\nrole = \"admin\"\n"
    ));
    assert!(
        matches!(&err, ProfileError::WrongType { key, .. } if key == "security.tokens[0].role"),
        "{err}"
    );

    let err = refuse(&format!("[[security.tokens]]\ntoken_sha256 = \"{hex}\"\n"));
    assert_eq!(only_problem(&err).key, "security.tokens[0].role");

    let dup = format!(
        "[[security.tokens]]\ntoken_sha256 = \"{hex}\"\nrole = \"agent\"\n\
         [[security.tokens]]\ntoken_sha256 = \"{hex}\"\nrole = \"operator\"\n"
    );
    assert_eq!(only_problem(&refuse(&dup)).key, "security.tokens");
}

#[test]
fn syntax_errors_give_the_line() {
    let err = refuse("[core]\nmax_variables = 3\nhistory_retention = \n");
    match &err {
        ProfileError::Syntax { location, .. } => assert_eq!(location.line, Some(3)),
        other => panic!("unexpected {other}"),
    }
    let err = refuse("[core]\nmax_variables = 3\nmax_variables = 4\n");
    assert!(matches!(err, ProfileError::Syntax { .. }), "{err}");
}

#[test]
fn several_problems_are_all_reported() {
    let err = refuse(
        "[engine]\nshards_per_worker = 0\ninbox_depth_max = 0\n[server]\nbody_max_bytes = 0\n",
    );
    match &err {
        ProfileError::Invalid { problems, .. } => {
            let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
            assert!(keys.contains(&"engine.shards_per_worker"));
            assert!(keys.contains(&"engine.inbox_depth_max"));
            assert!(keys.contains(&"server.body_max_bytes"));
        }
        other => panic!("unexpected {other}"),
    }
    let text = err.to_string();
    assert!(text.starts_with("profile bad.toml is invalid ("), "{text}");
    assert!(
        text.lines().skip(1).all(|line| line.contains("; fix: ")),
        "{text}"
    );
}

#[test]
fn a_missing_file_is_an_io_error_naming_the_path() {
    let path = Path::new("/nonexistent/mabeam/profile.toml");
    let err = load(Some(path), Vec::new()).unwrap_err();
    assert!(matches!(err, ProfileError::Io { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/mabeam/profile.toml"));
}

#[test]
fn errors_from_a_file_name_the_file_path() {
    let dir = std::env::temp_dir().join(format!("mabeam-profile-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("typo.toml");
    std::fs::write(&path, "[engine]\nworkres = 2\n").expect("write");
    let err = load(Some(&path), Vec::new()).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{}:2: unknown key `engine.workres`",
            path.display()
        )),
        "{text}"
    );
    assert!(text.contains("did you mean `workers`?"), "{text}");
}
