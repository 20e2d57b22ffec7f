//! Reading a profile's text: syntax, known sections and keys, value types, line numbers.
//!
//! The text is parsed twice: once into the parser's spanned tree, to find every section and
//! key with its line and to refuse unknown names with a suggestion, and once into a plain
//! [`toml::Table`] that the type checks and the environment overlay work on. Serde's
//! `deny_unknown_fields` stays on as a backstop, but the checks here come first so that
//! messages name the key path, the line and the fix.

use super::codec::Mismatch;
use super::error::{Location, ProfileError};
use super::schema::{self, SectionDef};
use super::suggest::closest;
use super::tokens::TOKEN_KEYS;
use std::collections::BTreeMap;
use toml::de::{DeTable, DeValue};

/// A profile's text after the document checks.
#[derive(Debug, Clone, Default)]
pub(crate) struct Document {
    /// The values, sections and keys all known and well typed.
    pub(crate) table: toml::Table,
    /// 1-based line of every key path written (`core.max_variables`,
    /// `security.tokens[0].role`).
    pub(crate) lines: BTreeMap<String, usize>,
}

impl Document {
    /// Checks `text`; `origin` names it in errors.
    pub(crate) fn parse(text: &str, origin: &str) -> Result<Self, ProfileError> {
        let at = |offset: usize| Location {
            origin: origin.to_owned(),
            line: Some(line_of(text, offset)),
        };
        let tree = DeTable::parse(text).map_err(|err| syntax(text, origin, &err))?;
        let mut lines = BTreeMap::new();
        // (byte offset, error): the earliest in the file is reported.
        let mut errors: Vec<(usize, ProfileError)> = Vec::new();

        for (name, value) in tree.get_ref().iter() {
            let section_name: &str = name.get_ref();
            let offset = name.span().start;
            let Some(section) = schema::section(section_name) else {
                errors.push((
                    offset,
                    ProfileError::UnknownSection {
                        location: at(offset),
                        section: section_name.to_owned(),
                        hint: section_hint(section_name),
                    },
                ));
                continue;
            };
            let Some(keys) = value.get_ref().as_table() else {
                errors.push((
                    offset,
                    ProfileError::WrongType {
                        location: at(offset),
                        key: section_name.to_owned(),
                        expected: format!("a section (a `[{section_name}]` header)"),
                        got: value.get_ref().type_str().to_owned(),
                    },
                ));
                continue;
            };
            for (key, value) in keys.iter() {
                let key_name: &str = key.get_ref();
                let offset = key.span().start;
                let path = format!("{section_name}.{key_name}");
                lines.insert(path.clone(), line_of(text, offset));
                if section.key(key_name).is_none() {
                    errors.push((
                        offset,
                        ProfileError::UnknownKey {
                            location: at(offset),
                            key: path,
                            hint: key_hint(section, key_name),
                        },
                    ));
                    continue;
                }
                record_nested_lines(text, &path, value.get_ref(), &mut lines);
            }
        }

        let table: toml::Table = toml::from_str(text).map_err(|err| syntax(text, origin, &err))?;
        for (section_name, keys) in &table {
            let (Some(section), Some(keys)) = (schema::section(section_name), keys.as_table())
            else {
                continue; // already reported above
            };
            for (key_name, value) in keys {
                let Some(def) = section.key(key_name) else {
                    continue;
                };
                let path = format!("{section_name}.{key_name}");
                if let Err(mismatch) = def.check(value) {
                    let (full, error) = mismatch_error(&path, mismatch, |full| Location {
                        origin: origin.to_owned(),
                        line: lines.get(full).or_else(|| lines.get(&path)).copied(),
                    });
                    let offset = line_offset(text, lines.get(&full).or_else(|| lines.get(&path)));
                    errors.push((offset, error));
                }
            }
        }

        match errors.into_iter().min_by_key(|(offset, _)| *offset) {
            Some((_, error)) => Err(error),
            None => Ok(Self { table, lines }),
        }
    }
}

/// Turns a type mismatch at `path` into an error; returns the full path it concerns.
pub(crate) fn mismatch_error(
    path: &str,
    mismatch: Mismatch,
    location: impl Fn(&str) -> Location,
) -> (String, ProfileError) {
    match mismatch {
        Mismatch::Type {
            sub_path,
            expected,
            got,
        } => {
            let full = format!("{path}{sub_path}");
            let error = ProfileError::WrongType {
                location: location(&full),
                key: full.clone(),
                expected,
                got,
            };
            (full, error)
        }
        Mismatch::UnknownTokenKey { sub_path, key } => {
            let full = format!("{path}{sub_path}");
            let hint = match closest(&key, TOKEN_KEYS.iter().copied()) {
                Some(best) => format!("did you mean `{best}`? fix: rename the key to `{best}`"),
                None => format!(
                    "fix: remove it; a token entry takes only {}",
                    TOKEN_KEYS.join(", ")
                ),
            };
            let error = ProfileError::UnknownKey {
                location: location(&full),
                key: full.clone(),
                hint,
            };
            (full, error)
        }
    }
}

/// Records lines of the keys inside `[[security.tokens]]` entries.
fn record_nested_lines(
    text: &str,
    path: &str,
    value: &DeValue<'_>,
    lines: &mut BTreeMap<String, usize>,
) {
    let Some(items) = value.as_array() else {
        return;
    };
    for (index, item) in items.iter().enumerate() {
        let entry = format!("{path}[{index}]");
        lines.insert(entry.clone(), line_of(text, item.span().start));
        if let Some(table) = item.get_ref().as_table() {
            for (key, _) in table.iter() {
                let key_name: &str = key.get_ref();
                lines.insert(
                    format!("{entry}.{key_name}"),
                    line_of(text, key.span().start),
                );
            }
        }
    }
}

/// The hint for an unknown section name.
fn section_hint(name: &str) -> String {
    let owners: Vec<&str> = schema::all_paths()
        .filter(|(_, key)| key.name == name)
        .map(|(section, _)| section.name)
        .collect();
    if !owners.is_empty() {
        return format!(
            "`{name}` is a key, not a section; fix: move it under the `[{}]` header",
            owners.join("]` or `[")
        );
    }
    let names = super::config::SECTIONS.iter().map(|s| s.name);
    match closest(name, names.clone()) {
        Some(best) => format!("did you mean `[{best}]`? fix: rename the section header"),
        None => format!(
            "fix: remove it; known sections are {}",
            names.collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The hint for a key its section does not have.
fn key_hint(section: &SectionDef, key: &str) -> String {
    if let Some(best) = closest(key, section.keys.iter().map(|k| k.name)) {
        return format!("did you mean `{best}`? fix: rename the key to `{best}`");
    }
    let owners: Vec<&str> = schema::all_paths()
        .filter(|(_, k)| k.name == key)
        .map(|(s, _)| s.name)
        .collect();
    if !owners.is_empty() {
        return format!(
            "`{key}` belongs in `[{}]`, not `[{}]`; fix: move it there",
            owners.join("]` or `["),
            section.name
        );
    }
    let elsewhere = schema::all_paths().find(|(_, k)| closest(key, [k.name]).is_some());
    if let Some((s, k)) = elsewhere {
        return format!(
            "did you mean `{}.{}`? fix: move it to `[{}]` as `{}`",
            s.name, k.name, s.name, k.name
        );
    }
    let known: Vec<&str> = section.keys.iter().map(|k| k.name).collect();
    format!(
        "fix: remove it; `[{}]` takes {}",
        section.name,
        known.join(", ")
    )
}

fn syntax(text: &str, origin: &str, err: &toml::de::Error) -> ProfileError {
    ProfileError::Syntax {
        location: Location {
            origin: origin.to_owned(),
            line: err.span().map(|span| line_of(text, span.start)),
        },
        message: err.message().trim().to_owned(),
    }
}

/// 1-based line holding byte `offset`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A byte offset that sorts like `line` (for ordering errors).
fn line_offset(text: &str, line: Option<&usize>) -> usize {
    let Some(&line) = line else {
        return text.len();
    };
    text.split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ProfileError {
        Document::parse(text, "t.toml").expect_err("must be refused")
    }

    #[test]
    fn accepts_known_keys_and_records_lines() {
        let doc = Document::parse(
            "# comment\n[core]\nmax_variables = 3\n\n[[security.tokens]]\nrole = \"agent\"\n",
            "t.toml",
        )
        .expect("valid");
        assert_eq!(doc.lines.get("core.max_variables"), Some(&3));
        assert_eq!(doc.lines.get("security.tokens[0].role"), Some(&6));
    }

    #[test]
    fn misspelt_key_gets_a_suggestion_and_a_line() {
        let text = err("[agent_registry]\nmax_agnets = 5\n").to_string();
        assert!(text.starts_with("t.toml:2: unknown key `agent_registry.max_agnets`"));
        assert!(text.contains("did you mean `max_agents`?"), "{text}");
    }

    #[test]
    fn key_in_the_wrong_section_is_pointed_home() {
        let text = err("[core]\nmax_agents = 5\n").to_string();
        assert!(text.contains("belongs in `[agent_registry]`"), "{text}");
    }

    #[test]
    fn top_level_key_is_not_a_section() {
        let text = err("max_agents = 5\n").to_string();
        assert!(text.contains("is a key, not a section"), "{text}");
        assert!(text.contains("[agent_registry]"), "{text}");
    }

    #[test]
    fn earliest_error_is_reported() {
        let e = err("[core]\nmax_variables = \"x\"\n[engin]\nworkers = 1\n");
        assert!(matches!(e, ProfileError::WrongType { .. }), "{e}");
        assert!(e.to_string().starts_with("t.toml:2:"), "{e}");
    }

    #[test]
    fn syntax_errors_carry_a_line() {
        match err("[core]\nmax_variables = = 3\n") {
            ProfileError::Syntax { location, .. } => assert_eq!(location.line, Some(2)),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn line_helpers_agree() {
        let text = "a\nb\nc\n";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 4), 3);
        assert_eq!(line_of(text, line_offset(text, Some(&3))), 3);
    }
}
