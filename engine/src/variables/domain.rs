//! What a variable may hold ([`Domain`]), how concurrent writers are reconciled
//! ([`Policy`]), and the checks behind both: domain membership, JSON size, names.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::number::{Decimal, cmp_numbers, cmp_values};

/// Longest name or agent id, in bytes (all allowed characters are ASCII).
pub const NAME_LEN_MAX: usize = 128;

/// The set of values a variable accepts.
///
/// JSON: `{"type":"free"}`, `{"type":"range","min":0,"max":10}`,
/// `{"type":"enum","values":["a","b"]}`. Range bounds are inclusive and compared exactly
/// (`0.1` is `0.1`, not the nearest binary double); enum members are matched with numbers
/// compared by value (`1` matches `1.0`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "DomainSpec", into = "DomainSpec")]
pub enum Domain {
    /// Any JSON value (within the size limit).
    #[default]
    Free,
    /// A JSON number with `min <= value <= max`.
    Range {
        /// Smallest accepted value.
        min: Number,
        /// Largest accepted value.
        max: Number,
    },
    /// One of the listed values.
    Enum(Vec<Value>),
}

/// The wire form of [`Domain`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum DomainSpec {
    Free,
    Range { min: Number, max: Number },
    Enum { values: Vec<Value> },
}

impl TryFrom<DomainSpec> for Domain {
    type Error = String;

    fn try_from(spec: DomainSpec) -> Result<Self, String> {
        let domain = match spec {
            DomainSpec::Free => Domain::Free,
            DomainSpec::Range { min, max } => Domain::Range { min, max },
            DomainSpec::Enum { values } => Domain::Enum(values),
        };
        domain.validate()?;
        Ok(domain)
    }
}

impl From<Domain> for DomainSpec {
    fn from(domain: Domain) -> Self {
        match domain {
            Domain::Free => DomainSpec::Free,
            Domain::Range { min, max } => DomainSpec::Range { min, max },
            Domain::Enum(values) => DomainSpec::Enum { values },
        }
    }
}

impl Domain {
    /// Checks the domain itself: range bounds readable exactly and `min <= max`, enum not
    /// empty. The error says what to change.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Domain::Free => Ok(()),
            Domain::Range { min, max } => {
                for (which, bound) in [("min", min), ("max", max)] {
                    Decimal::from_number(bound).map_err(|e| {
                        format!(
                            "range {which} {bound} {}; use a shorter number",
                            e.describe()
                        )
                    })?;
                }
                if cmp_numbers(min, max) == Ordering::Greater {
                    return Err(format!(
                        "range min {min} is above max {max}; swap them or widen the range"
                    ));
                }
                Ok(())
            }
            Domain::Enum(values) if values.is_empty() => {
                Err("enum domain has no values; list at least one in `values`".to_owned())
            }
            Domain::Enum(_) => Ok(()),
        }
    }

    /// Whether `value` is in the domain; `Err` says why not, for the caller's message.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        match self {
            Domain::Free => Ok(()),
            Domain::Range { min, max } => {
                let Value::Number(n) = value else {
                    return Err(format!(
                        "{} is not a number; send a number in [{min}, {max}]",
                        kind(value)
                    ));
                };
                if Decimal::from_number(n).is_err() {
                    return Err(format!("{n} has too many digits to compare exactly"));
                }
                if cmp_numbers(n, min) == Ordering::Less || cmp_numbers(n, max) == Ordering::Greater
                {
                    return Err(format!(
                        "{n} is outside [{min}, {max}]; send a number within it"
                    ));
                }
                Ok(())
            }
            Domain::Enum(values) => {
                if values
                    .iter()
                    .any(|v| cmp_values(v, value) == Ordering::Equal)
                {
                    Ok(())
                } else {
                    Err(format!(
                        "the value is not one of the {} allowed values; send one of them",
                        values.len()
                    ))
                }
            }
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// How writes to a variable are reconciled.
///
/// JSON: `"last_write_wins"` (default), `"version_check"`, `"coordinated"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Any write applies; a `version`, when sent, must still be current.
    #[default]
    LastWriteWins,
    /// Every write must carry the current `version` (optimistic concurrency).
    VersionCheck,
    /// Direct writes are refused; the value changes only through `coordinate`.
    Coordinated,
}

/// Checks a variable name or agent id: 1-128 characters of `[A-Za-z0-9_.:-]`.
pub(crate) fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("it is empty; use 1-128 characters of [A-Za-z0-9_.:-]".to_owned());
    }
    if id.len() > NAME_LEN_MAX {
        return Err(format!(
            "it is {} bytes long; use at most {NAME_LEN_MAX} characters of [A-Za-z0-9_.:-]",
            id.len()
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')))
    {
        return Err(format!(
            "it contains {bad:?}; use only characters of [A-Za-z0-9_.:-]"
        ));
    }
    Ok(())
}

/// The size of `value` as compact JSON, counted without allocating; stops counting (and
/// returns `None`) as soon as it passes `max`.
pub(crate) fn json_size_within<T: Serialize + ?Sized>(value: &T, max: usize) -> Option<usize> {
    struct Counter {
        n: usize,
        max: usize,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.n += buf.len();
            if self.n > self.max {
                return Err(std::io::Error::other("over the limit"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { n: 0, max };
    serde_json::to_writer(&mut counter, value).ok()?;
    Some(counter.n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn domain(v: Value) -> Result<Domain, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn domain_json_round_trips() {
        for v in [
            json!({"type": "free"}),
            json!({"type": "range", "min": 0, "max": 10}),
            json!({"type": "range", "min": -0.5, "max": 2.25}),
            json!({"type": "enum", "values": ["a", 1, null]}),
        ] {
            let d = domain(v.clone()).expect("valid domain");
            assert_eq!(serde_json::to_value(&d).ok(), Some(v));
        }
    }

    #[test]
    fn bad_domains_are_refused_with_reasons() {
        let e = domain(json!({"type": "range", "min": 5, "max": 1})).unwrap_err();
        assert!(e.to_string().contains("above max"), "{e}");
        let e = domain(json!({"type": "enum", "values": []})).unwrap_err();
        assert!(e.to_string().contains("no values"), "{e}");
        assert!(domain(json!({"type": "range", "min": 0})).is_err());
        assert!(domain(json!({"type": "range", "min": 0, "max": 1, "step": 1})).is_err());
        assert!(domain(json!({"type": "set"})).is_err());
        assert!(domain(json!({"type": "range", "min": "0", "max": 1})).is_err());
    }

    #[test]
    fn range_is_inclusive_and_exact() {
        let d = domain(json!({"type": "range", "min": 0.1, "max": 10})).expect("valid");
        assert!(d.check(&json!(0.1)).is_ok());
        assert!(d.check(&json!(10)).is_ok());
        assert!(d.check(&json!(10.0)).is_ok());
        assert!(d.check(&json!(5)).is_ok());
        assert!(d.check(&json!(0.09999999999999999)).is_err());
        assert!(d.check(&json!(10.000001)).is_err());
        assert!(d.check(&json!(-1)).is_err());
        let e = d.check(&json!("5")).unwrap_err();
        assert!(e.contains("not a number"), "{e}");
    }

    #[test]
    fn enum_matches_numbers_by_value() {
        let d = Domain::Enum(vec![json!("low"), json!(2), json!({"k": [1]})]);
        assert!(d.check(&json!("low")).is_ok());
        assert!(d.check(&json!(2.0)).is_ok());
        assert!(d.check(&json!({"k": [1.0]})).is_ok());
        assert!(d.check(&json!("high")).is_err());
        assert!(d.check(&json!(3)).is_err());
        assert!(Domain::Free.check(&json!({"any": "thing"})).is_ok());
    }

    #[test]
    fn policy_json() {
        let p: Policy = serde_json::from_value(json!("version_check")).expect("policy");
        assert_eq!(p, Policy::VersionCheck);
        assert_eq!(
            serde_json::to_value(Policy::Coordinated).ok(),
            Some(json!("coordinated"))
        );
        assert!(serde_json::from_value::<Policy>(json!("first_write_wins")).is_err());
    }

    #[test]
    fn ids_are_checked() {
        assert!(check_id("cfg.rate:limit_1-a").is_ok());
        assert!(check_id(&"x".repeat(128)).is_ok());
        assert!(check_id(&"x".repeat(129)).is_err());
        assert!(check_id("").is_err());
        assert!(check_id("a b").unwrap_err().contains("' '"));
        assert!(check_id("caf\u{e9}").is_err());
        assert!(check_id("a/b").is_err());
    }

    #[test]
    fn size_is_counted_without_serializing_past_the_limit() {
        let v = json!({"a": [1, 2, 3]});
        let exact = serde_json::to_vec(&v).map(|b| b.len()).unwrap_or(0);
        assert_eq!(json_size_within(&v, exact), Some(exact));
        assert_eq!(json_size_within(&v, exact - 1), None);
        assert_eq!(json_size_within(&json!("x".repeat(1000)), 10), None);
    }
}
