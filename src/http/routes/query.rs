//! Query strings: `a=1&b=2`, percent-decoded, unknown keys refused (400).

use crate::http::reply::ApiError;

/// Most query parameters read from one request.
const PARAMS_MAX: usize = 16;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `s` (`+` is a space); `None` if the result is not UTF-8 or an escape
/// is broken.
pub(crate) fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = hex(*bytes.get(i + 1)?)?;
                let lo = hex(*bytes.get(i + 2)?)?;
                out.push((hi << 4) | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Parses `query` into `(key, value)` pairs, accepting only `allowed` keys, each once.
pub(crate) fn parse(
    query: Option<&str>,
    allowed: &[&'static str],
) -> Result<Vec<(&'static str, String)>, ApiError> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let Some(q) = query else { return Ok(out) };
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        if out.len() == PARAMS_MAX {
            return Err(ApiError::bad_request(
                "too_many_parameters",
                format!("at most {PARAMS_MAX} query parameters are read"),
            ));
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = |what: &str| {
            ApiError::bad_request(
                "invalid_query",
                format!("the query {what} is not valid percent-encoded UTF-8"),
            )
        };
        let k = decode(k).ok_or_else(|| bad("key"))?;
        let v = decode(v).ok_or_else(|| bad("value"))?;
        let Some(key) = allowed.iter().find(|a| **a == k) else {
            return Err(ApiError::bad_request(
                "unknown_field",
                format!(
                    "unknown query parameter {:?}; use {}",
                    crate::http::reply::truncate(&k, 64),
                    allowed.join(", ")
                ),
            )
            .with_field(crate::http::reply::truncate(&k, 64).to_owned()));
        };
        if out.iter().any(|(seen, _)| seen == key) {
            return Err(ApiError::bad_request(
                "duplicate_parameter",
                format!("query parameter {key:?} is given twice; give it once"),
            )
            .with_field(*key));
        }
        out.push((key, v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let q = parse(Some("kind=a%20b&state=running"), &["kind", "state"]).unwrap();
        assert_eq!(
            q,
            vec![("kind", "a b".to_owned()), ("state", "running".to_owned())]
        );
        assert!(parse(None, &["x"]).unwrap().is_empty());
    }

    #[test]
    fn refuses_unknown_duplicate_and_broken() {
        assert_eq!(
            parse(Some("nope=1"), &["x"]).unwrap_err().code,
            "unknown_field"
        );
        assert_eq!(
            parse(Some("x=1&x=2"), &["x"]).unwrap_err().code,
            "duplicate_parameter"
        );
        assert_eq!(
            parse(Some("x=%zz"), &["x"]).unwrap_err().code,
            "invalid_query"
        );
        assert_eq!(decode("%e2%82%ac").as_deref(), Some("€"));
        assert_eq!(decode("%ff"), None);
    }
}
