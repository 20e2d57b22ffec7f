//! Loading: defaults < profile file < `MABEAM_*` environment, then validation, with the
//! source of every value recorded.

use super::document::Document;
use super::env::{self, Override};
use super::error::{Location, Problem, ProfileError};
use super::validate;
use super::{Config, ProfileSpec};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a key's effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The built-in default ([`Config::default`]).
    Default,
    /// The profile file at this path.
    File(PathBuf),
    /// This environment variable.
    Env(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File(path) => write!(f, "file {}", path.display()),
            Self::Env(var) => write!(f, "env {var}"),
        }
    }
}

/// One key's effective value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Key path, e.g. `engine.workers`.
    pub key: &'static str,
    /// The value as displayed (with its unit).
    pub value: String,
    /// Where it came from.
    pub source: Source,
}

/// A validated configuration plus the origin of each of its values.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedProfile {
    /// The configuration to run with.
    pub config: Config,
    /// The profile file read, if any.
    pub path: Option<PathBuf>,
    /// Every key path, in schema order, with its effective value and source.
    pub sources: Vec<Setting>,
}

impl LoadedProfile {
    /// Where `key` (e.g. `agent_registry.max_agents`) came from.
    pub fn source_of(&self, key: &str) -> Option<&Source> {
        self.sources
            .iter()
            .find(|s| s.key == key)
            .map(|s| &s.source)
    }

    /// The effective configuration as a table of key path, value and source: what
    /// `mabeam check-profile FILE` prints.
    pub fn render(&self) -> String {
        let mut rows: Vec<(String, String, String)> = self
            .sources
            .iter()
            .map(|s| (s.key.to_owned(), s.value.clone(), s.source.to_string()))
            .collect();
        rows.push((
            "derived.effective_max_agents".to_owned(),
            self.config.effective_max_agents().to_string(),
            "min(agent_registry.max_agents, concurrency.max_agents_per_node)".to_owned(),
        ));
        let key_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(3);
        let value_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(5);
        let origin = self.path.as_ref().map_or_else(
            || "(none: built-in defaults)".to_owned(),
            |p| p.display().to_string(),
        );
        let mut out = format!("profile: {origin}\n");
        out.push_str(&format!(
            "{:key_width$}  {:value_width$}  SOURCE\n",
            "KEY", "VALUE"
        ));
        for (key, value, source) in rows {
            out.push_str(&format!(
                "{key:key_width$}  {value:value_width$}  {source}\n"
            ));
        }
        out
    }
}

/// Builds the configuration: built-in defaults, overlaid by the profile at `path` (if any),
/// overlaid by the `MABEAM_*` variables in `env`, then validated.
///
/// `env` is explicit so tests need not touch the process environment; see
/// [`load_from_process_env`] for the usual call.
pub fn load(
    path: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<LoadedProfile, ProfileError> {
    let file = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
                path: path.to_owned(),
                source,
            })?;
            let origin = path.display().to_string();
            Some((Document::parse(&text, &origin)?, path.to_owned()))
        }
        None => None,
    };
    build(file, env::overrides(env)?)
}

/// [`load`] with the process environment (`std::env::vars_os`, non-UTF-8 text replaced).
pub fn load_from_process_env(path: Option<&Path>) -> Result<LoadedProfile, ProfileError> {
    let vars = std::env::vars_os().map(|(k, v)| {
        (
            k.to_string_lossy().into_owned(),
            v.to_string_lossy().into_owned(),
        )
    });
    load(path, vars)
}

impl Config {
    /// Parses and validates a profile's text (no environment overrides); `origin` names it in
    /// errors (usually the file's path).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ProfileError> {
        let document = Document::parse(text, origin)?;
        Ok(build(Some((document, PathBuf::from(origin))), BTreeMap::new())?.config)
    }

    /// Overlays a written spec on the built-in defaults and validates the result.
    pub fn from_spec(spec: &ProfileSpec) -> Result<Config, ProfileError> {
        let text = toml::to_string(spec).map_err(|err| ProfileError::Syntax {
            location: Location {
                origin: "(spec)".to_owned(),
                line: None,
            },
            message: err.to_string(),
        })?;
        Self::from_toml_str(&text, "(spec)")
    }
}

fn build(
    file: Option<(Document, PathBuf)>,
    overrides: BTreeMap<String, Override>,
) -> Result<LoadedProfile, ProfileError> {
    let (document, path) = match file {
        Some((document, path)) => (document, Some(path)),
        None => (Document::default(), None),
    };
    let origin = path.as_ref().map_or_else(
        || "(built-in defaults)".to_owned(),
        |p| p.display().to_string(),
    );

    let mut table = document.table.clone();
    for o in overrides.values() {
        let section = table
            .entry(o.section.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(section) = section {
            section.insert(o.key.to_owned(), o.value.clone());
        }
    }
    let raw = table.clone();
    let spec: ProfileSpec =
        toml::Value::Table(table)
            .try_into()
            .map_err(|err: toml::de::Error| ProfileError::Syntax {
                location: Location {
                    origin: origin.clone(),
                    line: None,
                },
                message: err.message().trim().to_owned(),
            })?;

    let source_text = |key: &str, full: &str| -> String {
        if let Some(o) = overrides.get(key) {
            return format!("environment variable {}", o.var);
        }
        match (
            &path,
            document.lines.get(full).or_else(|| document.lines.get(key)),
        ) {
            (Some(_), Some(line)) => format!("{origin}:{line}"),
            _ => format!("built-in default (profile {origin})"),
        }
    };

    let mut rejected = Vec::new();
    let config = Config::default().overlay(&spec, &mut rejected);
    let mut problems: Vec<Problem> = rejected
        .into_iter()
        .map(|r| Problem {
            source: source_text(r.key_path, &r.path),
            value: if r.rejection.sub_path.is_empty() {
                written(&raw, r.key_path)
            } else {
                String::new()
            },
            key: r.path,
            problem: r.rejection.problem,
            fix: r.rejection.fix,
        })
        .collect();
    problems.extend(validate::violations(&config).into_iter().map(|v| Problem {
        source: source_text(v.key, v.key),
        key: v.key.to_owned(),
        value: v.value,
        problem: v.problem,
        fix: v.fix,
    }));
    if !problems.is_empty() {
        return Err(ProfileError::Invalid { origin, problems });
    }

    let sources = config
        .entries()
        .into_iter()
        .map(|(key, value)| {
            let source = if let Some(o) = overrides.get(key) {
                Source::Env(o.var.clone())
            } else {
                match &path {
                    Some(p) if document.lines.contains_key(key) => Source::File(p.clone()),
                    _ => Source::Default,
                }
            };
            Setting { key, value, source }
        })
        .collect();
    Ok(LoadedProfile {
        config,
        path,
        sources,
    })
}

/// The TOML text of `section.key` in `table`, for error messages.
fn written(table: &toml::Table, key_path: &str) -> String {
    let Some((section, key)) = key_path.split_once('.') else {
        return String::new();
    };
    table
        .get(section)
        .and_then(|s| s.get(key))
        .map(ToString::to_string)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_file_no_env_is_the_defaults() {
        let loaded = load(None, Vec::new()).expect("defaults are valid");
        assert_eq!(loaded.config, Config::default());
        assert!(loaded.sources.iter().all(|s| s.source == Source::Default));
    }

    #[test]
    fn env_without_file_is_attributed_to_the_variable() {
        let loaded =
            load(None, vec![("MABEAM_ENGINE__WORKERS".into(), "3".into())]).expect("valid");
        assert_eq!(loaded.config.engine.workers, 3);
        assert_eq!(
            loaded.source_of("engine.workers"),
            Some(&Source::Env("MABEAM_ENGINE__WORKERS".into()))
        );
    }

    #[test]
    fn bad_env_value_that_parses_is_caught_by_validation() {
        let err = load(None, vec![("MABEAM_MAX_AGENTS".into(), "0".into())]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(
                "environment variable MABEAM_MAX_AGENTS: `agent_registry.max_agents` = 0"
            ),
            "{text}"
        );
    }

    #[test]
    fn from_spec_round_trips_test_min() {
        let spec = Config::test_min().to_spec();
        assert_eq!(Config::from_spec(&spec).expect("valid"), Config::test_min());
    }
}
