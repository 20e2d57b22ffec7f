//! The embedded target: requests go straight to an in-process engine through
//! [`mabeam_engine::api::Handle`], no HTTP. Only routes the embedding API offers are
//! accepted; a scenario naming another is refused before the load starts.

use mabeam_engine::api::{EngineError, Handle};
use mabeam_engine::coord::CoordinationRequest;
use mabeam_engine::registry::{AgentFilter, AgentSpec};

/// An operation of the embedding API, chosen from the method and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /health` and `GET /ready`.
    Health,
    /// `GET /metrics`.
    Metrics,
    /// `POST /api/coordinate`.
    Coordinate,
    /// `POST /api/coordinate/batch`.
    CoordinateBatch,
    /// `POST /api/agents`.
    Register,
    /// `GET /api/agents`.
    ListAgents,
    /// `GET /api/agents/{id}`.
    GetAgent,
    /// `DELETE /api/agents/{id}`.
    Deregister,
    /// `POST /api/agents/{id}/start`.
    Start,
    /// `POST /api/agents/{id}/stop`.
    Stop,
    /// `POST /api/agents/{id}/restart`.
    Restart,
}

/// The routes served, for messages.
pub const ROUTES: &str = "GET /health, GET /ready, GET /metrics, POST /api/coordinate, POST /api/coordinate/batch, POST/GET /api/agents, GET/DELETE /api/agents/{id}, POST /api/agents/{id}/start|stop|restart";

/// Classifies `method path`; the second value is the agent id for per-agent routes.
pub fn route<'p>(method: &str, path: &'p str) -> Option<(Route, &'p str)> {
    let path = path.split('?').next().unwrap_or(path);
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let r = match (method, segs.as_slice()) {
        ("GET", ["health"]) | ("GET", ["ready"]) => (Route::Health, ""),
        ("GET", ["metrics"]) => (Route::Metrics, ""),
        ("POST", ["api", "coordinate"]) => (Route::Coordinate, ""),
        ("POST", ["api", "coordinate", "batch"]) => (Route::CoordinateBatch, ""),
        ("POST", ["api", "agents"]) => (Route::Register, ""),
        ("GET", ["api", "agents"]) => (Route::ListAgents, ""),
        ("GET", ["api", "agents", id]) => (Route::GetAgent, *id),
        ("DELETE", ["api", "agents", id]) => (Route::Deregister, *id),
        ("POST", ["api", "agents", id, "start"]) => (Route::Start, *id),
        ("POST", ["api", "agents", id, "stop"]) => (Route::Stop, *id),
        ("POST", ["api", "agents", id, "restart"]) => (Route::Restart, *id),
        _ => return None,
    };
    Some(r)
}

/// An answer: status and, when asked for, the JSON body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status the server would give.
    pub status: u16,
    /// The body, when `want_body` was set.
    pub body: Option<serde_json::Value>,
}

/// The server's status for `e`: the engine's one class -> status table.
fn status_of(e: &EngineError) -> u16 {
    mabeam_engine::api::http_status(e.class())
}

#[derive(serde::Deserialize)]
struct Batch {
    requests: Vec<serde_json::Value>,
}

/// Runs one request against the engine.
pub async fn execute(
    handle: &Handle,
    method: &str,
    path: &str,
    body: &[u8],
    want_body: bool,
) -> Answer {
    let Some((route, id)) = route(method, path) else {
        return Answer {
            status: 404,
            body: None,
        };
    };
    let keep = |v: serde_json::Value| if want_body { Some(v) } else { None };
    let record = |r: Result<mabeam_engine::registry::AgentRecord, EngineError>, ok: u16| match r {
        Ok(rec) => Answer {
            status: ok,
            body: if want_body {
                serde_json::to_value(&rec).ok()
            } else {
                None
            },
        },
        Err(e) => Answer {
            status: status_of(&e),
            body: None,
        },
    };
    match route {
        Route::Health => Answer {
            status: if handle.is_ready() { 200 } else { 503 },
            body: keep(serde_json::json!({"status": "healthy"})),
        },
        Route::Metrics => {
            let text = handle.telemetry().render_prometheus();
            Answer {
                status: 200,
                body: keep(serde_json::Value::String(text)),
            }
        }
        Route::Coordinate => match CoordinationRequest::from_json(body) {
            Ok(req) => match handle.coordinate(&req) {
                Ok(out) => Answer {
                    status: 200,
                    body: if want_body {
                        serde_json::to_value(&out).ok()
                    } else {
                        None
                    },
                },
                Err(e) => Answer {
                    status: status_of(&EngineError::from(e)),
                    body: None,
                },
            },
            Err(e) => Answer {
                status: status_of(&EngineError::from(e)),
                body: None,
            },
        },
        Route::CoordinateBatch => {
            let reqs: Result<Vec<CoordinationRequest>, String> =
                serde_json::from_slice::<Batch>(body)
                    .map_err(|e| e.to_string())
                    .and_then(|b| {
                        b.requests
                            .iter()
                            .map(|v| {
                                CoordinationRequest::from_json(v.to_string().as_bytes())
                                    .map_err(|e| e.to_string())
                            })
                            .collect()
                    });
            match reqs {
                Ok(reqs) => {
                    let outs = handle.coordinate_batch(&reqs);
                    Answer {
                        status: 200,
                        body: keep(serde_json::json!({"outcomes": outs.len()})),
                    }
                }
                Err(_) => Answer {
                    status: 400,
                    body: None,
                },
            }
        }
        Route::Register => match serde_json::from_slice::<AgentSpec>(body) {
            Ok(spec) => record(handle.register(spec).await, 201),
            Err(_) => Answer {
                status: 400,
                body: None,
            },
        },
        Route::ListAgents => {
            let n = handle.agents(&AgentFilter::default()).len();
            Answer {
                status: 200,
                body: keep(serde_json::json!({"count": n})),
            }
        }
        Route::GetAgent => match handle.agent(id) {
            Some(rec) => record(Ok(rec), 200),
            None => Answer {
                status: 404,
                body: None,
            },
        },
        Route::Deregister => record(handle.deregister(id).await, 204),
        Route::Start => record(handle.start(id).await, 200),
        Route::Stop => record(handle.stop(id).await, 200),
        Route::Restart => record(handle.restart(id).await, 200),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            route("POST", "/api/coordinate"),
            Some((Route::Coordinate, ""))
        );
        assert_eq!(
            route("POST", "/api/agents/a-1/start"),
            Some((Route::Start, "a-1"))
        );
        assert_eq!(route("GET", "/health?x=1"), Some((Route::Health, "")));
        assert_eq!(route("POST", "/api/auctions"), None);
        assert_eq!(route("PUT", "/api/agents/x"), None);
    }
}
