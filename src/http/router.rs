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
    AuctionOpen,
    AuctionGet(&'a str),
    AuctionBid(&'a str),
    AuctionClose(&'a str),
    MarketOpen,
    MarketGet(&'a str),
    MarketOrder(&'a str),
    MarketClear(&'a str),
    ConsensusOpen,
    ConsensusGet(&'a str),
    ConsensusVote(&'a str),
    ConsensusClose(&'a str),
    VariableCreate,
    VariableGet(&'a str),
    VariablePut(&'a str),
    VariableHistory(&'a str),
    VariableCoordinate(&'a str),
    SessionList,
    SessionGet(&'a str),
    SessionCancel(&'a str),
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
    Auctions,
    Markets,
    Consensus,
    Variables,
    Sessions,
    CoordinationMetrics,
    Unmatched,
}

impl Family {
    pub(crate) const ALL: [Family; 13] = [
        Family::Health,
        Family::Ready,
        Family::Metrics,
        Family::Coordinate,
        Family::CoordinateBatch,
        Family::Agents,
        Family::Auctions,
        Family::Markets,
        Family::Consensus,
        Family::Variables,
        Family::Sessions,
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
            Family::Auctions => "auctions",
            Family::Markets => "markets",
            Family::Consensus => "consensus",
            Family::Variables => "variables",
            Family::Sessions => "sessions",
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
            Route::AuctionOpen
            | Route::AuctionGet(_)
            | Route::AuctionBid(_)
            | Route::AuctionClose(_) => Family::Auctions,
            Route::MarketOpen
            | Route::MarketGet(_)
            | Route::MarketOrder(_)
            | Route::MarketClear(_) => Family::Markets,
            Route::ConsensusOpen
            | Route::ConsensusGet(_)
            | Route::ConsensusVote(_)
            | Route::ConsensusClose(_) => Family::Consensus,
            Route::VariableCreate
            | Route::VariableGet(_)
            | Route::VariablePut(_)
            | Route::VariableHistory(_)
            | Route::VariableCoordinate(_) => Family::Variables,
            Route::SessionList | Route::SessionGet(_) | Route::SessionCancel(_) => Family::Sessions,
        }
    }

    /// Routes only an operator may call (managing agents and sessions).
    pub(crate) fn operator_only(&self) -> bool {
        matches!(
            self,
            Route::AgentDelete(_)
                | Route::AgentLifecycle(..)
                | Route::AuctionOpen
                | Route::AuctionClose(_)
                | Route::MarketOpen
                | Route::MarketClear(_)
                | Route::ConsensusOpen
                | Route::ConsensusClose(_)
                | Route::VariableCoordinate(_)
                | Route::SessionCancel(_)
        )
    }

    /// Whether the HTTP layer deduplicates this route by `Idempotency-Key` (state
    /// changes the engine does not deduplicate itself).
    pub(crate) fn http_idempotent(&self) -> bool {
        matches!(
            self,
            Route::AgentCreate
                | Route::AgentDelete(_)
                | Route::AgentLifecycle(..)
                | Route::AuctionOpen
                | Route::AuctionClose(_)
                | Route::MarketOpen
                | Route::MarketClear(_)
                | Route::ConsensusOpen
                | Route::ConsensusClose(_)
                | Route::VariableCreate
                | Route::VariablePut(_)
                | Route::VariableCoordinate(_)
                | Route::SessionCancel(_)
        )
    }

    /// Whether the route changes state (audited, and refused to read-only principals).
    pub(crate) fn is_write(&self) -> bool {
        self.http_idempotent()
            || matches!(
                self,
                Route::Coordinate
                    | Route::CoordinateBatch
                    | Route::AuctionBid(_)
                    | Route::MarketOrder(_)
                    | Route::ConsensusVote(_)
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
        ["api", "auctions"] if post => Ok(Route::AuctionOpen),
        ["api", "markets"] if post => Ok(Route::MarketOpen),
        ["api", "consensus"] if post => Ok(Route::ConsensusOpen),
        ["api", "variables"] if post => Ok(Route::VariableCreate),
        ["api", "auctions" | "markets" | "consensus" | "variables"] => not_allowed("POST"),
        ["api", "auctions", id] if get => Ok(Route::AuctionGet(id)),
        ["api", "markets", id] if get => Ok(Route::MarketGet(id)),
        ["api", "consensus", id] if get => Ok(Route::ConsensusGet(id)),
        ["api", "auctions" | "markets" | "consensus", _] => not_allowed("GET"),
        ["api", "auctions", id, "bids"] if post => Ok(Route::AuctionBid(id)),
        ["api", "auctions", id, "close"] if post => Ok(Route::AuctionClose(id)),
        ["api", "markets", id, "orders"] if post => Ok(Route::MarketOrder(id)),
        ["api", "markets", id, "clear"] if post => Ok(Route::MarketClear(id)),
        ["api", "consensus", id, "votes"] if post => Ok(Route::ConsensusVote(id)),
        ["api", "consensus", id, "close"] if post => Ok(Route::ConsensusClose(id)),
        ["api", "auctions", _, "bids" | "close"]
        | ["api", "markets", _, "orders" | "clear"]
        | ["api", "consensus", _, "votes" | "close"] => not_allowed("POST"),
        ["api", "variables", name] if get => Ok(Route::VariableGet(name)),
        ["api", "variables", name] if method == Method::PUT => Ok(Route::VariablePut(name)),
        ["api", "variables", _] => not_allowed("GET, PUT"),
        ["api", "variables", name, "history"] if get => Ok(Route::VariableHistory(name)),
        ["api", "variables", _, "history"] => not_allowed("GET"),
        ["api", "variables", name, "coordinate"] if post => Ok(Route::VariableCoordinate(name)),
        ["api", "variables", _, "coordinate"] => not_allowed("POST"),
        ["api", "sessions"] if get => Ok(Route::SessionList),
        ["api", "sessions"] => not_allowed("GET"),
        ["api", "sessions", id] if get => Ok(Route::SessionGet(id)),
        ["api", "sessions", id] if delete => Ok(Route::SessionCancel(id)),
        ["api", "sessions", _] => not_allowed("GET, DELETE"),
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
        let e = resolve(&Method::POST, "/api/variables/v").unwrap_err();
        assert_eq!(e.allow, Some("GET, PUT"));
        let e = resolve(&Method::GET, "/api/auctions/a/bids").unwrap_err();
        assert_eq!(e.allow, Some("POST"));
    }

    #[test]
    fn stateful_routes_resolve() {
        assert_eq!(ok(Method::POST, "/api/auctions"), Route::AuctionOpen);
        assert_eq!(ok(Method::GET, "/api/auctions/a1"), Route::AuctionGet("a1"));
        assert_eq!(
            ok(Method::POST, "/api/auctions/a1/bids"),
            Route::AuctionBid("a1")
        );
        assert_eq!(
            ok(Method::POST, "/api/auctions/a1/close"),
            Route::AuctionClose("a1")
        );
        assert_eq!(
            ok(Method::POST, "/api/markets/m/orders"),
            Route::MarketOrder("m")
        );
        assert_eq!(
            ok(Method::POST, "/api/markets/m/clear"),
            Route::MarketClear("m")
        );
        assert_eq!(
            ok(Method::POST, "/api/consensus/c/votes"),
            Route::ConsensusVote("c")
        );
        assert_eq!(ok(Method::PUT, "/api/variables/v"), Route::VariablePut("v"));
        assert_eq!(
            ok(Method::GET, "/api/variables/v/history"),
            Route::VariableHistory("v")
        );
        assert_eq!(
            ok(Method::POST, "/api/variables/v/coordinate"),
            Route::VariableCoordinate("v")
        );
        assert_eq!(ok(Method::GET, "/api/sessions"), Route::SessionList);
        assert_eq!(
            ok(Method::DELETE, "/api/sessions/s"),
            Route::SessionCancel("s")
        );
        assert!(ok(Method::POST, "/api/auctions/a/bids").is_write());
        assert!(!ok(Method::POST, "/api/auctions/a/bids").http_idempotent());
        assert!(ok(Method::POST, "/api/auctions").operator_only());
    }

    /// Every route as `docs/api.md` writes it (`{id}` and `{name}` resolve like any id).
    const DOCUMENTED: &[(&str, &str)] = &[
        ("GET", "/health"),
        ("GET", "/ready"),
        ("GET", "/metrics"),
        ("GET", "/api/metrics/coordination"),
        ("POST", "/api/coordinate"),
        ("POST", "/api/coordinate/batch"),
        ("POST", "/api/agents"),
        ("GET", "/api/agents"),
        ("GET", "/api/agents/{id}"),
        ("DELETE", "/api/agents/{id}"),
        ("POST", "/api/agents/{id}/start"),
        ("POST", "/api/agents/{id}/stop"),
        ("POST", "/api/agents/{id}/restart"),
        ("GET", "/api/agents/{id}/health"),
        ("POST", "/api/auctions"),
        ("GET", "/api/auctions/{id}"),
        ("POST", "/api/auctions/{id}/bids"),
        ("POST", "/api/auctions/{id}/close"),
        ("POST", "/api/markets"),
        ("GET", "/api/markets/{id}"),
        ("POST", "/api/markets/{id}/orders"),
        ("POST", "/api/markets/{id}/clear"),
        ("POST", "/api/consensus"),
        ("GET", "/api/consensus/{id}"),
        ("POST", "/api/consensus/{id}/votes"),
        ("POST", "/api/consensus/{id}/close"),
        ("POST", "/api/variables"),
        ("GET", "/api/variables/{name}"),
        ("PUT", "/api/variables/{name}"),
        ("GET", "/api/variables/{name}/history"),
        ("POST", "/api/variables/{name}/coordinate"),
        ("GET", "/api/sessions"),
        ("GET", "/api/sessions/{id}"),
        ("DELETE", "/api/sessions/{id}"),
    ];

    /// A number per route (lifecycle actions apart). Adding a route stops this match from
    /// compiling; giving it a number makes the test below ask for its `DOCUMENTED` line.
    const ROUTES: usize = 34;
    fn number(r: &Route<'_>) -> usize {
        match r {
            Route::Health => 0,
            Route::Ready => 1,
            Route::Metrics => 2,
            Route::CoordinationMetrics => 3,
            Route::Coordinate => 4,
            Route::CoordinateBatch => 5,
            Route::AgentCreate => 6,
            Route::AgentList => 7,
            Route::AgentGet(_) => 8,
            Route::AgentDelete(_) => 9,
            Route::AgentLifecycle(_, Lifecycle::Start) => 10,
            Route::AgentLifecycle(_, Lifecycle::Stop) => 11,
            Route::AgentLifecycle(_, Lifecycle::Restart) => 12,
            Route::AgentHealth(_) => 13,
            Route::AuctionOpen => 14,
            Route::AuctionGet(_) => 15,
            Route::AuctionBid(_) => 16,
            Route::AuctionClose(_) => 17,
            Route::MarketOpen => 18,
            Route::MarketGet(_) => 19,
            Route::MarketOrder(_) => 20,
            Route::MarketClear(_) => 21,
            Route::ConsensusOpen => 22,
            Route::ConsensusGet(_) => 23,
            Route::ConsensusVote(_) => 24,
            Route::ConsensusClose(_) => 25,
            Route::VariableCreate => 26,
            Route::VariableGet(_) => 27,
            Route::VariablePut(_) => 28,
            Route::VariableHistory(_) => 29,
            Route::VariableCoordinate(_) => 30,
            Route::SessionList => 31,
            Route::SessionGet(_) => 32,
            Route::SessionCancel(_) => 33,
        }
    }

    /// `docs/api.md` is the contract: every route the router knows is listed there.
    #[test]
    fn every_route_is_in_docs_api_md() {
        let docs = include_str!("../../docs/api.md");
        let mut seen = [false; ROUTES];
        for (m, p) in DOCUMENTED {
            let method = Method::from_bytes(m.as_bytes()).unwrap();
            let route = resolve(&method, p).unwrap_or_else(|e| panic!("{m} {p}: {e:?}"));
            seen[number(&route)] = true;
            assert!(
                docs.contains(&format!("`{m} {p}`")),
                "docs/api.md does not list `{m} {p}`"
            );
        }
        let missing: Vec<usize> = (0..ROUTES).filter(|i| !seen[*i]).collect();
        assert!(
            missing.is_empty(),
            "routes numbered {missing:?} have no DOCUMENTED line"
        );
    }
}
