//! Responses: JSON bodies and the error body `{"error":{"code","message"}}`.
//!
//! Every error answer takes its status from its class through
//! [`mabeam_engine::api::http_status`], the one class -> status table (shared with the load
//! generator's embedded target). Only the transport's own refusals that no engine error can
//! mean (405, 415, 429) name a status directly, through [`ApiError::transport`].

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};
use http_body_util::Full;
use mabeam_engine::api::{Describe, EngineError, ErrorClass, http_status};
use mabeam_engine::coord::CoordError;
use serde::Serialize;

/// The response type of every route.
pub(crate) type Reply = Response<Full<Bytes>>;

/// `application/json`, shared by every JSON response.
pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Seconds a client should wait before retrying a shed request.
pub(crate) const RETRY_AFTER_SECONDS: &str = "1";

/// A request that cannot be answered with its resource: a status, a stable snake_case
/// code, a message that says what is wrong and how to fix it, and the offending field
/// where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) field: Option<String>,
    /// `Allow` header of a 405.
    pub(crate) allow: Option<&'static str>,
    /// `Retry-After` seconds of a 429.
    pub(crate) retry_after: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorInner<'a>,
}

#[derive(Serialize)]
struct ErrorInner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

/// The status of every error of `class`: the engine's one table.
pub(crate) fn status_of(class: ErrorClass) -> StatusCode {
    StatusCode::from_u16(http_status(class)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl ApiError {
    /// An error of `class`, answered with that class's status.
    pub(crate) fn new(class: ErrorClass, code: &'static str, message: impl Into<String>) -> Self {
        Self::transport(status_of(class), code, message)
    }

    /// A refusal of the HTTP transport itself with no engine class (405, 415, 429).
    pub(crate) fn transport(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            allow: None,
            retry_after: None,
        }
    }

    pub(crate) fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Invalid, code, message)
    }

    pub(crate) fn not_found(path: &str) -> Self {
        Self::new(
            ErrorClass::NotFound,
            "not_found",
            format!(
                "no route for {:?}; see the API (e.g. /health, /api/coordinate, /api/agents)",
                truncate(path, 200)
            ),
        )
    }

    pub(crate) fn method_not_allowed(method: &http::Method, allow: &'static str) -> Self {
        let mut e = Self::transport(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not allowed here; use one of: {allow}"),
        );
        e.allow = Some(allow);
        e
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Internal, "internal", message)
    }

    /// The JSON body of this error.
    pub(crate) fn body(&self) -> Vec<u8> {
        let body = ErrorBody {
            error: ErrorInner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        serde_json::to_vec(&body).unwrap_or_else(|_| {
            br#"{"error":{"code":"internal","message":"error body could not be encoded"}}"#.to_vec()
        })
    }

    /// A 429: `client` is over its quota of `rate` requests per second; it may retry after
    /// `wait` (rounded up to whole seconds, at least one, in `Retry-After`).
    pub(crate) fn rate_limited(rate: f64, wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut e = Self::transport(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "this client is over its quota of {rate} requests per second (security.rate_limit_per_second, bursts of security.rate_limit_burst); retry after {seconds} s"
            ),
        );
        e.retry_after = Some(seconds);
        e
    }

    /// Sets `Retry-After` (whole seconds).
    pub(crate) fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The response: JSON body, `Allow` on 405, `Retry-After` on 503 and 429.
    pub(crate) fn into_reply(self) -> Reply {
        let mut resp = bytes_reply(self.status, self.body());
        let headers = resp.headers_mut();
        if let Some(allow) = self.allow {
            headers.insert(ALLOW, HeaderValue::from_static(allow));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        resp
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = status_of(e.class());
        let field = match &e {
            EngineError::Coord(c)
            | EngineError::Session(mabeam_engine::session::SessionError::Invalid(c)) => {
                c.field().map(str::to_owned)
            }
            EngineError::Registry(mabeam_engine::registry::RegistryError::InvalidSpec {
                field,
                ..
            }) => Some(field.clone()),
            EngineError::Registry(mabeam_engine::registry::RegistryError::InvalidId { .. }) => {
                Some("id".to_owned())
            }
            _ => None,
        };
        Self {
            status,
            code: e.code(),
            message: e.to_string(),
            field,
            allow: None,
            retry_after: None,
        }
    }
}

impl From<CoordError> for ApiError {
    fn from(e: CoordError) -> Self {
        let status = status_of(e.describe().class);
        Self {
            status,
            code: e.code(),
            message: e.to_string(),
            field: e.field().map(str::to_owned),
            allow: None,
            retry_after: None,
        }
    }
}

/// A response with `status` and a JSON body already encoded.
pub(crate) fn bytes_reply(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, JSON);
    resp
}

/// A JSON response of `value`.
pub(crate) fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => bytes_reply(status, body),
        Err(e) => ApiError::internal(format!("response could not be encoded: {e}")).into_reply(),
    }
}

/// An empty response (204).
pub(crate) fn empty(status: StatusCode) -> Reply {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    resp
}

/// At most `max` bytes of `s`, cut on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_shape() {
        let e = ApiError::bad_request("invalid_field", "bad").with_field("auction.bids[0]");
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["error"]["code"], "invalid_field");
        assert_eq!(v["error"]["message"], "bad");
        assert_eq!(v["error"]["field"], "auction.bids[0]");
    }

    #[test]
    fn shed_errors_carry_retry_after_and_405_carries_allow() {
        let r = ApiError::from(EngineError::Overloaded { worker: 1 }).into_reply();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[RETRY_AFTER], RETRY_AFTER_SECONDS);
        let r = ApiError::method_not_allowed(&http::Method::PUT, "GET, POST").into_reply();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[ALLOW], "GET, POST");
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
