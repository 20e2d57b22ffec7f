//! `MABEAM_*` overrides: precedence, the guide's short names, the long form for every key,
//! bad values and unknown names.

use mabeam_engine::profile::{
    Config, LogFormat, ProfileError, RESERVED_ENV_VARS, Source, key_paths, load,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn profile(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../profiles/{name}.toml"))
}

fn env(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn precedence_is_default_then_file_then_env() {
    let prod = profile("prod");
    // Default only.
    let loaded = load(None, Vec::new()).expect("defaults");
    assert_eq!(
        loaded.config.coordination.max_concurrent_coordinations,
        1_000
    );
    // File beats default.
    let loaded = load(Some(&prod), Vec::new()).expect("prod");
    assert_eq!(loaded.config.coordination.max_concurrent_coordinations, 500);
    assert_eq!(
        loaded.source_of("coordination.max_concurrent_coordinations"),
        Some(&Source::File(prod.clone()))
    );
    // Env beats file.
    let loaded = load(
        Some(&prod),
        env(&[("MABEAM_COORDINATION__MAX_CONCURRENT_COORDINATIONS", "42")]),
    )
    .expect("prod + env");
    assert_eq!(loaded.config.coordination.max_concurrent_coordinations, 42);
    assert_eq!(
        loaded.source_of("coordination.max_concurrent_coordinations"),
        Some(&Source::Env(
            "MABEAM_COORDINATION__MAX_CONCURRENT_COORDINATIONS".into()
        ))
    );
    // Keys neither file nor env set stay default.
    assert_eq!(loaded.source_of("server.node_id"), Some(&Source::Default));
}

#[test]
fn the_guides_short_names_map_to_their_keys() {
    let loaded = load(
        Some(&profile("prod")),
        env(&[
            ("MABEAM_MAX_AGENTS", "2500"),
            ("MABEAM_COORDINATION_TIMEOUT", "7000"),
            ("MABEAM_TELEMETRY_RETENTION", "720"),
        ]),
    )
    .expect("valid");
    let c = &loaded.config;
    assert_eq!(c.agent_registry.max_agents, 2500);
    assert_eq!(c.core.coordination_timeout, Duration::from_millis(7000));
    assert_eq!(c.coordination.default_timeout, Duration::from_millis(7000));
    assert_eq!(c.telemetry.retention_minutes, Duration::from_secs(720 * 60));
    for key in ["core.coordination_timeout", "coordination.default_timeout"] {
        assert_eq!(
            loaded.source_of(key),
            Some(&Source::Env("MABEAM_COORDINATION_TIMEOUT".into()))
        );
    }
}

#[test]
fn the_long_form_wins_over_a_short_name() {
    let loaded = load(
        None,
        env(&[
            ("MABEAM_COORDINATION_TIMEOUT", "7000"),
            ("MABEAM_COORDINATION__DEFAULT_TIMEOUT", "3000"),
        ]),
    )
    .expect("valid");
    assert_eq!(
        loaded.config.core.coordination_timeout,
        Duration::from_millis(7000)
    );
    assert_eq!(
        loaded.config.coordination.default_timeout,
        Duration::from_millis(3000)
    );
}

#[test]
fn every_key_has_a_long_form_variable() {
    // Setting each key to its own default through the environment is accepted and attributed
    // to the variable: proves the name of every key resolves.
    let defaults = Config::default().to_spec();
    let table = toml::Table::try_from(&defaults).expect("serializable");
    for path in key_paths() {
        let (section, key) = path.split_once('.').expect("section.key");
        let Some(value) = table.get(section).and_then(|s| s.get(key)) else {
            continue; // optional keys unset by default
        };
        let var = format!("MABEAM_{}__{}", section.to_uppercase(), key.to_uppercase());
        let loaded = load(None, vec![(var.clone(), value.to_string())])
            .unwrap_or_else(|err| panic!("{var}={value}: {err}"));
        assert_eq!(loaded.config, Config::default(), "{var}");
        assert_eq!(loaded.source_of(&path), Some(&Source::Env(var)));
    }
}

#[test]
fn names_are_case_insensitive_and_strings_may_be_bare() {
    let loaded = load(
        None,
        env(&[
            ("mabeam_engine__workers", "2"),
            ("Mabeam_Server__Listen", "0.0.0.0:8080"),
            ("MABEAM_SERVER__LOG_FORMAT", "json"),
            ("MABEAM_SERVER__NODE_ID", "\"node-7\""),
            ("MABEAM_ENGINE__PIN_WORKERS", " false "),
        ]),
    )
    .expect("valid");
    let c = &loaded.config;
    assert_eq!(c.engine.workers, 2);
    assert_eq!(c.server.listen.to_string(), "0.0.0.0:8080");
    assert_eq!(c.server.log_format, LogFormat::Json);
    assert_eq!(c.server.node_id.as_deref(), Some("node-7"));
    assert!(!c.engine.pin_workers);
}

#[test]
fn tokens_can_come_from_the_environment() {
    let hex = "0f".repeat(32);
    let value = format!("[{{ token_sha256 = \"{hex}\", role = \"operator\" }}]");
    let loaded = load(
        Some(&profile("prod")),
        vec![("MABEAM_SECURITY__TOKENS".to_owned(), value)],
    )
    .expect("valid");
    assert_eq!(loaded.config.security.tokens.len(), 1);
    assert_eq!(loaded.config.security.tokens[0].token_sha256, [0x0f; 32]);
}

#[test]
fn a_bad_value_names_the_variable_the_key_and_the_fix() {
    let err = load(None, env(&[("MABEAM_ENGINE__WORKERS", "two")])).unwrap_err();
    match &err {
        ProfileError::BadEnvValue {
            var, key, expected, ..
        } => {
            assert_eq!(var, "MABEAM_ENGINE__WORKERS");
            assert_eq!(key, "engine.workers");
            assert_eq!(expected, "a non-negative integer");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(
        err.to_string()
            .contains("fix: set it to a non-negative integer")
    );

    let err = load(None, env(&[("MABEAM_COORDINATION_TIMEOUT", "-5")])).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("got integer -5"), "{text}");
    assert!(text.contains("(ms)"), "{text}");

    let err = load(None, env(&[("MABEAM_SERVER__LOG_FORMAT", "xml")])).unwrap_err();
    assert!(
        err.to_string().contains("one of \"text\", \"json\""),
        "{err}"
    );

    let err = load(None, env(&[("MABEAM_TELEMETRY__DASHBOARD_ENABLED", "yes")])).unwrap_err();
    assert!(matches!(err, ProfileError::BadEnvValue { .. }), "{err}");
}

#[test]
fn an_in_range_check_failure_names_the_variable() {
    let err = load(Some(&profile("prod")), env(&[("MABEAM_MAX_AGENTS", "0")])).unwrap_err();
    match &err {
        ProfileError::Invalid { problems, .. } => {
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0].key, "agent_registry.max_agents");
            assert_eq!(problems[0].source, "environment variable MABEAM_MAX_AGENTS");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn unknown_variables_are_errors_with_a_suggestion() {
    let err = load(None, env(&[("MABEAM_ENGINE__INBOX_DEPTH", "8")])).unwrap_err();
    match &err {
        ProfileError::UnknownEnvVar { var, hint } => {
            assert_eq!(var, "MABEAM_ENGINE__INBOX_DEPTH");
            assert!(hint.contains("MABEAM_ENGINE__INBOX_DEPTH_MAX"), "{hint}");
        }
        other => panic!("unexpected {other}"),
    }
    let err = load(None, env(&[("MABEAM_ENGNE__WORKERS", "8")])).unwrap_err();
    assert!(
        err.to_string()
            .contains("did you mean MABEAM_ENGINE__WORKERS?"),
        "{err}"
    );
    let err = load(None, env(&[("MABEAM_SOMETHING_ELSE", "1")])).unwrap_err();
    assert!(err.to_string().contains("MABEAM_<SECTION>__<KEY>"), "{err}");
}

#[test]
fn unrelated_and_reserved_variables_are_ignored() {
    let mut vars = env(&[("HOME", "/root"), ("PATH", "/bin"), ("MABEAMX", "1")]);
    for name in RESERVED_ENV_VARS {
        vars.push(((*name).to_owned(), "anything".to_owned()));
    }
    let loaded = load(None, vars).expect("nothing of ours");
    assert_eq!(loaded.config, Config::default());
}
