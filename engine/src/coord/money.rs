//! Fixed-point money: `i64` micro-units (6 decimals) with checked arithmetic and exact parsing.
//!
//! JSON carries money as a number (`12`, `6.5`). Without serde_json's arbitrary-precision
//! feature a JSON number reaches us as an `f64` (or an integer); the `f64`'s shortest
//! round-trip text (Rust's `{}`) is parsed exactly, so `6.5` is 6_500_000 micros and never
//! 6_499_999. A number with more than 15 significant digits cannot be recovered exactly from
//! an `f64` and is rejected; send such values as a JSON string (`"123456789012.123456"`).
//!
//! Output: whole amounts are written as integers (`12`), others as the `f64` nearest the
//! decimal, whose shortest text is that decimal (`6.5`; serde_json writes magnitudes below
//! 0.0001 with an exponent, `1e-6`, still exact). An amount of 10^9 units or more with a
//! fractional part does not fit 15 significant digits and is written as a JSON string.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Micro-units per unit of money.
pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// Largest magnitude (in micros) whose decimal text has at most 15 significant digits, so
/// that it survives a trip through an `f64` exactly.
const F64_EXACT_MICROS: i64 = 1_000_000_000_000_000;

/// An amount of money in micro-units (1 unit = 1,000,000 micros).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub i64);

/// Why a money text or number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text was empty.
    #[error("money is empty: write a number such as 12 or 6.5")]
    Empty,
    /// The text is not a plain decimal number.
    #[error("money `{0}` is not a decimal number: write digits with an optional `-` and `.`")]
    Invalid(String),
    /// More than 6 decimal places.
    #[error("money `{0}` has more than 6 decimal places: round it to the micro-unit")]
    TooManyDecimals(String),
    /// NaN or an infinity.
    #[error("money must be a finite number, got {0}")]
    NotFinite(String),
    /// Outside the `i64` micro-unit range.
    #[error("money `{0}` is out of range: at most 9,223,372,036,854.775807 in magnitude")]
    Overflow(String),
    /// A JSON number with more than 15 significant digits cannot be read exactly.
    #[error("money `{0}` has more than 15 significant digits: send it as a JSON string")]
    PrecisionLoss(String),
}

impl MoneyError {
    /// A stable snake_case code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            MoneyError::Empty | MoneyError::Invalid(_) => "invalid_money",
            MoneyError::TooManyDecimals(_) => "money_too_precise",
            MoneyError::NotFinite(_) => "money_not_finite",
            MoneyError::Overflow(_) => "money_overflow",
            MoneyError::PrecisionLoss(_) => "money_precision_loss",
        }
    }
}

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(0);
    /// The smallest positive amount, one micro-unit.
    pub const MICRO: Money = Money(1);
    /// The largest amount.
    pub const MAX: Money = Money(i64::MAX);

    /// Money from micro-units.
    pub const fn from_micros(micros: i64) -> Money {
        Money(micros)
    }

    /// Money from whole units, `None` on overflow.
    pub const fn from_units(units: i64) -> Option<Money> {
        match units.checked_mul(MICROS_PER_UNIT) {
            Some(m) => Some(Money(m)),
            None => None,
        }
    }

    /// The amount in micro-units.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// True when strictly positive.
    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Checked addition.
    pub fn checked_add(self, rhs: Money) -> Option<Money> {
        self.0.checked_add(rhs.0).map(Money)
    }

    /// Checked subtraction.
    pub fn checked_sub(self, rhs: Money) -> Option<Money> {
        self.0.checked_sub(rhs.0).map(Money)
    }

    /// Checked multiplication by a quantity.
    pub fn checked_mul_qty(self, qty: u64) -> Option<Money> {
        let q = i64::try_from(qty).ok()?;
        self.0.checked_mul(q).map(Money)
    }

    /// Money from an `i128` micro count, `None` when it does not fit.
    pub fn from_i128(micros: i128) -> Option<Money> {
        i64::try_from(micros).ok().map(Money)
    }

    /// The midpoint of `self` and `other`, rounded down to the micro-unit (never overflows).
    pub fn midpoint_floor(self, other: Money) -> Money {
        let sum = i128::from(self.0) + i128::from(other.0);
        // floor division by 2 keeps the result between the two inputs.
        Money(sum.div_euclid(2) as i64)
    }

    /// The amount as an `f64` (for ratios such as efficiency; never for arithmetic on money).
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_UNIT as f64
    }

    /// Parses plain decimal text (`-12`, `6.5`, `0.000001`) exactly.
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(MoneyError::Empty);
        }
        let lower = t.to_ascii_lowercase();
        if lower.contains("nan") || lower.contains("inf") {
            return Err(MoneyError::NotFinite(t.to_string()));
        }
        let (negative, body) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        let digits_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok(int_part) || frac_part.is_some_and(|f| !digits_ok(f)) {
            return Err(MoneyError::Invalid(t.to_string()));
        }
        let frac = frac_part.unwrap_or("");
        if frac.len() > 6 {
            return Err(MoneyError::TooManyDecimals(t.to_string()));
        }
        let overflow = || MoneyError::Overflow(t.to_string());
        let mut micros: i128 = 0;
        for b in int_part.bytes() {
            micros = micros * 10 + i128::from(b - b'0');
            if micros > i128::from(i64::MAX) {
                return Err(overflow());
            }
        }
        micros *= i128::from(MICROS_PER_UNIT);
        let mut scale = 100_000i128;
        for b in frac.bytes() {
            micros += i128::from(b - b'0') * scale;
            scale /= 10;
        }
        if negative {
            micros = -micros;
        }
        i64::try_from(micros).map(Money).map_err(|_| overflow())
    }

    /// Reads an `f64` (as a JSON number arrives) through its shortest round-trip text.
    pub fn from_f64_exact(value: f64) -> Result<Money, MoneyError> {
        if !value.is_finite() {
            return Err(MoneyError::NotFinite(value.to_string()));
        }
        let text = format!("{value}");
        let significant = text
            .bytes()
            .filter(u8::is_ascii_digit)
            .skip_while(|&b| b == b'0')
            .collect::<Vec<u8>>();
        let trimmed =
            significant.len() - significant.iter().rev().take_while(|&&b| b == b'0').count();
        if trimmed > 15 {
            return Err(MoneyError::PrecisionLoss(text));
        }
        Money::parse(&text)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = i128::from(self.0);
        let sign = if m < 0 { "-" } else { "" };
        let abs = m.abs();
        let int = abs / i128::from(MICROS_PER_UNIT);
        let frac = abs % i128::from(MICROS_PER_UNIT);
        if frac == 0 {
            write!(f, "{sign}{int}")
        } else {
            let digits = format!("{frac:06}");
            write!(f, "{sign}{int}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 % MICROS_PER_UNIT == 0 {
            serializer.serialize_i64(self.0 / MICROS_PER_UNIT)
        } else if self.0.unsigned_abs() < F64_EXACT_MICROS as u64 {
            // At most 15 significant digits: the nearest f64's shortest text is this decimal.
            serializer.serialize_f64(self.0 as f64 / MICROS_PER_UNIT as f64)
        } else {
            // An f64 would round it: keep it exact as a string (accepted back on input).
            serializer.serialize_str(&self.to_string())
        }
    }
}

struct MoneyVisitor;

impl Visitor<'_> for MoneyVisitor {
    type Value = Money;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("money as a JSON number with at most 6 decimals (or a decimal string)")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Money, E> {
        i64::try_from(v)
            .ok()
            .and_then(Money::from_units)
            .ok_or_else(|| E::custom(MoneyError::Overflow(v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Money, E> {
        Money::from_units(v).ok_or_else(|| E::custom(MoneyError::Overflow(v.to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Money, E> {
        Money::from_f64_exact(v).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Money, E> {
        Money::parse(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        deserializer.deserialize_any(MoneyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(m: Money) -> String {
        serde_json::to_string(&m).unwrap()
    }

    #[test]
    fn parses_exactly() {
        assert_eq!(Money::parse("12").unwrap(), Money(12_000_000));
        assert_eq!(Money::parse("6.5").unwrap(), Money(6_500_000));
        assert_eq!(Money::parse("-0.000001").unwrap(), Money(-1));
        assert_eq!(Money::parse("0.1").unwrap(), Money(100_000));
    }

    #[test]
    fn refuses_bad_text_with_typed_errors() {
        assert!(matches!(Money::parse(""), Err(MoneyError::Empty)));
        assert!(matches!(
            Money::parse("1.0000001"),
            Err(MoneyError::TooManyDecimals(_))
        ));
        assert!(matches!(Money::parse("NaN"), Err(MoneyError::NotFinite(_))));
        assert!(matches!(
            Money::parse("-inf"),
            Err(MoneyError::NotFinite(_))
        ));
        assert!(matches!(Money::parse("1e3"), Err(MoneyError::Invalid(_))));
        assert!(matches!(Money::parse(".5"), Err(MoneyError::Invalid(_))));
        assert!(matches!(Money::parse("5."), Err(MoneyError::Invalid(_))));
        assert!(matches!(Money::parse("+5"), Err(MoneyError::Invalid(_))));
        assert!(matches!(
            Money::parse("9223372036854.775808"),
            Err(MoneyError::Overflow(_))
        ));
        assert_eq!(Money::parse("9223372036854.775807").unwrap(), Money::MAX);
        assert!(matches!(
            Money::parse("99999999999999999999999"),
            Err(MoneyError::Overflow(_))
        ));
    }

    #[test]
    fn json_numbers_round_trip_without_spurious_digits() {
        assert_eq!(json(Money(12_000_000)), "12");
        assert_eq!(json(Money(6_500_000)), "6.5");
        assert_eq!(json(Money(100_000)), "0.1");
        // serde_json writes tiny magnitudes with an exponent; the value is still exact.
        assert_eq!(json(Money(-1)), "-1e-6");
        assert_eq!(serde_json::from_str::<Money>("-1e-6").unwrap(), Money(-1));
        assert_eq!(json(Money(1_234_567)), "1.234567");
        let m: Money = serde_json::from_str("6.5").unwrap();
        assert_eq!(m, Money(6_500_000));
        let m: Money = serde_json::from_str("0.3").unwrap();
        assert_eq!(m, Money(300_000));
        let m: Money = serde_json::from_str("\"123456789012.123456\"").unwrap();
        assert_eq!(m, Money(123_456_789_012_123_456));
        assert_eq!(json(m), "\"123456789012.123456\"");
        assert!(serde_json::from_str::<Money>("1.0000001").is_err());
        assert!(serde_json::from_str::<Money>("123456789012.123456").is_err());
        assert!(serde_json::from_str::<Money>("1e300").is_err());
        assert!(serde_json::from_str::<Money>("true").is_err());
    }

    #[test]
    fn checked_arithmetic() {
        assert_eq!(Money::MAX.checked_add(Money::MICRO), None);
        assert_eq!(Money(5).checked_mul_qty(3), Some(Money(15)));
        assert_eq!(Money(5).checked_mul_qty(u64::MAX), None);
        assert_eq!(Money(5).midpoint_floor(Money(8)), Money(6));
        assert_eq!(Money::MAX.midpoint_floor(Money::MAX), Money::MAX);
    }

    proptest::proptest! {
        #[test]
        fn every_fifteen_digit_amount_round_trips_through_json(m in -999_999_999_999_999i64..=999_999_999_999_999) {
            let text = json(Money(m));
            let back: Money = serde_json::from_str(&text).unwrap();
            proptest::prop_assert_eq!(back, Money(m));
            proptest::prop_assert_eq!(Money::parse(&Money(m).to_string()).unwrap(), Money(m));
        }

        #[test]
        fn every_amount_round_trips_through_display(m in proptest::num::i64::ANY) {
            proptest::prop_assert_eq!(Money::parse(&Money(m).to_string()).unwrap(), Money(m));
            let back: Money = serde_json::from_str(&json(Money(m))).unwrap();
            proptest::prop_assert_eq!(back, Money(m));
        }
    }
}
