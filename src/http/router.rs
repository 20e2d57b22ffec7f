//! Routing: method and path to a [`Route`], or the 404/405 answer.
//!
//! Paths are split on `/` and matched as slices, so routing allocates nothing. A single
//! trailing slash is ignored. A known path with another method answers 405 with `Allow`.

use crate::http::reply::ApiError;
use http::Method;

/// A lifecycle action on one agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    Start,
    Stop,
    Restart,
}

/// What a request asks for; ids borrow from the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    Health,
    Ready,
    Metrics,
    CoordinationMetrics,
    Coordinate,
    CoordinateBatch,
    AgentCreate,
    AgentList,
    AgentGet(&'a str),
    AgentDelete(&'a str),
    AgentLifecycle(&'a str, Lifecycle),
    AgentHealth(&'a str),
}

/// Route families: the `route` label of the HTTP metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Health,
    Ready,
    Metrics,
    Coordinate,
    CoordinateBatch,
    Agents,
    Stateful,
    CoordinationMetrics,
    Unmatched,
}

impl Family {
    pub(crate) const ALL: [Family; 9] = [
        Family::Health,
        Family::Ready,
        Family::Metrics,
        Family::Coordinate,
        Family::CoordinateBatch,
        Family::Agents,
        Family::Stateful,
        Family::CoordinationMetrics,
        Family::Unmatched,
    ];
    pub(crate) const COUNT: usize = Self::ALL.len();

    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Family::Health => "health",
            Family::Ready => "ready",
            Family::Metrics => "metrics",
            Family::Coordinate => "coordinate",
            Family::CoordinateBatch => "coordinate_batch",
            Family::Agents => "agents",
            Family::Stateful => "stateful",
            Family::CoordinationMetrics => "coordination_metrics",
            Family::Unmatched => "unmatched",
        }
    }
}

impl Route<'_> {
    pub(crate) fn family(&self) -> Family {
        match self {
            Route::Health => Family::Health,
            Route::Ready => Family::Ready,
            Route::Metrics => Family::Metrics,
            Route::CoordinationMetrics => Family::CoordinationMetrics,
            Route::Coordinate => Family::Coordinate,
            Route::CoordinateBatch => Family::CoordinateBatch,
            Route::AgentCreate
            | Route::AgentList
            | Route::AgentGet(_)
            | Route::AgentDelete(_)
            | Route::AgentLifecycle(..)
            | Route::AgentHealth(_) => Family::Agents,
        }
    }

    /// Whether the HTTP layer deduplicates this route by `Idempotency-Key` (state
    /// changes the engine does not deduplicate itself).
    pub(crate) fn http_idempotent(&self) -> bool {
        matches!(
            self,
            Route::AgentCreate | Route::AgentDelete(_) | Route::AgentLifecycle(..)
        )
    }

    /// Whether the route changes state (audited, and refused to read-only principals).
    pub(crate) fn is_write(&self) -> bool {
        matches!(
            self,
            Route::Coordinate
                | Route::CoordinateBatch
                | Route::AgentCreate
                | Route::AgentDelete(_)
                | Route::AgentLifecycle(..)
        )
    }
}

/// Most path segments any route has; longer paths are 404 without further work.
const SEGMENTS_MAX: usize = 4;

/// Resolves `method` and `path` (without the query) to a route.
pub(crate) fn resolve<'a>(method: &Method, path: &'a str) -> Result<Route<'a>, ApiError> {
    let trimmed = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    let Some(rest) = trimmed.strip_prefix('/') else {
        return Err(ApiError::not_found(path));
    };
    let mut segs = [""; SEGMENTS_MAX];
    let mut n = 0;
    for s in rest.split('/') {
        if n == SEGMENTS_MAX || s.is_empty() {
            return Err(ApiError::not_found(path));
        }
        segs[n] = s;
        n += 1;
    }
    let get = method == Method::GET;
    let post = method == Method::POST;
    let delete = method == Method::DELETE;
    let not_allowed = |allow| Err(ApiError::method_not_allowed(method, allow));
    match &segs[..n] {
        ["health"] if get => Ok(Route::Health),
        ["ready"] if get => Ok(Route::Ready),
        ["metrics"] if get => Ok(Route::Metrics),
        ["health"] | ["ready"] | ["metrics"] => not_allowed("GET"),
        ["api", "metrics", "coordination"] if get => Ok(Route::CoordinationMetrics),
        ["api", "metrics", "coordination"] => not_allowed("GET"),
        ["api", "coordinate"] if post => Ok(Route::Coordinate),
        ["api", "coordinate", "batch"] if post => Ok(Route::CoordinateBatch),
        ["api", "coordinate"] | ["api", "coordinate", "batch"] => not_allowed("POST"),
        ["api", "agents"] if post => Ok(Route::AgentCreate),
        ["api", "agents"] if get => Ok(Route::AgentList),
        ["api", "agents"] => not_allowed("GET, POST"),
        ["api", "agents", id] if get => Ok(Route::AgentGet(id)),
        ["api", "agents", id] if delete => Ok(Route::AgentDelete(id)),
        ["api", "agents", _] => not_allowed("GET, DELETE"),
        ["api", "agents", id, "health"] if get => Ok(Route::AgentHealth(id)),
        ["api", "agents", _, "health"] => not_allowed("GET"),
        ["api", "agents", id, action @ ("start" | "stop" | "restart")] => {
            if !post {
                return not_allowed("POST");
            }
            let op = match *action {
                "start" => Lifecycle::Start,
                "stop" => Lifecycle::Stop,
                _ => Lifecycle::Restart,
            };
            Ok(Route::AgentLifecycle(id, op))
        }
        _ => Err(ApiError::not_found(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn ok(m: Method, p: &str) -> Route<'_> {
        resolve(&m, p).unwrap_or_else(|e| panic!("{m} {p}: {e:?}"))
    }

    #[test]
    fn routes_resolve() {
        assert_eq!(ok(Method::GET, "/health"), Route::Health);
        assert_eq!(ok(Method::GET, "/health/"), Route::Health);
        assert_eq!(ok(Method::POST, "/api/coordinate"), Route::Coordinate);
        assert_eq!(
            ok(Method::POST, "/api/coordinate/batch"),
            Route::CoordinateBatch
        );
        assert_eq!(ok(Method::GET, "/api/agents"), Route::AgentList);
        assert_eq!(ok(Method::GET, "/api/agents/a1"), Route::AgentGet("a1"));
        assert_eq!(
            ok(Method::DELETE, "/api/agents/a1"),
            Route::AgentDelete("a1")
        );
        assert_eq!(
            ok(Method::POST, "/api/agents/a1/restart"),
            Route::AgentLifecycle("a1", Lifecycle::Restart)
        );
        assert_eq!(
            ok(Method::GET, "/api/agents/a1/health"),
            Route::AgentHealth("a1")
        );
        assert_eq!(
            ok(Method::GET, "/api/metrics/coordination"),
            Route::CoordinationMetrics
        );
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405() {
        for p in [
            "",
            "/",
            "/nope",
            "/api",
            "/api//agents",
            "/a/b/c/d/e/f",
            "health",
        ] {
            let e = resolve(&Method::GET, p).unwrap_err();
            assert_eq!(e.status, StatusCode::NOT_FOUND, "{p}");
        }
        let e = resolve(&Method::DELETE, "/health").unwrap_err();
        assert_eq!(
            (e.status, e.allow),
            (StatusCode::METHOD_NOT_ALLOWED, Some("GET"))
        );
        let e = resolve(&Method::GET, "/api/coordinate").unwrap_err();
        assert_eq!(e.allow, Some("POST"));
        let e = resolve(&Method::PUT, "/api/agents/x").unwrap_err();
        assert_eq!(e.allow, Some("GET, DELETE"));
        let e = resolve(&Method::GET, "/api/agents/x/stop").unwrap_err();
        assert_eq!(e.allow, Some("POST"));
    }
}
