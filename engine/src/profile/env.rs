//! `MABEAM_*` environment overrides.
//!
//! Names (case-insensitive):
//! - `MABEAM_<SECTION>__<KEY>` sets `section.key`, for every key
//!   (`MABEAM_ENGINE__WORKERS=2`, `MABEAM_AGENT_REGISTRY__MAX_AGENTS=500`);
//! - the deployment guide's short names: `MABEAM_MAX_AGENTS` (agent_registry.max_agents),
//!   `MABEAM_COORDINATION_TIMEOUT` (core.coordination_timeout and
//!   coordination.default_timeout), `MABEAM_TELEMETRY_RETENTION` (telemetry.retention_minutes).
//!
//! The long form wins over a short name for the same key, whatever the order of the
//! variables. Values are TOML values of the key's type; strings may be written bare.
//! Any other `MABEAM_*` name is an error, except [`RESERVED_ENV_VARS`].

use super::codec::{Kind, Mismatch, describe};
use super::config::SECTIONS;
use super::error::ProfileError;
use super::schema::{self, KeyDef, SectionDef};
use super::suggest::closest;
use std::collections::BTreeMap;

/// `MABEAM_*` names that belong to the binaries, not to a profile key; the loader ignores them.
/// `MABEAM_PROFILE` names the profile file, `MABEAM_LOG` the log filter.
pub const RESERVED_ENV_VARS: &[&str] = &["MABEAM_PROFILE", "MABEAM_LOG", "MABEAM_LOG_FORMAT"];

const PREFIX: &str = "MABEAM_";

/// The guide's short names and the keys each sets.
const ALIASES: &[(&str, &[(&str, &str)])] = &[
    ("MAX_AGENTS", &[("agent_registry", "max_agents")]),
    (
        "COORDINATION_TIMEOUT",
        &[
            ("core", "coordination_timeout"),
            ("coordination", "default_timeout"),
        ],
    ),
    ("TELEMETRY_RETENTION", &[("telemetry", "retention_minutes")]),
];

/// One key set from the environment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Override {
    /// Section of the key.
    pub(crate) section: &'static str,
    /// The key.
    pub(crate) key: &'static str,
    /// The variable that set it.
    pub(crate) var: String,
    /// The value, already of the key's type.
    pub(crate) value: toml::Value,
    /// Set through a `MABEAM_<SECTION>__<KEY>` name rather than a short name.
    specific: bool,
}

/// Reads every `MABEAM_*` variable in `vars`; returns the overrides keyed by `section.key`.
pub(crate) fn overrides(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, Override>, ProfileError> {
    let mut ours: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(name, _)| {
            let upper = name.to_ascii_uppercase();
            upper.starts_with(PREFIX) && !RESERVED_ENV_VARS.contains(&upper.as_str())
        })
        .collect();
    // Deterministic: errors and conflicts do not depend on the order the OS lists variables.
    ours.sort();

    let mut out: BTreeMap<String, Override> = BTreeMap::new();
    for (var, raw) in ours {
        let (targets, specific) = resolve(&var)?;
        for (section, def) in targets {
            let path = format!("{}.{}", section.name, def.name);
            let value =
                parse_value(def, &raw).map_err(|(expected, reason)| ProfileError::BadEnvValue {
                    var: var.clone(),
                    key: path.clone(),
                    value: raw.clone(),
                    expected,
                    reason,
                })?;
            let new = Override {
                section: section.name,
                key: def.name,
                var: var.clone(),
                value,
                specific,
            };
            match out.get(&path) {
                None => {
                    out.insert(path, new);
                }
                Some(old) if old.specific != new.specific => {
                    if new.specific {
                        out.insert(path, new);
                    }
                }
                Some(old) if old.value != new.value => {
                    return Err(ProfileError::EnvConflict {
                        key: path,
                        first: old.var.clone(),
                        second: new.var,
                    });
                }
                Some(_) => {}
            }
        }
    }
    Ok(out)
}

type Targets = Vec<(&'static SectionDef, &'static KeyDef)>;

/// The keys a variable name sets, and whether it is the long form.
fn resolve(var: &str) -> Result<(Targets, bool), ProfileError> {
    let upper = var.to_ascii_uppercase();
    let rest = &upper[PREFIX.len()..];
    let unknown = |hint: String| ProfileError::UnknownEnvVar {
        var: var.to_owned(),
        hint,
    };
    if let Some((section_name, key_name)) = rest.split_once("__") {
        let section_name = section_name.to_ascii_lowercase();
        let key_name = key_name.to_ascii_lowercase();
        let section = schema::section(&section_name).ok_or_else(|| unknown(name_hint(&upper)))?;
        let def = section
            .key(&key_name)
            .ok_or_else(|| unknown(name_hint(&upper)))?;
        return Ok((vec![(section, def)], true));
    }
    let Some((_, keys)) = ALIASES.iter().find(|(alias, _)| *alias == rest) else {
        return Err(unknown(name_hint(&upper)));
    };
    let targets = keys
        .iter()
        .filter_map(|(s, k)| {
            let section = schema::section(s)?;
            Some((section, section.key(k)?))
        })
        .collect();
    Ok((targets, false))
}

/// Every valid variable name, upper case.
fn all_names() -> Vec<String> {
    let short = ALIASES.iter().map(|(alias, _)| format!("{PREFIX}{alias}"));
    let long = SECTIONS.iter().flat_map(|s| {
        s.keys.iter().map(move |k| {
            format!(
                "{PREFIX}{}__{}",
                s.name.to_ascii_uppercase(),
                k.name.to_ascii_uppercase()
            )
        })
    });
    short.chain(long).collect()
}

fn name_hint(upper: &str) -> String {
    let names = all_names();
    match closest(upper, names.iter().map(String::as_str)) {
        Some(best) => format!("did you mean {best}? fix: rename the variable to {best}"),
        None => format!(
            "fix: unset it, or use MABEAM_<SECTION>__<KEY> (e.g. MABEAM_ENGINE__WORKERS) or one \
             of {}; {} are ignored",
            ALIASES
                .iter()
                .map(|(a, _)| format!("{PREFIX}{a}"))
                .collect::<Vec<_>>()
                .join(", "),
            RESERVED_ENV_VARS.join(", ")
        ),
    }
}

/// Parses a variable's value as a TOML value of `kind`. Strings may be bare (`json`,
/// `0.0.0.0:4000`) or quoted TOML strings. On failure: (expected, reason).
pub(crate) fn parse_value(def: &KeyDef, raw: &str) -> Result<toml::Value, (String, String)> {
    let raw = raw.trim();
    let kind = def.kind;
    let value = match kind {
        Kind::Str | Kind::Choice(_) => match raw.parse::<toml::Value>() {
            Ok(toml::Value::String(s)) => toml::Value::String(s),
            _ => toml::Value::String(raw.to_owned()),
        },
        Kind::TokenList => raw.parse::<toml::Value>().map_err(|err| {
            (
                def.expected(),
                format!(
                    "`{raw}` is not a TOML array ({})",
                    err.message().trim().trim_end_matches('.')
                ),
            )
        })?,
        _ => raw
            .parse::<toml::Value>()
            .map_err(|_| (def.expected(), format!("`{raw}` is not {}", def.expected())))?,
    };
    match def.check(&value) {
        Ok(()) => Ok(value),
        Err(Mismatch::Type {
            sub_path,
            expected,
            got,
        }) => {
            let at = if sub_path.is_empty() {
                String::new()
            } else {
                format!(" at {sub_path}")
            };
            Err((expected, format!("got {got}{at}")))
        }
        Err(Mismatch::UnknownTokenKey { sub_path, key }) => Err((
            def.expected(),
            format!("unknown key `{key}` at {sub_path} ({})", describe(&value)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn long_and_short_names_resolve() {
        let got = overrides(vars(&[
            ("mabeam_engine__workers", "2"),
            ("MABEAM_COORDINATION_TIMEOUT", "7000"),
            ("PATH", "/bin"),
            ("MABEAM_PROFILE", "x.toml"),
        ]))
        .expect("valid");
        assert_eq!(got["engine.workers"].value, toml::Value::Integer(2));
        assert_eq!(
            got["core.coordination_timeout"].var,
            "MABEAM_COORDINATION_TIMEOUT"
        );
        assert_eq!(
            got["coordination.default_timeout"].value,
            toml::Value::Integer(7000)
        );
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn long_form_wins_whatever_the_order() {
        for list in [
            [
                ("MABEAM_MAX_AGENTS", "5"),
                ("MABEAM_AGENT_REGISTRY__MAX_AGENTS", "9"),
            ],
            [
                ("MABEAM_AGENT_REGISTRY__MAX_AGENTS", "9"),
                ("MABEAM_MAX_AGENTS", "5"),
            ],
        ] {
            let got = overrides(vars(&list)).expect("valid");
            assert_eq!(
                got["agent_registry.max_agents"].value,
                toml::Value::Integer(9)
            );
        }
    }

    #[test]
    fn same_level_conflict_is_an_error() {
        let err = overrides(vars(&[
            ("MABEAM_ENGINE__WORKERS", "2"),
            ("mabeam_engine__workers", "3"),
        ]))
        .unwrap_err();
        assert!(matches!(err, ProfileError::EnvConflict { .. }), "{err}");
    }

    fn def(kind: Kind) -> KeyDef {
        KeyDef {
            name: "k",
            kind,
            unit: "",
        }
    }

    #[test]
    fn bare_and_quoted_strings() {
        let text = def(Kind::Str);
        assert_eq!(
            parse_value(&text, "0.0.0.0:4000"),
            Ok(toml::Value::String("0.0.0.0:4000".into()))
        );
        assert_eq!(
            parse_value(&text, "\"node a\""),
            Ok(toml::Value::String("node a".into()))
        );
        let int = def(Kind::UInt);
        assert!(parse_value(&int, "ten").is_err());
        assert!(parse_value(&int, "-1").is_err());
        assert_eq!(
            parse_value(&int, "10_000"),
            Ok(toml::Value::Integer(10_000))
        );
        assert!(parse_value(&def(Kind::Bool), "yes").is_err());
    }

    #[test]
    fn misspelt_names_get_the_closest() {
        let err = overrides(vars(&[("MABEAM_ENGINE__WORKRES", "2")])).unwrap_err();
        assert!(err.to_string().contains("MABEAM_ENGINE__WORKERS"), "{err}");
        let err = overrides(vars(&[("MABEAM_MAX_AGENT", "2")])).unwrap_err();
        assert!(
            err.to_string().contains("did you mean MABEAM_MAX_AGENTS?"),
            "{err}"
        );
    }
}
