//! Limits of a variable store, checked once at construction.

use thiserror::Error;

/// The limits of one [`Variables`](super::Variables) store (one shard's worth).
///
/// Every table the store keeps is bounded by one of these; reaching a bound is an error the
/// caller sees, and never disturbs the variables already held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VariableSettings {
    /// Most variables the store holds (profile `max_variables`).
    pub max_variables: usize,
    /// History entries kept per variable, newest first; the current value is the newest
    /// entry, so at least 1 (profile `history_retention`).
    pub history_retention: usize,
    /// Most subscribers per variable.
    pub subscribers_max: usize,
    /// Largest value, and largest domain, as compact JSON in bytes.
    pub value_bytes_max: usize,
    /// Most votes or bids in one `coordinate` call.
    pub participants_max: usize,
}

/// Upper bounds that keep a mistyped setting from reserving absurd memory.
const MAX_VARIABLES_CAP: usize = 1 << 24;
const HISTORY_RETENTION_CAP: usize = 1 << 20;
const SUBSCRIBERS_CAP: usize = 1 << 16;
const VALUE_BYTES_CAP: usize = 64 << 20;
const PARTICIPANTS_CAP: usize = 1 << 20;

/// A setting outside its accepted range.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("variables setting `{key}` is {value}; set it between {min} and {max}")]
pub struct SettingsError {
    /// The offending setting.
    pub key: &'static str,
    /// Its value.
    pub value: usize,
    /// Smallest accepted value.
    pub min: usize,
    /// Largest accepted value.
    pub max: usize,
}

impl Default for VariableSettings {
    /// The deployment defaults: 5000 variables, 1000 history entries each.
    fn default() -> Self {
        Self {
            max_variables: 5_000,
            history_retention: 1_000,
            subscribers_max: 64,
            value_bytes_max: 64 * 1024,
            participants_max: 1_024,
        }
    }
}

impl VariableSettings {
    /// Tiny limits, so tests reach every edge quickly.
    pub fn test_min() -> Self {
        Self {
            max_variables: 4,
            history_retention: 3,
            subscribers_max: 2,
            value_bytes_max: 256,
            participants_max: 8,
        }
    }

    /// Checks every limit against its range.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let checks = [
            ("max_variables", self.max_variables, 1, MAX_VARIABLES_CAP),
            (
                "history_retention",
                self.history_retention,
                1,
                HISTORY_RETENTION_CAP,
            ),
            ("subscribers_max", self.subscribers_max, 0, SUBSCRIBERS_CAP),
            ("value_bytes_max", self.value_bytes_max, 16, VALUE_BYTES_CAP),
            (
                "participants_max",
                self.participants_max,
                1,
                PARTICIPANTS_CAP,
            ),
        ];
        for (key, value, min, max) in checks {
            if !(min..=max).contains(&value) {
                return Err(SettingsError {
                    key,
                    value,
                    min,
                    max,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_test_min_are_valid() {
        assert_eq!(VariableSettings::default().validate(), Ok(()));
        assert_eq!(VariableSettings::test_min().validate(), Ok(()));
    }

    #[test]
    fn out_of_range_settings_name_the_key() {
        let s = VariableSettings {
            history_retention: 0,
            ..VariableSettings::default()
        };
        let e = s.validate().unwrap_err();
        assert_eq!(e.key, "history_retention");
        assert!(e.to_string().contains("between 1 and"), "{e}");
        let s = VariableSettings {
            max_variables: usize::MAX,
            ..VariableSettings::default()
        };
        assert_eq!(s.validate().map_err(|e| e.key), Err("max_variables"));
        let s = VariableSettings {
            value_bytes_max: 8,
            ..VariableSettings::default()
        };
        assert_eq!(s.validate().map_err(|e| e.key), Err("value_bytes_max"));
    }
}
