//! Exact decimal arithmetic on JSON numbers: comparison, micro-unit money and a total order
//! over JSON values.
//!
//! `serde_json` keeps integers exactly and decimals as `f64`. A decimal is read back through
//! its shortest round-trip text (`0.1` stays `"0.1"`), so the digits the client wrote are the
//! digits compared here: `0.3` equals `0.30`, `1` equals `1.0`, and `0.1 + 0.2`-style binary
//! noise never enters a domain check or a bid.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::{Number, Value};

/// Significant digits a [`Decimal`] can hold: more than `u64` (20) and `f64` (17) ever need.
const DIGITS_MAX: usize = 40;

/// Micro-units per whole unit of money.
pub(crate) const MICROS_PER_UNIT: i64 = 1_000_000;

/// Why a JSON number could not be read exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// More significant digits than the engine compares exactly.
    TooManyDigits,
    /// More than 6 decimal places where money or a threshold is expected.
    TooManyDecimals,
    /// Out of the `i64` micro-unit range.
    OutOfRange,
}

impl NumberError {
    /// What is wrong, phrased for an error message.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::TooManyDigits => "has more than 40 significant digits",
            Self::TooManyDecimals => "has more than 6 decimal places",
            Self::OutOfRange => "is outside the fixed-point range (about +/-9.2e12)",
        }
    }
}

/// An exact decimal: `(-1)^neg * 0.d1 d2 ... dn * 10^exp`, digits without leading or
/// trailing zeros; zero has no digits. Plain data, no allocation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decimal {
    neg: bool,
    len: u8,
    digits: [u8; DIGITS_MAX],
    exp: i32,
}

impl Decimal {
    const ZERO: Self = Self {
        neg: false,
        len: 0,
        digits: [0; DIGITS_MAX],
        exp: 0,
    };

    /// Reads a JSON number exactly (through its shortest text for decimals).
    pub(crate) fn from_number(n: &Number) -> Result<Self, NumberError> {
        let mut buf = StackText::default();
        write!(buf, "{n}").map_err(|_| NumberError::TooManyDigits)?;
        Self::parse(buf.as_str()).ok_or(NumberError::TooManyDigits)
    }

    /// Parses JSON number text (`-12.5e-3`). `None` on malformed text or too many digits.
    fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let mut i = 0;
        let neg = bytes.first() == Some(&b'-');
        if neg {
            i += 1;
        }
        let mut d = Self::ZERO;
        // Digits seen before the decimal point, counted from the first significant digit.
        let mut int_digits: i64 = 0;
        let mut seen_point = false;
        let mut seen_digit = false;
        let mut leading_frac_zeros: i64 = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'0'..=b'9' => {
                    seen_digit = true;
                    let digit = bytes[i] - b'0';
                    if d.len == 0 && digit == 0 {
                        if seen_point {
                            leading_frac_zeros += 1;
                        }
                    } else {
                        if usize::from(d.len) == DIGITS_MAX {
                            return None;
                        }
                        d.digits[usize::from(d.len)] = digit;
                        d.len += 1;
                        if !seen_point {
                            int_digits += 1;
                        }
                    }
                }
                b'.' if !seen_point => seen_point = true,
                b'e' | b'E' => break,
                _ => return None,
            }
            i += 1;
        }
        if !seen_digit {
            return None;
        }
        let mut exp10: i64 = 0;
        if i < bytes.len() {
            exp10 = text
                .get(i + 1..)?
                .trim_start_matches('+')
                .parse::<i64>()
                .ok()?;
            if exp10.abs() > 100_000 {
                return None;
            }
        }
        while d.len > 0 && d.digits[usize::from(d.len) - 1] == 0 {
            d.len -= 1;
        }
        if d.len == 0 {
            return Some(Self::ZERO);
        }
        d.neg = neg;
        let exp = if int_digits > 0 {
            int_digits
        } else {
            -leading_frac_zeros
        };
        d.exp = i32::try_from(exp + exp10).ok()?;
        Some(d)
    }

    fn digits(&self) -> &[u8] {
        &self.digits[..usize::from(self.len)]
    }

    fn is_zero(&self) -> bool {
        self.len == 0
    }

    /// Exact comparison.
    pub(crate) fn cmp_exact(&self, other: &Self) -> Ordering {
        let sign = |d: &Self| match (d.is_zero(), d.neg) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        if self.is_zero() {
            return Ordering::Equal;
        }
        let magnitude = self
            .exp
            .cmp(&other.exp)
            .then_with(|| self.digits().cmp(other.digits()));
        if self.neg {
            magnitude.reverse()
        } else {
            magnitude
        }
    }

    /// The value in micro-units (`x * 10^6`), exactly; at most 6 decimal places.
    pub(crate) fn to_micros(self) -> Result<i64, NumberError> {
        if self.is_zero() {
            return Ok(0);
        }
        let len = i64::from(self.len);
        let exp = i64::from(self.exp);
        if len - exp > 6 {
            return Err(NumberError::TooManyDecimals);
        }
        // Value * 10^6 = 0.d1..dn * 10^(exp + 6) = d1..dn * 10^(exp + 6 - n).
        let scale = exp + 6 - len;
        if exp + 6 > 19 {
            return Err(NumberError::OutOfRange);
        }
        let mut acc: i128 = 0;
        for &digit in self.digits() {
            acc = acc * 10 + i128::from(digit);
        }
        for _ in 0..scale {
            acc *= 10;
        }
        let signed = if self.neg { -acc } else { acc };
        i64::try_from(signed).map_err(|_| NumberError::OutOfRange)
    }
}

/// Parses a JSON number of money (or any 6-decimal fixed-point quantity) into micro-units.
pub(crate) fn parse_micros(n: &Number) -> Result<i64, NumberError> {
    Decimal::from_number(n)?.to_micros()
}

/// A total order over JSON values in which numbers compare by exact value (`1 == 1.0`).
///
/// Kinds rank null < bool < number < string < array < object; arrays compare element by
/// element, objects entry by entry in key order. Numbers too long to read exactly fall back
/// to comparing their text.
pub(crate) fn cmp_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                match cmp_values(p, q) {
                    Ordering::Equal => {}
                    unequal => return unequal,
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            for ((kp, vp), (kq, vq)) in x.iter().zip(y) {
                match kp.cmp(kq).then_with(|| cmp_values(vp, vq)) {
                    Ordering::Equal => {}
                    unequal => return unequal,
                }
            }
            x.len().cmp(&y.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Exact comparison of two JSON numbers.
pub(crate) fn cmp_numbers(x: &Number, y: &Number) -> Ordering {
    if let (Some(p), Some(q)) = (as_i128(x), as_i128(y)) {
        return p.cmp(&q);
    }
    match (Decimal::from_number(x), Decimal::from_number(y)) {
        (Ok(p), Ok(q)) => p.cmp_exact(&q),
        _ => x.to_string().cmp(&y.to_string()),
    }
}

fn as_i128(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

/// A small stack buffer for formatting one number without allocating.
struct StackText {
    buf: [u8; 64],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        Self {
            buf: [0; 64],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn num(v: Value) -> Number {
        match v {
            Value::Number(n) => n,
            other => panic!("not a number: {other}"),
        }
    }

    fn micros(v: Value) -> Result<i64, NumberError> {
        parse_micros(&num(v))
    }

    #[test]
    fn micros_are_exact_up_to_six_decimals() {
        assert_eq!(micros(json!(12)), Ok(12_000_000));
        assert_eq!(micros(json!(0.1)), Ok(100_000));
        assert_eq!(micros(json!(1.234567)), Ok(1_234_567));
        assert_eq!(micros(json!(-2.5)), Ok(-2_500_000));
        assert_eq!(micros(json!(0.000001)), Ok(1));
        assert_eq!(micros(json!(0)), Ok(0));
        assert_eq!(micros(json!(1e3)), Ok(1_000_000_000));
        assert_eq!(
            micros(json!(9_223_372_036_854i64)),
            Ok(9_223_372_036_854_000_000)
        );
    }

    #[test]
    fn micros_reject_extra_decimals_and_overflow() {
        assert_eq!(micros(json!(1.2345678)), Err(NumberError::TooManyDecimals));
        assert_eq!(micros(json!(0.0000001)), Err(NumberError::TooManyDecimals));
        assert_eq!(
            micros(json!(9_223_372_036_855i64)),
            Err(NumberError::OutOfRange)
        );
        assert_eq!(micros(json!(u64::MAX)), Err(NumberError::OutOfRange));
        assert_eq!(micros(json!(1e300)), Err(NumberError::OutOfRange));
    }

    #[test]
    fn parse_handles_exponents_and_zeros() {
        let d = Decimal::parse("-0.00120e2").unwrap_or(Decimal::ZERO);
        assert_eq!(d.to_micros(), Ok(-120_000));
        assert!(Decimal::parse("0.000").is_some_and(|d| d.is_zero()));
        assert!(Decimal::parse("abc").is_none());
        assert!(Decimal::parse("-").is_none());
        assert!(Decimal::parse("1.2.3").is_none());
        assert!(Decimal::parse("1e999999").is_none());
        assert!(Decimal::parse(&"1".repeat(41)).is_none());
    }

    #[test]
    fn numbers_compare_exactly_across_kinds() {
        let c = |a: Value, b: Value| cmp_numbers(&num(a), &num(b));
        assert_eq!(c(json!(1), json!(1.0)), Ordering::Equal);
        assert_eq!(c(json!(0.3), json!(0.30)), Ordering::Equal);
        assert_eq!(c(json!(0.1), json!(0.10000000000000002)), Ordering::Less);
        assert_eq!(c(json!(-1), json!(-0.5)), Ordering::Less);
        assert_eq!(c(json!(-0.0), json!(0)), Ordering::Equal);
        assert_eq!(c(json!(u64::MAX), json!(-1)), Ordering::Greater);
        assert_eq!(c(json!(10), json!(9.999999)), Ordering::Greater);
        assert_eq!(c(json!(1e20), json!(u64::MAX)), Ordering::Greater);
        assert_eq!(c(json!(-123.45), json!(-123.4)), Ordering::Less);
        assert_eq!(c(json!(0.12), json!(0.123)), Ordering::Less);
        assert_eq!(c(json!(0.13), json!(0.123)), Ordering::Greater);
    }

    #[test]
    fn values_have_a_total_order() {
        assert_eq!(
            cmp_values(&json!([1, "a"]), &json!([1.0, "a"])),
            Ordering::Equal
        );
        assert_eq!(
            cmp_values(&json!({"k": 2}), &json!({"k": 2.0})),
            Ordering::Equal
        );
        assert_eq!(cmp_values(&json!(null), &json!(false)), Ordering::Less);
        assert_eq!(cmp_values(&json!("b"), &json!("a")), Ordering::Greater);
        assert_eq!(cmp_values(&json!([1]), &json!([1, 2])), Ordering::Less);
        assert_eq!(
            cmp_values(&json!({"a": 1}), &json!({"b": 0})),
            Ordering::Less
        );
        assert_eq!(cmp_values(&json!(5), &json!("5")), Ordering::Less);
    }
}
