//! [`ProfileError`]: every way a profile or an override can be wrong, each with its fix.

use std::fmt;
use std::path::PathBuf;

/// Where in a profile something was found: the file (or other origin) and, when known, the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The profile's path or name (`profiles/prod.toml`).
    pub origin: String,
    /// 1-based line, when the TOML parser reported a position.
    pub line: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.origin),
            None => f.write_str(&self.origin),
        }
    }
}

/// One failed check of a value: which key, where the value came from, what is wrong, the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path, e.g. `agent_registry.max_agents` or `security.tokens[0].role`.
    pub key: String,
    /// The offending value as written (empty when the problem text shows it).
    pub value: String,
    /// Where the value came from: `profiles/x.toml:12`, `environment variable MABEAM_X`
    /// or `built-in default (profile profiles/x.toml)`.
    pub source: String,
    /// What is wrong.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: `{}`", self.source, self.key)?;
        if !self.value.is_empty() {
            write!(f, " = {}", self.value)?;
        }
        write!(f, ": {}; fix: {}", self.problem, self.fix)
    }
}

/// Why a profile could not become a [`Config`](super::Config).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The profile file could not be read.
    #[error(
        "cannot read profile {}: {source}; fix: check that the file exists and is readable",
        path.display()
    )]
    Io {
        /// The path given.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML (or not the shape of a profile).
    #[error("{location}: not a valid profile: {message}; fix: correct the TOML at that line")]
    Syntax {
        /// File and line.
        location: Location,
        /// The parser's message.
        message: String,
    },
    /// A `[section]` the schema does not have.
    #[error("{location}: unknown section `{section}`; {hint}")]
    UnknownSection {
        /// File and line.
        location: Location,
        /// The section as written.
        section: String,
        /// A suggestion ("did you mean ...") and the fix.
        hint: String,
    },
    /// A key its section does not have.
    #[error("{location}: unknown key `{key}`; {hint}")]
    UnknownKey {
        /// File and line.
        location: Location,
        /// Full key path as written (`agent_registry.max_agnets`).
        key: String,
        /// A suggestion ("did you mean `max_agents`?") and the fix.
        hint: String,
    },
    /// A value of the wrong TOML type.
    #[error("{location}: `{key}` expects {expected}, got {got}; fix: write {expected}")]
    WrongType {
        /// File and line.
        location: Location,
        /// Full key path.
        key: String,
        /// The type the key takes.
        expected: String,
        /// What was written.
        got: String,
    },
    /// A `MABEAM_*` variable that names no setting.
    #[error("environment variable {var} names no profile setting; {hint}")]
    UnknownEnvVar {
        /// The variable's name.
        var: String,
        /// The closest valid name, or the naming rule, and the fix.
        hint: String,
    },
    /// A `MABEAM_*` variable whose value does not fit its key.
    #[error(
        "environment variable {var}={value:?} (for `{key}`): {reason}; fix: set it to {expected}"
    )]
    BadEnvValue {
        /// The variable's name.
        var: String,
        /// The key path it sets.
        key: String,
        /// The value as found.
        value: String,
        /// The type the key takes.
        expected: String,
        /// What is wrong with the value.
        reason: String,
    },
    /// Two variables of the same precedence set one key to different values.
    #[error(
        "environment variables {first} and {second} both set `{key}`, to different values; \
         fix: unset one of them"
    )]
    EnvConflict {
        /// The key path both set.
        key: String,
        /// One variable.
        first: String,
        /// The other.
        second: String,
    },
    /// Values that parse but break a limit or a consistency rule.
    #[error("{}", InvalidDisplay { origin, problems })]
    Invalid {
        /// The profile's path or name, or `built-in defaults` with no file.
        origin: String,
        /// Every problem found (at least one).
        problems: Vec<Problem>,
    },
}

impl ProfileError {
    /// The key path the error is about, when it is about one key.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::UnknownKey { key, .. }
            | Self::WrongType { key, .. }
            | Self::BadEnvValue { key, .. }
            | Self::EnvConflict { key, .. } => Some(key),
            Self::Invalid { problems, .. } => problems.first().map(|p| p.key.as_str()),
            Self::UnknownSection { section, .. } => Some(section),
            Self::Io { .. } | Self::Syntax { .. } | Self::UnknownEnvVar { .. } => None,
        }
    }
}

struct InvalidDisplay<'a> {
    origin: &'a str,
    problems: &'a [Problem],
}

impl fmt::Display for InvalidDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        write!(f, "profile {} is invalid ({count} {noun}):", self.origin)?;
        for problem in self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_shows_line_when_known() {
        let with = Location {
            origin: "p.toml".into(),
            line: Some(3),
        };
        let without = Location {
            origin: "p.toml".into(),
            line: None,
        };
        assert_eq!(with.to_string(), "p.toml:3");
        assert_eq!(without.to_string(), "p.toml");
    }

    #[test]
    fn invalid_lists_every_problem() {
        let problem = |key: &str| Problem {
            key: key.into(),
            value: "0".into(),
            source: "p.toml:2".into(),
            problem: "must be at least 1".into(),
            fix: "set it between 1 and 10".into(),
        };
        let err = ProfileError::Invalid {
            origin: "p.toml".into(),
            problems: vec![
                problem("engine.batch_max"),
                problem("engine.inbox_depth_max"),
            ],
        };
        let text = err.to_string();
        assert!(text.starts_with("profile p.toml is invalid (2 problems):"));
        assert!(text.contains(
            "p.toml:2: `engine.batch_max` = 0: must be at least 1; fix: set it between 1 and 10"
        ));
        assert!(text.contains("engine.inbox_depth_max"));
        assert_eq!(err.key(), Some("engine.batch_max"));
    }
}
