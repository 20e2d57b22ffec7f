//! The schema: one declaration per key generates both stages and the key table.
//!
//! [`settings!`] takes, per section, the list of keys with their program type, written type,
//! codec, built-in default and `test_min` value, and generates:
//! - the section's validated struct (`CoreConfig`, ...) with plain values,
//! - the section's written struct (`CoreSpec`, ...), every field `Option`, serde
//!   `deny_unknown_fields`,
//! - the top-level [`Config`](super::Config) and [`ProfileSpec`](super::ProfileSpec),
//! - the key table [`SECTIONS`](super::config::SECTIONS) that drives type checks,
//!   suggestions, environment overrides and rendering.
//!
//! Declaring a key once keeps the two stages, the defaults and the table from drifting.

use super::codec::{Kind, Mismatch, Rejection};

/// One key of a section.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyDef {
    /// The key as written in TOML.
    pub(crate) name: &'static str,
    /// The TOML type it accepts.
    pub(crate) kind: Kind,
    /// The unit of its value ("ms", "us", "min" or "").
    pub(crate) unit: &'static str,
}

/// One `[section]` and its keys.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SectionDef {
    /// The section name as written in TOML.
    pub(crate) name: &'static str,
    /// Its keys, in declaration order.
    pub(crate) keys: &'static [KeyDef],
}

impl KeyDef {
    /// "a non-negative integer (ms)": the TOML type with the unit, for messages.
    pub(crate) fn expected(&self) -> String {
        match self.unit {
            "" => self.kind.expected(),
            unit => format!("{} ({unit})", self.kind.expected()),
        }
    }

    /// Checks a value against the key's kind; type mismatches on the key itself name the unit.
    pub(crate) fn check(&self, value: &toml::Value) -> Result<(), Mismatch> {
        match self.kind.check(value) {
            Err(Mismatch::Type {
                sub_path,
                expected: _,
                got,
            }) if sub_path.is_empty() => Err(Mismatch::Type {
                sub_path,
                expected: self.expected(),
                got,
            }),
            other => other,
        }
    }
}

impl SectionDef {
    /// The key called `name`, if the section has one.
    pub(crate) fn key(&self, name: &str) -> Option<&'static KeyDef> {
        self.keys.iter().find(|k| k.name == name)
    }
}

/// The section called `name`, if the schema has one.
pub(crate) fn section(name: &str) -> Option<&'static SectionDef> {
    super::config::SECTIONS.iter().find(|s| s.name == name)
}

/// Every `section.key` path, in declaration order.
pub(crate) fn all_paths() -> impl Iterator<Item = (&'static SectionDef, &'static KeyDef)> {
    super::config::SECTIONS
        .iter()
        .flat_map(|s| s.keys.iter().map(move |k| (s, k)))
}

/// A written value that could not be converted: the full key path and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRejection {
    /// `section.key` (plus a sub-path such as `[0].role` for token entries).
    pub(crate) path: String,
    /// `section.key` alone, for looking up where the value came from.
    pub(crate) key_path: &'static str,
    /// What was wrong and how to fix it.
    pub(crate) rejection: Rejection,
}

/// Generates the two stages of the configuration from one list of keys. See the module docs.
macro_rules! settings {
    ($(
        $(#[doc = $sdoc:literal])*
        [$section:ident] $config:ident / $spec:ident {
            $(
                $(#[doc = $doc:literal])*
                $key:ident : $vty:ty as $rty:ty => $codec:ident = $default:expr , $test:expr ;
            )*
        }
    )*) => {
        $(
            $(#[doc = $sdoc])*
            #[derive(Debug, Clone, PartialEq)]
            pub struct $config {
                $(
                    $(#[doc = $doc])*
                    pub $key: $vty,
                )*
            }

            #[doc = concat!("The `[", stringify!($section), "]` section as written in a \
                profile: every key optional, unknown keys refused.")]
            #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            pub struct $spec {
                $(
                    $(#[doc = $doc])*
                    #[serde(default, skip_serializing_if = "Option::is_none")]
                    pub $key: Option<$rty>,
                )*
            }

            impl Default for $config {
                fn default() -> Self {
                    Self { $($key: $default,)* }
                }
            }

            impl $config {
                /// The `test_min` values of this section.
                pub(crate) fn test_min() -> Self {
                    Self { $($key: $test,)* }
                }

                /// Overlays the keys written in `spec` on `base`; conversion failures go to
                /// `rejected`.
                pub(crate) fn overlay(
                    mut self,
                    spec: Option<&$spec>,
                    rejected: &mut Vec<$crate::profile::schema::KeyRejection>,
                ) -> Self {
                    if let Some(spec) = spec {
                        $(
                            if let Some(raw) = &spec.$key {
                                match <$codec as $crate::profile::codec::Codec>::decode(raw) {
                                    Ok(value) => self.$key = value,
                                    Err(rejection) => {
                                        let key_path =
                                            concat!(stringify!($section), ".", stringify!($key));
                                        rejected.push($crate::profile::schema::KeyRejection {
                                            path: format!("{key_path}{}", rejection.sub_path),
                                            key_path,
                                            rejection,
                                        });
                                    }
                                }
                            }
                        )*
                    }
                    self
                }

                /// The written form of this section (every set key present).
                pub(crate) fn to_spec(&self) -> $spec {
                    $spec {
                        $($key: <$codec as $crate::profile::codec::Codec>::encode(&self.$key),)*
                    }
                }

                /// `(key path, displayed value)` for every key, in declaration order.
                pub(crate) fn entries(&self, out: &mut Vec<(&'static str, String)>) {
                    $(
                        out.push((
                            concat!(stringify!($section), ".", stringify!($key)),
                            <$codec as $crate::profile::codec::Codec>::show(&self.$key),
                        ));
                    )*
                }
            }
        )*

        /// The validated configuration the engine, server and harness use.
        ///
        /// Built from the built-in defaults, a profile file and `MABEAM_*` environment
        /// variables by [`load`](crate::profile::load), or directly with
        /// [`Config::from_toml_str`]. Durations are [`std::time::Duration`]s; every field is
        /// named exactly like its TOML key (`config.engine.inbox_depth_max`).
        #[derive(Debug, Clone, PartialEq)]
        pub struct Config {
            $(
                $(#[doc = $sdoc])*
                pub $section: $config,
            )*
        }

        /// A profile as written: every section and key optional, unknown ones refused.
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct ProfileSpec {
            $(
                $(#[doc = $sdoc])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $section: Option<$spec>,
            )*
        }

        impl Default for Config {
            fn default() -> Self {
                Self { $($section: $config::default(),)* }
            }
        }

        impl Config {
            /// Tiny limits and short intervals so tests reach every edge (full inboxes,
            /// full registries, expiring deadlines) quickly. `profiles/test-min.toml` yields
            /// exactly this.
            pub fn test_min() -> Self {
                Self { $($section: $config::test_min(),)* }
            }

            /// Overlays the keys written in `spec` on `self`, without range checks.
            pub(crate) fn overlay(
                self,
                spec: &ProfileSpec,
                rejected: &mut Vec<$crate::profile::schema::KeyRejection>,
            ) -> Self {
                Self {
                    $($section: self.$section.overlay(spec.$section.as_ref(), rejected),)*
                }
            }

            /// The written form of this configuration: a profile that reproduces it exactly.
            pub fn to_spec(&self) -> ProfileSpec {
                ProfileSpec { $($section: Some(self.$section.to_spec()),)* }
            }

            /// `(key path, displayed value)` for every key, in declaration order.
            pub(crate) fn entries(&self) -> Vec<(&'static str, String)> {
                let mut out = Vec::new();
                $(self.$section.entries(&mut out);)*
                out
            }
        }

        /// Every section and key of the schema, in declaration order.
        pub(crate) const SECTIONS: &[$crate::profile::schema::SectionDef] = &[
            $(
                $crate::profile::schema::SectionDef {
                    name: stringify!($section),
                    keys: &[
                        $(
                            $crate::profile::schema::KeyDef {
                                name: stringify!($key),
                                kind: <$codec as $crate::profile::codec::Codec>::KIND,
                                unit: <$codec as $crate::profile::codec::Codec>::UNIT,
                            },
                        )*
                    ],
                },
            )*
        ];
    };
}

pub(crate) use settings;
