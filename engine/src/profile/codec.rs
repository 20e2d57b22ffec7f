//! How each key's written form (TOML) becomes the value the program uses, and back.
//!
//! A codec is a marker type naming one conversion: `Millis` turns an integer count of
//! milliseconds into a [`Duration`], `Addr` turns a string into a [`SocketAddr`], and so on.
//! The schema names a codec per key; the codec also says what TOML type the key takes
//! ([`Kind`]) so files and environment variables are type-checked the same way.

use super::types::{AuditLevel, LogFormat, LogLevel, RestartStrategy};
use ipnet::IpNet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The TOML type a key accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A non-negative integer.
    UInt,
    /// A number (integers are accepted too).
    Float,
    /// `true` or `false`.
    Bool,
    /// Any string.
    Str,
    /// One of a fixed set of strings.
    Choice(&'static [&'static str]),
    /// An array of `{ token_sha256, agent_id, role }` tables.
    TokenList,
}

impl Kind {
    /// Human description used in "expected ..." messages.
    pub(crate) fn expected(self) -> String {
        match self {
            Kind::UInt => "a non-negative integer".to_owned(),
            Kind::Float => "a number".to_owned(),
            Kind::Bool => "a boolean (true or false)".to_owned(),
            Kind::Str => "a string".to_owned(),
            Kind::Choice(names) => format!("one of {}", quoted_list(names)),
            Kind::TokenList => {
                "an array of tables { token_sha256 = \"<64 hex digits>\", agent_id = \"...\" \
                 (optional), role = \"agent\" | \"operator\" }"
                    .to_owned()
            }
        }
    }

    /// Checks a parsed TOML value against this kind. On a mismatch returns the path
    /// (relative to the key, e.g. `[1].role`, empty for the key itself), the expected type
    /// and a description of what was found.
    pub(crate) fn check(self, value: &toml::Value) -> Result<(), Mismatch> {
        use toml::Value as V;
        let ok = match (self, value) {
            (Kind::UInt, V::Integer(i)) => *i >= 0,
            (Kind::Float, V::Integer(_) | V::Float(_)) => true,
            (Kind::Bool, V::Boolean(_)) => true,
            (Kind::Str, V::String(_)) => true,
            (Kind::Choice(names), V::String(s)) => names.contains(&s.as_str()),
            (Kind::TokenList, V::Array(items)) => return super::tokens::check_tokens(items),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Mismatch::Type {
                sub_path: String::new(),
                expected: self.expected(),
                got: describe(value),
            })
        }
    }
}

/// Why a value failed [`Kind::check`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mismatch {
    /// The value (or a part of it at `sub_path`) has the wrong type.
    Type {
        /// Path below the key, e.g. `[0].role`; empty for the key itself.
        sub_path: String,
        /// What was expected.
        expected: String,
        /// What was found.
        got: String,
    },
    /// A token entry carries a key tokens do not have.
    UnknownTokenKey {
        /// Path below the key, e.g. `[0].rol`.
        sub_path: String,
        /// The misspelt key.
        key: String,
    },
}

/// "string \"abc\"", "integer -1", "table" ... for messages.
pub(crate) fn describe(value: &toml::Value) -> String {
    match value {
        toml::Value::Array(_) | toml::Value::Table(_) => value.type_str().to_owned(),
        other => format!("{} {}", other.type_str(), other),
    }
}

pub(crate) fn quoted_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    quoted.join(", ")
}

/// A written value the codec refused: what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// Path below the key (`[0].role`) or empty.
    pub(crate) sub_path: String,
    /// What is wrong.
    pub(crate) problem: String,
    /// How to fix it.
    pub(crate) fix: String,
}

impl Rejection {
    fn new(problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            sub_path: String::new(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// One conversion between the written form (`Raw`) and the program's form (`Value`).
pub(crate) trait Codec {
    /// What the program uses.
    type Value;
    /// What serde reads from TOML.
    type Raw;
    /// The TOML type accepted.
    const KIND: Kind;
    /// Unit shown after values ("ms", "us", "min") or "".
    const UNIT: &'static str;
    /// Written form to program form.
    fn decode(raw: &Self::Raw) -> Result<Self::Value, Rejection>;
    /// Program form to written form; `None` for an unset optional value.
    fn encode(value: &Self::Value) -> Option<Self::Raw>;
    /// Short display of a value, with its unit.
    fn show(value: &Self::Value) -> String;
}

/// A count or size held as `usize`.
pub(crate) struct Count;
/// A 64-bit integer (megabytes and the like).
pub(crate) struct Int;
/// A small integer held as `u32` (thresholds).
pub(crate) struct Small;
/// `true` / `false`.
pub(crate) struct Flag;
/// A float.
pub(crate) struct Real;
/// A duration written as whole milliseconds.
pub(crate) struct Millis;
/// A duration written as whole microseconds.
pub(crate) struct Micros;
/// A duration written as whole minutes.
pub(crate) struct Minutes;
/// A socket address written as a string.
pub(crate) struct Addr;
/// An optional string.
pub(crate) struct OptText;
/// An optional filesystem path.
pub(crate) struct OptPath;
/// A [`RestartStrategy`] spelling.
pub(crate) struct Restart;
/// A [`LogFormat`] spelling.
pub(crate) struct Format;
/// A [`LogLevel`] spelling.
pub(crate) struct Level;
/// An [`AuditLevel`] spelling.
pub(crate) struct Audit;
/// An optional socket address written as a string.
pub(crate) struct OptAddr;
/// A comma-separated list of IP addresses and CIDR networks.
pub(crate) struct Networks;

impl Codec for Count {
    type Value = usize;
    type Raw = u64;
    const KIND: Kind = Kind::UInt;
    const UNIT: &'static str = "";
    fn decode(raw: &u64) -> Result<usize, Rejection> {
        usize::try_from(*raw).map_err(|_| {
            Rejection::new(
                format!("{raw} does not fit this machine's address size"),
                "use a smaller value",
            )
        })
    }
    fn encode(value: &usize) -> Option<u64> {
        u64::try_from(*value).ok()
    }
    fn show(value: &usize) -> String {
        value.to_string()
    }
}

impl Codec for Int {
    type Value = u64;
    type Raw = u64;
    const KIND: Kind = Kind::UInt;
    const UNIT: &'static str = "";
    fn decode(raw: &u64) -> Result<u64, Rejection> {
        Ok(*raw)
    }
    fn encode(value: &u64) -> Option<u64> {
        Some(*value)
    }
    fn show(value: &u64) -> String {
        value.to_string()
    }
}

impl Codec for Small {
    type Value = u32;
    type Raw = u64;
    const KIND: Kind = Kind::UInt;
    const UNIT: &'static str = "";
    fn decode(raw: &u64) -> Result<u32, Rejection> {
        u32::try_from(*raw).map_err(|_| {
            Rejection::new(
                format!("{raw} is larger than {}", u32::MAX),
                "use a smaller value",
            )
        })
    }
    fn encode(value: &u32) -> Option<u64> {
        Some(u64::from(*value))
    }
    fn show(value: &u32) -> String {
        value.to_string()
    }
}

impl Codec for Flag {
    type Value = bool;
    type Raw = bool;
    const KIND: Kind = Kind::Bool;
    const UNIT: &'static str = "";
    fn decode(raw: &bool) -> Result<bool, Rejection> {
        Ok(*raw)
    }
    fn encode(value: &bool) -> Option<bool> {
        Some(*value)
    }
    fn show(value: &bool) -> String {
        value.to_string()
    }
}

impl Codec for Real {
    type Value = f64;
    type Raw = f64;
    const KIND: Kind = Kind::Float;
    const UNIT: &'static str = "";
    fn decode(raw: &f64) -> Result<f64, Rejection> {
        Ok(*raw)
    }
    fn encode(value: &f64) -> Option<f64> {
        Some(*value)
    }
    fn show(value: &f64) -> String {
        format!("{value:?}")
    }
}

macro_rules! duration_codec {
    ($codec:ident, $unit:literal, $from:expr, $to:expr) => {
        impl Codec for $codec {
            type Value = Duration;
            type Raw = u64;
            const KIND: Kind = Kind::UInt;
            const UNIT: &'static str = $unit;
            fn decode(raw: &u64) -> Result<Duration, Rejection> {
                let from: fn(u64) -> Option<Duration> = $from;
                from(*raw).ok_or_else(|| {
                    Rejection::new(
                        format!("{raw} {} overflows a duration", $unit),
                        "use a smaller value",
                    )
                })
            }
            fn encode(value: &Duration) -> Option<u64> {
                let to: fn(&Duration) -> u128 = $to;
                u64::try_from(to(value)).ok()
            }
            fn show(value: &Duration) -> String {
                let to: fn(&Duration) -> u128 = $to;
                format!("{} {}", to(value), $unit)
            }
        }
    };
}

duration_codec!(Millis, "ms", |n| Some(Duration::from_millis(n)), |d| d
    .as_millis());
duration_codec!(Micros, "us", |n| Some(Duration::from_micros(n)), |d| d
    .as_micros());
duration_codec!(
    Minutes,
    "min",
    |n| n.checked_mul(60).map(Duration::from_secs),
    |d| d.as_secs() as u128 / 60
);

impl Codec for Addr {
    type Value = SocketAddr;
    type Raw = String;
    const KIND: Kind = Kind::Str;
    const UNIT: &'static str = "";
    fn decode(raw: &String) -> Result<SocketAddr, Rejection> {
        raw.trim().parse().map_err(|_| {
            Rejection::new(
                format!("\"{raw}\" is not a socket address"),
                "write IP:PORT, e.g. \"127.0.0.1:4000\" or \"[::1]:4000\" (host names are not resolved)",
            )
        })
    }
    fn encode(value: &SocketAddr) -> Option<String> {
        Some(value.to_string())
    }
    fn show(value: &SocketAddr) -> String {
        value.to_string()
    }
}

impl Codec for OptText {
    type Value = Option<String>;
    type Raw = String;
    const KIND: Kind = Kind::Str;
    const UNIT: &'static str = "";
    fn decode(raw: &String) -> Result<Option<String>, Rejection> {
        Ok(Some(raw.clone()))
    }
    fn encode(value: &Option<String>) -> Option<String> {
        value.clone()
    }
    fn show(value: &Option<String>) -> String {
        value
            .as_ref()
            .map_or_else(|| "(unset)".to_owned(), |s| format!("\"{s}\""))
    }
}

impl Codec for OptPath {
    type Value = Option<PathBuf>;
    type Raw = String;
    const KIND: Kind = Kind::Str;
    const UNIT: &'static str = "";
    fn decode(raw: &String) -> Result<Option<PathBuf>, Rejection> {
        if raw.trim().is_empty() {
            return Err(Rejection::new(
                "the path is empty",
                "give a file path, or remove the key to leave it unset",
            ));
        }
        Ok(Some(PathBuf::from(raw)))
    }
    fn encode(value: &Option<PathBuf>) -> Option<String> {
        value.as_ref().map(|p| p.to_string_lossy().into_owned())
    }
    fn show(value: &Option<PathBuf>) -> String {
        value
            .as_ref()
            .map_or_else(|| "(unset)".to_owned(), |p| format!("\"{}\"", p.display()))
    }
}

impl Codec for Restart {
    type Value = RestartStrategy;
    type Raw = String;
    const KIND: Kind = Kind::Choice(RestartStrategy::NAMES);
    const UNIT: &'static str = "";
    fn decode(raw: &String) -> Result<RestartStrategy, Rejection> {
        RestartStrategy::parse(raw).ok_or_else(|| {
            Rejection::new(
                format!("\"{raw}\" is not a restart strategy"),
                format!("use one of {}", quoted_list(RestartStrategy::NAMES)),
            )
        })
    }
    fn encode(value: &RestartStrategy) -> Option<String> {
        Some(value.as_str().to_owned())
    }
    fn show(value: &RestartStrategy) -> String {
        format!("\"{value}\"")
    }
}

impl Codec for Format {
    type Value = LogFormat;
    type Raw = String;
    const KIND: Kind = Kind::Choice(LogFormat::NAMES);
    const UNIT: &'static str = "";
    fn decode(raw: &String) -> Result<LogFormat, Rejection> {
        LogFormat::parse(raw).ok_or_else(|| {
            Rejection::new(
                format!("\"{raw}\" is not a log format"),
                format!("use one of {}", quoted_list(LogFormat::NAMES)),
            )
        })
    }
    fn encode(value: &LogFormat) -> Option<String> {
        Some(value.as_str().to_owned())
    }
    fn show(value: &LogFormat) -> String {
        format!("\"{value}\"")
    }
}

macro_rules! choice_codec {
    ($codec:ty, $ty:ty, $what:literal) => {
        impl Codec for $codec {
            type Value = $ty;
            type Raw = String;
            const KIND: Kind = Kind::Choice(<$ty>::NAMES);
            const UNIT: &'static str = "";
            fn decode(raw: &String) -> Result<$ty, Rejection> {
                <$ty>::parse(raw).ok_or_else(|| {
                    Rejection::new(
                        format!(concat!("\"{}\" is not ", $what), raw),
                        format!("use one of {}", quoted_list(<$ty>::NAMES)),
                    )
                })
            }
            fn encode(value: &$ty) -> Option<String> {
                Some(value.as_str().to_owned())
            }
            fn show(value: &$ty) -> String {
                format!("\"{value}\"")
            }
        }
    };
}

choice_codec!(Level, LogLevel, "a log level");
choice_codec!(Audit, AuditLevel, "an audit level");

impl Codec for OptAddr {
    type Value = Option<SocketAddr>;
    type Raw = String;
    const KIND: Kind = Kind::Str;
    const UNIT: &'static str = "";
    fn decode(raw: &String) -> Result<Option<SocketAddr>, Rejection> {
        Addr::decode(raw).map(Some)
    }
    fn encode(value: &Option<SocketAddr>) -> Option<String> {
        value.map(|a| a.to_string())
    }
    fn show(value: &Option<SocketAddr>) -> String {
        value.map_or_else(|| "(unset)".to_owned(), |a| a.to_string())
    }
}

impl Codec for Networks {
    type Value = Vec<IpNet>;
    type Raw = String;
    const KIND: Kind = Kind::Str;
    const UNIT: &'static str = "";
    fn decode(raw: &String) -> Result<Vec<IpNet>, Rejection> {
        raw.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        Rejection::new(
                            format!("\"{item}\" is neither an IP address nor a CIDR network"),
                            "list addresses or networks separated by commas, e.g. \"10.0.0.0/8, 192.168.1.7\"",
                        )
                    })
            })
            .collect()
    }
    fn encode(value: &Vec<IpNet>) -> Option<String> {
        Some(
            value
                .iter()
                .map(IpNet::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
    fn show(value: &Vec<IpNet>) -> String {
        if value.is_empty() {
            "\"\" (none)".to_owned()
        } else {
            format!("\"{}\"", Self::encode(value).unwrap_or_default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_check_accepts_and_rejects() {
        assert!(Kind::UInt.check(&toml::Value::Integer(0)).is_ok());
        assert!(Kind::UInt.check(&toml::Value::Integer(-1)).is_err());
        assert!(Kind::Float.check(&toml::Value::Integer(2)).is_ok());
        assert!(
            Kind::Bool
                .check(&toml::Value::String("true".into()))
                .is_err()
        );
        let choice = Kind::Choice(LogFormat::NAMES);
        assert!(choice.check(&toml::Value::String("json".into())).is_ok());
        let err = choice
            .check(&toml::Value::String("yaml".into()))
            .unwrap_err();
        assert_eq!(
            err,
            Mismatch::Type {
                sub_path: String::new(),
                expected: "one of \"text\", \"json\"".into(),
                got: "string \"yaml\"".into(),
            }
        );
    }

    #[test]
    fn durations_keep_their_unit() {
        assert_eq!(Millis::decode(&1500), Ok(Duration::from_millis(1500)));
        let nets = Networks::decode(&"10.0.0.0/8, 127.0.0.1,,::1".to_owned()).unwrap();
        assert_eq!(
            Networks::encode(&nets).as_deref(),
            Some("10.0.0.0/8, 127.0.0.1/32, ::1/128")
        );
        assert!(Networks::decode(&"10.0.0.0/33".to_owned()).is_err());
        assert!(Networks::decode(&"example.com".to_owned()).is_err());
        assert_eq!(Networks::decode(&String::new()), Ok(Vec::new()));
        assert_eq!(Level::decode(&"warn".to_owned()), Ok(LogLevel::Warn));
        assert!(Audit::decode(&"some".to_owned()).is_err());
        assert_eq!(Micros::encode(&Duration::from_micros(7)), Some(7));
        assert_eq!(Minutes::decode(&2), Ok(Duration::from_secs(120)));
        assert_eq!(Minutes::encode(&Duration::from_secs(120)), Some(2));
        assert!(Minutes::decode(&u64::MAX).is_err());
        assert_eq!(Millis::show(&Duration::from_millis(5)), "5 ms");
    }

    #[test]
    fn addr_rejects_host_names() {
        assert!(Addr::decode(&"127.0.0.1:4000".to_owned()).is_ok());
        assert!(Addr::decode(&"localhost:4000".to_owned()).is_err());
    }
}
