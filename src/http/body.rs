//! Request bodies: read with a size limit (413), parse JSON naming the offending field (400).

use crate::http::reply::ApiError;
use bytes::Bytes;
use http::StatusCode;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, TRANSFER_ENCODING};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use mabeam_engine::api::ErrorClass;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

/// The 413 answer for a body over `max` bytes.
pub(crate) fn too_large(max: usize) -> ApiError {
    ApiError::new(
        ErrorClass::TooLarge,
        "body_too_large",
        format!(
            "the request body is larger than {max} bytes (server.body_max_bytes); send less, or split a batch"
        ),
    )
}

/// Whether the request carries a body: a `Content-Length` other than 0, or any
/// `Transfer-Encoding` (a chunked body may still turn out empty).
pub(crate) fn present(headers: &HeaderMap) -> bool {
    headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes().trim_ascii() != b"0")
}

/// Whether `value` names a JSON media type: `application/json` or any
/// `application/*+json`, in any case, with any parameters (`; charset=utf-8`).
fn is_json(value: &[u8]) -> bool {
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| {
            m.type_() == mime::APPLICATION
                && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON))
        })
}

/// Refuses a body that is not declared JSON (415): a missing `Content-Type` is refused
/// too, so a browser page cannot post to the API with a CORS "simple" request (those may
/// only send `text/plain`, form types or no type at all).
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(CONTENT_TYPE) {
        Some(v) if is_json(v.as_bytes()) => Ok(()),
        got => Err(ApiError::transport(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "this route takes a JSON body, but the request's Content-Type is {}; send `Content-Type: application/json`",
                got.and_then(|v| v.to_str().ok())
                    .map_or_else(|| "missing".to_owned(), |v| format!("{:?}", super::reply::truncate(v, 64)))
            ),
        )
        .with_field("Content-Type")),
    }
}

/// Reads the whole body, refusing more than `max` bytes: up front when `Content-Length`
/// says so, otherwise as soon as the running total passes it.
pub(crate) async fn read<B>(body: B, headers: &HeaderMap, max: usize) -> Result<Bytes, ApiError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    if let Some(len) = headers.get(CONTENT_LENGTH) {
        let len = len
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_header",
                    "Content-Length is not a non-negative integer",
                )
                .with_field("Content-Length")
            })?;
        if len > max as u64 {
            return Err(too_large(max));
        }
    }
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(max)),
        Err(e) => Err(ApiError::bad_request(
            "body_unreadable",
            format!("the request body could not be read: {e}"),
        )),
    }
}

/// Parses a JSON body into `T`. Syntax errors answer `malformed_json`; unknown fields
/// `unknown_field`, absent ones `missing_field` and wrong values `invalid_field`, each
/// with the field's path (`auction.bids[0].amount`) in `field` and in the message.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "malformed_json",
            "the request body is empty; send a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        from_serde(&path, e.inner())
    })?;
    de.end().map_err(|e| from_serde(".", &e))?;
    Ok(value)
}

/// Parses an already-decoded JSON value (one element of a batch) into `T`.
pub(crate) fn parse_value<T: DeserializeOwned>(
    value: serde_json::Value,
    prefix: &str,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = if inner == "." {
            prefix.to_owned()
        } else {
            format!("{prefix}.{inner}")
        };
        from_serde(&path, e.inner())
    })
}

/// The name between the first pair of backticks of a serde message (`unknown field `x``).
fn quoted_name(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() || path == "." {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn from_serde(path: &str, e: &serde_json::Error) -> ApiError {
    let msg = e.to_string();
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON: {msg}; send one JSON object"),
        ),
        Category::Data => {
            let (code, field) = if msg.starts_with("unknown field") {
                // The path already ends at the unknown key when the parser got there.
                let name = quoted_name(&msg).unwrap_or("?");
                let field = if path.ends_with(name) {
                    path.to_owned()
                } else {
                    join(path, name)
                };
                ("unknown_field", field)
            } else if msg.starts_with("missing field") {
                (
                    "missing_field",
                    join(path, quoted_name(&msg).unwrap_or("?")),
                )
            } else {
                ("invalid_field", path.to_owned())
            };
            let field = if field.is_empty() || field == "." {
                "(body)".to_owned()
            } else {
                field
            };
            let fix = match code {
                "unknown_field" => "remove it (unknown fields are rejected)",
                "missing_field" => "add it",
                _ => "correct its value",
            };
            ApiError::bad_request(code, format!("`{field}`: {msg}; {fix}")).with_field(field)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mabeam_engine::coord::CoordinationRequest;
    use mabeam_engine::registry::AgentSpec;

    fn err<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> ApiError {
        parse::<T>(body.as_bytes()).expect_err(body)
    }

    #[test]
    fn malformed_json_is_named() {
        let e = err::<AgentSpec>("{\"id\":");
        assert_eq!(
            (e.status, e.code),
            (StatusCode::BAD_REQUEST, "malformed_json")
        );
        assert_eq!(err::<AgentSpec>("  ").code, "malformed_json");
        assert_eq!(
            err::<AgentSpec>(r#"{"id":"a","kind":"k"} x"#).code,
            "malformed_json"
        );
    }

    #[test]
    fn unknown_missing_and_invalid_fields_name_the_path() {
        let e = err::<AgentSpec>(r#"{"id":"a","kind":"k","colour":1}"#);
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("unknown_field", Some("colour"))
        );
        let e = err::<AgentSpec>(r#"{"kind":"k"}"#);
        assert_eq!((e.code, e.field.as_deref()), ("missing_field", Some("id")));
        let e = err::<AgentSpec>(r#"{"id":"a","kind":"k","supervision":{"max_restarts":"x"}}"#);
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("invalid_field", Some("supervision.max_restarts"))
        );
        let e = err::<CoordinationRequest>(
            r#"{"protocol":"auction","auction":{"type":"first_price","bids":[{"agent_id":"a","amount":"ten"}]}}"#,
        );
        assert_eq!(e.code, "invalid_field");
        assert_eq!(e.field.as_deref(), Some("auction.bids[0].amount"));
        assert!(
            e.message.contains("auction.bids[0].amount"),
            "{}",
            e.message
        );
        let e = err::<CoordinationRequest>(
            r#"{"protocol":"auction","auction":{"type":"first_price","bids":[],"color":1}}"#,
        );
        assert_eq!(e.code, "unknown_field");
        assert_eq!(e.field.as_deref(), Some("auction.color"));
    }

    #[test]
    fn batch_elements_are_prefixed() {
        let v = serde_json::json!({"protocol":"market","market":{"orders":[{"agent_id":"a"}]}});
        let e = parse_value::<CoordinationRequest>(v, "requests[3]").unwrap_err();
        assert!(
            e.field
                .as_deref()
                .is_some_and(|f| f.starts_with("requests[3].market.orders[0]")),
            "{e:?}"
        );
    }

    #[test]
    fn json_media_types() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=UTF-8",
            "application/merge-patch+json",
            "application/vnd.mabeam+json; v=1",
        ] {
            assert!(is_json(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "text/plain",
            "text/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "application",
            "",
        ] {
            assert!(!is_json(bad.as_bytes()), "{bad}");
        }
        let mut h = HeaderMap::new();
        assert!(!present(&h));
        let e = require_json(&h).unwrap_err();
        assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        h.insert(CONTENT_LENGTH, http::HeaderValue::from_static("0"));
        assert!(!present(&h));
        h.insert(CONTENT_LENGTH, http::HeaderValue::from_static("12"));
        assert!(present(&h));
        h.insert(CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
        assert_eq!(require_json(&h).unwrap_err().code, "unsupported_media_type");
        h.insert(
            CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        assert!(require_json(&h).is_ok());
    }

    #[test]
    fn quoted_names() {
        assert_eq!(quoted_name("unknown field `x`, expected `y`"), Some("x"));
        assert_eq!(quoted_name("nothing"), None);
    }
}
