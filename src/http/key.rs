//! Key affinity for clusters: the `X-Mabeam-Key` request header.
//!
//! Several nodes share nothing; a proxy in front of them routes each request by a
//! consistent hash of `X-Mabeam-Key` (`deploy/nginx-cluster.conf`,
//! `k8s/cluster/ingress.yaml`). The proxy cannot read bodies, so a client that creates a
//! stateful resource (agent, live auction, market, variable, session) sends its id in the
//! header, and may leave it out of the body: [`fill_id`] then takes the body's id from the
//! header. A body id that differs from the header is kept: the header is only a routing
//! key, and a client may route related resources (an auction and its bidders) by one
//! shared key, as long as it sends that key on every request about them.
//!
//! Requests without the header are unchanged; one-shot coordinations ignore it.

use crate::http::reply::ApiError;
use bytes::Bytes;
use http::HeaderMap;
use http::header::HeaderName;

/// The routing key header.
pub(crate) const KEY_HEADER: HeaderName = HeaderName::from_static("x-mabeam-key");

/// Longest key accepted (the id rule: 1-128 characters).
const KEY_MAX: usize = 128;

/// The request's `X-Mabeam-Key`, if it has one: 1-128 characters of `[A-Za-z0-9_.:-]`
/// (the id rule, so a key can always serve as the resource's id).
pub(crate) fn key(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(v) = headers.get(&KEY_HEADER) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::bad_request(
            "invalid_header",
            format!(
                "X-Mabeam-Key must be 1-{KEY_MAX} characters of A-Z a-z 0-9 _ . : - (the resource id the proxy routes by)"
            ),
        )
        .with_field("X-Mabeam-Key")
    };
    let s = v.to_str().map_err(|_| bad())?;
    let ok = (1..=KEY_MAX).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if ok { Ok(Some(s)) } else { Err(bad()) }
}

/// The body of a create request, with `field` (the resource's id: `id`, or `name` for a
/// variable) taken from `X-Mabeam-Key` when the body is a JSON object without it.
/// Anything else (no header, the field present, not an object, not JSON) is returned
/// unchanged, for the route's own parser to accept or refuse with its usual errors.
pub(crate) fn fill_id(bytes: Bytes, field: &str, headers: &HeaderMap) -> Result<Bytes, ApiError> {
    let Some(key) = key(headers)? else {
        return Ok(bytes);
    };
    let Ok(serde_json::Value::Object(mut obj)) = serde_json::from_slice(&bytes) else {
        return Ok(bytes);
    };
    if obj.contains_key(field) {
        return Ok(bytes);
    }
    obj.insert(field.to_owned(), serde_json::Value::String(key.to_owned()));
    serde_json::to_vec(&obj)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(format!("re-encoding the body with its key failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use http::StatusCode;

    fn headers(key: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(k) = key {
            h.insert(KEY_HEADER, HeaderValue::from_str(k).unwrap());
        }
        h
    }

    fn json(b: &Bytes) -> serde_json::Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn header_fills_a_missing_id() {
        let out = fill_id(
            Bytes::from_static(br#"{"kind":"worker"}"#),
            "id",
            &headers(Some("a-1")),
        )
        .unwrap();
        assert_eq!(
            json(&out),
            serde_json::json!({"kind": "worker", "id": "a-1"})
        );
        let out = fill_id(
            Bytes::from_static(br#"{"value":3}"#),
            "name",
            &headers(Some("v.x")),
        )
        .unwrap();
        assert_eq!(json(&out)["name"], "v.x");
    }

    #[test]
    fn body_id_wins_and_other_bodies_pass_through() {
        let h = headers(Some("route-key"));
        for body in [
            &br#"{"id":"own","kind":"w"}"#[..],
            b"not json",
            b"[1,2]",
            b"",
        ] {
            let out = fill_id(Bytes::copy_from_slice(body), "id", &h).unwrap();
            assert_eq!(&out[..], body);
        }
        let body = Bytes::from_static(br#"{"kind":"w"}"#);
        assert_eq!(fill_id(body.clone(), "id", &headers(None)).unwrap(), body);
    }

    #[test]
    fn bad_keys_are_400_naming_the_header() {
        for k in ["", "a b", "ü", &"k".repeat(129)] {
            let mut h = HeaderMap::new();
            h.insert(KEY_HEADER, HeaderValue::from_bytes(k.as_bytes()).unwrap());
            let e = key(&h).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{k:?}");
            assert_eq!(e.field.as_deref(), Some("X-Mabeam-Key"));
        }
        assert_eq!(
            key(&headers(Some("ok:1_2.3-x"))).unwrap(),
            Some("ok:1_2.3-x")
        );
        assert_eq!(key(&headers(None)).unwrap(), None);
    }
}
