//! Bearer-token authentication and the role rules.
//!
//! Tokens are kept as SHA-256 digests (the profile never holds a usable secret). A
//! presented token is hashed once and compared with every configured digest in constant
//! time (no early exit, every entry visited), so timing reveals neither which entry
//! matched nor how many bytes did.
//!
//! Roles: an `operator` may do everything. An `agent` token may read, run one-shot
//! coordinations (pure computations that change no state) and act *as itself*: register
//! its own id, and (for the stateful routes) bid, order, vote and update variables with
//! its own `agent_id` only. Managing agents and sessions is for operators.

use crate::http::reply::ApiError;
use crate::http::router::Route;
use mabeam_engine::api::ErrorClass;

use http::header::{AUTHORIZATION, HeaderMap};
use mabeam_engine::profile::{SecurityConfig, TokenConfig, TokenRole};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;

/// Who sent a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// Authentication is off (or the route is open).
    Anonymous,
    /// A valid bearer token.
    Token {
        role: TokenRole,
        agent_id: Option<Arc<str>>,
    },
}

impl Principal {
    /// For the audit log: the agent id, `operator`, or `anonymous`.
    pub(crate) fn who(&self) -> &str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::Token {
                agent_id: Some(id), ..
            } => id,
            Principal::Token { role, .. } => role.as_str(),
        }
    }

    pub(crate) fn role(&self) -> &'static str {
        match self {
            Principal::Anonymous => "anonymous",
            Principal::Token { role, .. } => role.as_str(),
        }
    }

    fn is_operator(&self) -> bool {
        matches!(
            self,
            Principal::Token {
                role: TokenRole::Operator,
                ..
            }
        )
    }

    /// Only operators (or anyone, with auth off).
    pub(crate) fn require_operator(&self) -> Result<(), ApiError> {
        match self {
            Principal::Anonymous => Ok(()),
            p if p.is_operator() => Ok(()),
            _ => Err(forbidden(
                "only an operator token may do this (agent tokens act as their own agent)"
                    .to_owned(),
            )),
        }
    }

    /// May this principal act as agent `agent_id` (bid, order, vote, register itself)?
    /// Operators may act for anyone; anonymous principals exist only with auth off.
    pub(crate) fn may_act_as(&self, agent_id: &str) -> Result<(), ApiError> {
        match self {
            Principal::Anonymous => Ok(()),
            Principal::Token {
                role: TokenRole::Operator,
                ..
            } => Ok(()),
            Principal::Token {
                agent_id: Some(own),
                ..
            } if &**own == agent_id => Ok(()),
            Principal::Token { agent_id: own, .. } => Err(forbidden(format!(
                "this token acts as agent {:?} and may not act as {agent_id:?}; use that agent's own token",
                own.as_deref().unwrap_or("(none)")
            ))),
        }
    }
}

/// The configured tokens and switches.
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    enabled: bool,
    metrics_public: bool,
    tokens: Vec<(TokenConfig, Option<Arc<str>>)>,
}

fn forbidden(message: String) -> ApiError {
    ApiError::new(ErrorClass::Forbidden, "forbidden", message)
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorClass::Unauthorised, "unauthorized", message)
}

/// Equality of two digests in time independent of where they differ.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// The token of a `Bearer <token>` credential. The scheme is case-insensitive (RFC 9110
/// section 11.1) and separated from the token by one or more spaces.
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    let token = rest.trim_ascii();
    (scheme.eq_ignore_ascii_case(b"bearer") && !token.is_empty()).then_some(token)
}

impl Auth {
    pub(crate) fn new(security: &SecurityConfig) -> Self {
        Self {
            enabled: security.auth_enabled,
            metrics_public: security.metrics_public,
            tokens: security
                .tokens
                .iter()
                .map(|t| (t.clone(), t.agent_id.as_deref().map(Arc::from)))
                .collect(),
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Whether `route` needs a token: auth is on and the route is not open (the probes,
    /// and `/metrics` when `metrics_public`).
    pub(crate) fn needs_token(&self, route: &Route<'_>) -> bool {
        let open = match route {
            Route::Health | Route::Ready => true,
            Route::Metrics => self.metrics_public,
            _ => false,
        };
        self.enabled && !open
    }

    /// The token entry whose digest equals SHA-256(`token`); every entry is compared.
    fn lookup(&self, token: &[u8]) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(token).into();
        let mut found = None;
        for (i, (t, _)) in self.tokens.iter().enumerate() {
            if ct_eq(&t.token_sha256, &digest) && found.is_none() {
                found = Some(i);
            }
        }
        found.map(|i| {
            let (t, id) = &self.tokens[i];
            Principal::Token {
                role: t.role,
                agent_id: id.clone(),
            }
        })
    }

    /// Authenticates and authorises a request for `route`: open routes need nothing;
    /// the rest need a valid token (401) whose role allows the route (403). Rules that
    /// depend on the body (acting as an agent) are checked by the route with
    /// [`Principal::may_act_as`].
    pub(crate) fn check(
        &self,
        route: &Route<'_>,
        headers: &HeaderMap,
    ) -> Result<Principal, ApiError> {
        if !self.needs_token(route) {
            return Ok(Principal::Anonymous);
        }
        let Some(value) = headers.get(AUTHORIZATION) else {
            return Err(unauthorized(
                "this route needs a bearer token: send `Authorization: Bearer <token>`",
            ));
        };
        let token = bearer_token(value.as_bytes())
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
        let principal = self
            .lookup(token)
            .ok_or_else(|| unauthorized("the bearer token is not valid for this node"))?;
        let operator_only = matches!(route, Route::Metrics) || route.operator_only();
        if operator_only && !principal.is_operator() {
            return Err(forbidden(
                "only an operator token may do this (agent tokens act as their own agent)"
                    .to_owned(),
            ));
        }
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderValue, StatusCode};

    fn token(secret: &str, role: TokenRole, agent: Option<&str>) -> TokenConfig {
        TokenConfig {
            token_sha256: Sha256::digest(secret.as_bytes()).into(),
            agent_id: agent.map(str::to_owned),
            role,
        }
    }

    fn auth() -> Auth {
        let sec = SecurityConfig {
            auth_enabled: true,
            metrics_public: false,
            tokens: vec![
                token("op-secret", TokenRole::Operator, None),
                token("alice-secret", TokenRole::Agent, Some("alice")),
            ],
            ..SecurityConfig::default()
        };
        Auth::new(&sec)
    }

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn constant_time_equality() {
        let a = [7u8; 32];
        let mut b = a;
        assert!(ct_eq(&a, &b));
        b[31] ^= 1;
        assert!(!ct_eq(&a, &b));
    }

    #[test]
    fn open_routes_and_missing_tokens() {
        let a = auth();
        assert_eq!(
            a.check(&Route::Health, &HeaderMap::new()),
            Ok(Principal::Anonymous)
        );
        let e = a.check(&Route::AgentList, &HeaderMap::new()).unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        let e = a
            .check(&Route::AgentList, &headers("Bearer nope"))
            .unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        let e = a
            .check(&Route::AgentList, &headers("Basic abc"))
            .unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        // /metrics is not public here: operators only.
        let e = a
            .check(&Route::Metrics, &headers("Bearer alice-secret"))
            .unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        assert!(
            a.check(&Route::Metrics, &headers("Bearer op-secret"))
                .is_ok()
        );
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"BEARER   abc "), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"Bearer"), None);
        assert_eq!(bearer_token(b"Bearer   "), None);
        assert_eq!(bearer_token(b"Basic abc"), None);
        assert_eq!(bearer_token(b"Bearerx abc"), None);
        let a = auth();
        assert!(
            a.check(&Route::AgentList, &headers("bEaReR alice-secret"))
                .is_ok()
        );
    }

    #[test]
    fn roles() {
        let a = auth();
        let alice = a
            .check(&Route::AgentList, &headers("Bearer alice-secret"))
            .unwrap();
        assert_eq!(alice.who(), "alice");
        assert!(alice.may_act_as("alice").is_ok());
        assert_eq!(
            alice.may_act_as("bob").unwrap_err().status,
            StatusCode::FORBIDDEN
        );
        let e = a
            .check(&Route::AgentDelete("bob"), &headers("Bearer alice-secret"))
            .unwrap_err();
        assert_eq!(e.status, StatusCode::FORBIDDEN);
        let op = a
            .check(&Route::AgentDelete("bob"), &headers("Bearer op-secret"))
            .unwrap();
        assert!(op.may_act_as("bob").is_ok());
        assert_eq!(op.role(), "operator");
    }

    #[test]
    fn disabled_auth_lets_everyone_in() {
        let a = Auth::new(&SecurityConfig::default());
        assert!(!a.enabled());
        assert_eq!(
            a.check(&Route::AgentDelete("x"), &HeaderMap::new()),
            Ok(Principal::Anonymous)
        );
    }
}
