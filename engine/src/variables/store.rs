//! [`Variables`]: one shard's shared variables, owned and mutated by a single worker.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;

use super::coordinate::{CoordinationError, decide_second_price, decide_vote};
use super::domain::{Domain, Policy, check_id, json_size_within};
use super::error::VariableError;
use super::request::{CoordinateRequest, CreateRequest, UpdateRequest, bids_input, votes_input};
use super::settings::{SettingsError, VariableSettings};
use super::view::{
    Change, CoordinateResponse, Delivery, HistoryResponse, Protocol, Revision, TallyLine,
    VariableResponse, VariableView, micros_to_number,
};

/// Author recorded for version 1 when a create names none.
pub const CREATOR_DEFAULT: &str = "system";
/// Author recorded for a value decided by a vote.
pub const CONSENSUS_AUTHOR: &str = "consensus";

/// Table slots reserved at construction, at most (the table grows to `max_variables`).
const PREALLOCATED_VARIABLES_MAX: usize = 65_536;

struct Variable {
    name: Arc<str>,
    domain: Domain,
    policy: Policy,
    /// Newest first; never empty: the front is the current value.
    history: VecDeque<Arc<Revision>>,
    /// In subscription order, which is delivery order.
    subscribers: Vec<Arc<str>>,
}

impl Variable {
    fn current(&self) -> &Revision {
        // `history` is never empty: create pushes version 1, and a write pops at most one
        // entry before pushing its own (retention is at least 1).
        &self.history[0]
    }

    fn view(&self) -> VariableView<'_> {
        let current = self.current();
        VariableView {
            name: &self.name,
            value: &current.value,
            version: current.version,
            domain: &self.domain,
            policy: self.policy,
            updated_at: current.at,
            updated_by: &current.agent_id,
            subscribers: self.subscribers.len(),
        }
    }

    fn response(&self) -> VariableResponse {
        self.view().to_response()
    }

    /// Checks the caller's `version` against this variable's policy.
    fn check_version(&self, version: Option<u64>) -> Result<(), VariableError> {
        let actual = self.current().version;
        match (version, self.policy) {
            (Some(expected), _) if expected != actual => Err(VariableError::Conflict {
                name: self.name.to_string(),
                expected,
                actual,
            }),
            (None, Policy::VersionCheck) => Err(VariableError::VersionRequired {
                name: self.name.to_string(),
                actual,
            }),
            _ => Ok(()),
        }
    }

    /// Appends a revision (evicting the oldest past `retention`) and addresses it to every
    /// subscriber.
    fn write(
        &mut self,
        value: Value,
        agent_id: String,
        now_ms: u64,
        retention: usize,
        out: &mut Vec<Delivery>,
    ) {
        let revision = Arc::new(Revision {
            version: self.current().version + 1,
            value,
            agent_id,
            at: now_ms,
        });
        if self.history.len() >= retention {
            self.history.pop_back();
        }
        self.history.push_front(Arc::clone(&revision));
        out.reserve(self.subscribers.len());
        for to in &self.subscribers {
            out.push(Delivery {
                to: Arc::clone(to),
                change: Change {
                    name: Arc::clone(&self.name),
                    revision: Arc::clone(&revision),
                },
            });
        }
    }
}

/// One shard's shared variables.
///
/// Single owner: the worker that owns the shard calls the `&mut self` methods; nothing here
/// locks, spawns or reads a clock (every write takes `now_ms`). Each limit in
/// [`VariableSettings`] is enforced with an error that leaves the store untouched.
///
/// Writes append one [`Delivery`] per subscriber to the caller's `out` buffer; the runtime
/// drains it into the agents' inboxes (and can reuse the buffer, so steady-state writes do
/// not allocate for deliveries).
pub struct Variables {
    settings: VariableSettings,
    table: HashMap<Arc<str>, Variable>,
}

impl std::fmt::Debug for Variables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Variables")
            .field("settings", &self.settings)
            .field("len", &self.table.len())
            .finish()
    }
}

impl Variables {
    /// An empty store with validated limits.
    pub fn new(settings: VariableSettings) -> Result<Self, SettingsError> {
        settings.validate()?;
        let table = HashMap::with_capacity(settings.max_variables.min(PREALLOCATED_VARIABLES_MAX));
        Ok(Self { settings, table })
    }

    /// The limits in force.
    pub fn settings(&self) -> &VariableSettings {
        &self.settings
    }

    /// Number of variables held.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the store holds no variable.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    fn check_name(name: &str) -> Result<(), VariableError> {
        check_id(name).map_err(|reason| VariableError::invalid_name(name, reason))
    }

    fn check_agent(agent_id: &str) -> Result<(), VariableError> {
        check_id(agent_id).map_err(|reason| VariableError::invalid_agent(agent_id, reason))
    }

    /// Registers a variable at version 1.
    ///
    /// Errors: `InvalidName`, `InvalidAgentId`, `TooLarge` (value or domain),
    /// `InvalidDomain`, `OutOfDomain`, `AlreadyExists`, `Capacity`.
    pub fn create(
        &mut self,
        req: CreateRequest,
        now_ms: u64,
    ) -> Result<VariableResponse, VariableError> {
        Self::check_name(&req.name)?;
        let author = req.agent_id.unwrap_or_else(|| CREATOR_DEFAULT.to_owned());
        Self::check_agent(&author)?;
        if json_size_within(&req.domain, self.settings.value_bytes_max).is_none() {
            return Err(VariableError::TooLarge {
                what: "the domain".to_owned(),
                bytes_max: self.settings.value_bytes_max,
            });
        }
        req.domain
            .validate()
            .map_err(|reason| VariableError::InvalidDomain { reason })?;
        check_value(&self.settings, &req.name, &req.domain, &req.value, None)?;
        if self.table.contains_key(req.name.as_str()) {
            return Err(VariableError::AlreadyExists { name: req.name });
        }
        if self.table.len() >= self.settings.max_variables {
            return Err(VariableError::Capacity {
                max: self.settings.max_variables,
            });
        }
        let name: Arc<str> = Arc::from(req.name);
        let mut history = VecDeque::with_capacity(self.settings.history_retention.min(8));
        history.push_front(Arc::new(Revision {
            version: 1,
            value: req.value,
            agent_id: author,
            at: now_ms,
        }));
        let variable = Variable {
            name: Arc::clone(&name),
            domain: req.domain,
            policy: req.policy,
            history,
            subscribers: Vec::new(),
        };
        let response = variable.response();
        self.table.insert(name, variable);
        Ok(response)
    }

    /// Writes a value directly (`PUT`). Subscribers' deliveries are appended to `out`.
    ///
    /// Errors: `NotFound`, `InvalidAgentId`, `Coordinated`, `Conflict` (stale `version`),
    /// `VersionRequired`, `TooLarge`, `OutOfDomain`.
    pub fn update(
        &mut self,
        name: &str,
        req: UpdateRequest,
        now_ms: u64,
        out: &mut Vec<Delivery>,
    ) -> Result<VariableResponse, VariableError> {
        Self::check_agent(&req.agent_id)?;
        let settings = self.settings;
        let variable = self.table.get_mut(name).ok_or_else(|| not_found(name))?;
        if variable.policy == Policy::Coordinated {
            return Err(VariableError::Coordinated {
                name: name.to_owned(),
            });
        }
        variable.check_version(req.version)?;
        check_value(&settings, name, &variable.domain, &req.value, None)?;
        let retention = settings.history_retention;
        variable.write(req.value, req.agent_id, now_ms, retention, out);
        Ok(variable.response())
    }

    /// Decides the value by a vote or an auction among the stakeholders in `req`, and writes
    /// it if decided (author: [`CONSENSUS_AUTHOR`] for a vote, the winner for an auction).
    /// Every proposed value must be in the domain, so whatever is decided is.
    ///
    /// Errors: `NotFound`, `Coordination` (malformed request, too many participants),
    /// `InvalidAgentId`, `Conflict`, `VersionRequired`, `TooLarge`, `OutOfDomain`.
    pub fn coordinate(
        &mut self,
        name: &str,
        req: CoordinateRequest,
        now_ms: u64,
        out: &mut Vec<Delivery>,
    ) -> Result<CoordinateResponse, VariableError> {
        let settings = self.settings;
        let variable = self.table.get_mut(name).ok_or_else(|| not_found(name))?;
        let coordination = |source: CoordinationError| VariableError::Coordination {
            name: name.to_owned(),
            source,
        };
        let max = settings.participants_max;
        if req.participants() > max {
            return Err(coordination(CoordinationError::TooMany {
                count: req.participants(),
                max,
            }));
        }
        variable.check_version(req.version())?;
        let domain = &variable.domain;
        let (decision, mut response) = match req {
            CoordinateRequest::Vote {
                rule,
                threshold,
                quorum,
                max_weight_share,
                votes,
                ..
            } => {
                let (votes, rule) = votes_input(
                    rule,
                    threshold.as_ref(),
                    quorum,
                    max_weight_share.as_ref(),
                    votes,
                )
                .map_err(coordination)?;
                for v in &votes {
                    Self::check_agent(&v.agent_id)?;
                    check_value(&settings, name, domain, &v.value, Some(&v.agent_id))?;
                }
                let outcome = decide_vote(&votes, rule).map_err(coordination)?;
                let tally = outcome
                    .tally
                    .iter()
                    .map(|t| TallyLine {
                        value: votes[t.first].value.clone(),
                        weight: t.weight,
                        votes: t.votes,
                    })
                    .collect();
                let decision = outcome
                    .decision()
                    .map(|t| (votes[t.first].value.clone(), CONSENSUS_AUTHOR.to_owned()));
                let response = CoordinateResponse {
                    support: outcome.tally.first().map(|t| t.weight),
                    total: Some(outcome.total),
                    tally,
                    ..empty_response(name, Protocol::Vote)
                };
                (decision, response)
            }
            CoordinateRequest::Auction { reserve, bids, .. } => {
                let (mut bids, reserve) =
                    bids_input(reserve.as_ref(), bids).map_err(coordination)?;
                for b in &bids {
                    Self::check_agent(&b.agent_id)?;
                    check_value(&settings, name, domain, &b.value, Some(&b.agent_id))?;
                }
                let outcome = decide_second_price(&bids, reserve).map_err(coordination)?;
                let decision = outcome.winner.map(|i| {
                    let winner = bids.swap_remove(i);
                    (winner.value, winner.agent_id)
                });
                let response = CoordinateResponse {
                    price: outcome.price.map(micros_to_number),
                    price_micros: outcome.price,
                    eligible: Some(outcome.eligible),
                    ..empty_response(name, Protocol::Auction)
                };
                (decision, response)
            }
        };
        let retention = settings.history_retention;
        if let Some((value, author)) = decision {
            response.decided = true;
            response.winner = Some(author.clone());
            variable.write(value, author, now_ms, retention, out);
        }
        let current = variable.current();
        response.value = current.value.clone();
        response.version = current.version;
        Ok(response)
    }

    /// Removes a variable and its subscriptions, freeing its slot. Errors: `NotFound`.
    pub fn remove(&mut self, name: &str) -> Result<(), VariableError> {
        self.table
            .remove(name)
            .map(drop)
            .ok_or_else(|| not_found(name))
    }

    /// Subscribes `agent_id` to changes of `name`. `Ok(false)` if it already was.
    ///
    /// Errors: `NotFound`, `InvalidAgentId`, `SubscriberCapacity`.
    pub fn subscribe(&mut self, name: &str, agent_id: &str) -> Result<bool, VariableError> {
        Self::check_agent(agent_id)?;
        let max = self.settings.subscribers_max;
        let variable = self.table.get_mut(name).ok_or_else(|| not_found(name))?;
        if variable.subscribers.iter().any(|s| &**s == agent_id) {
            return Ok(false);
        }
        if variable.subscribers.len() >= max {
            return Err(VariableError::SubscriberCapacity {
                name: name.to_owned(),
                max,
            });
        }
        variable.subscribers.push(Arc::from(agent_id));
        Ok(true)
    }

    /// Unsubscribes `agent_id` from `name`. `Ok(false)` if it was not subscribed.
    /// Errors: `NotFound`.
    pub fn unsubscribe(&mut self, name: &str, agent_id: &str) -> Result<bool, VariableError> {
        let variable = self.table.get_mut(name).ok_or_else(|| not_found(name))?;
        match variable.subscribers.iter().position(|s| &**s == agent_id) {
            Some(i) => {
                variable.subscribers.remove(i);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The subscribers of `name`, in delivery order.
    pub fn subscribers(&self, name: &str) -> Option<impl ExactSizeIterator<Item = &str>> {
        self.table
            .get(name)
            .map(|v| v.subscribers.iter().map(|s| &**s))
    }

    /// A borrowed look at one variable.
    pub fn get(&self, name: &str) -> Option<VariableView<'_>> {
        self.table.get(name).map(Variable::view)
    }

    /// Up to `limit` retained revisions of `name`, newest first (the first is the current
    /// value). Errors: `NotFound`.
    pub fn history(&self, name: &str, limit: usize) -> Result<HistoryResponse, VariableError> {
        let variable = self.table.get(name).ok_or_else(|| not_found(name))?;
        let history = variable
            .history
            .iter()
            .take(limit)
            .map(|r| Revision::clone(r))
            .collect();
        Ok(HistoryResponse { history })
    }

    /// Every variable, sorted by name.
    pub fn list(&self) -> Vec<VariableView<'_>> {
        let mut views: Vec<VariableView<'_>> = self.table.values().map(Variable::view).collect();
        views.sort_unstable_by(|a, b| a.name.cmp(b.name));
        views
    }
}

/// Size and domain check of a value; messages are built only on failure. `who` names the
/// agent that proposed it (coordination).
fn check_value(
    settings: &VariableSettings,
    name: &str,
    domain: &Domain,
    value: &Value,
    who: Option<&str>,
) -> Result<(), VariableError> {
    let bytes_max = settings.value_bytes_max;
    if json_size_within(value, bytes_max).is_none() {
        let what = who.map_or_else(
            || "the value".to_owned(),
            |a| format!("the value proposed by agent {a:?}"),
        );
        return Err(VariableError::TooLarge { what, bytes_max });
    }
    domain
        .check(value)
        .map_err(|reason| VariableError::OutOfDomain {
            name: name.to_owned(),
            reason: match who {
                Some(a) => format!("agent {a:?} proposed a value that {reason}"),
                None => reason,
            },
        })
}

fn not_found(name: &str) -> VariableError {
    VariableError::NotFound {
        name: name.to_owned(),
    }
}

fn empty_response(name: &str, protocol: Protocol) -> CoordinateResponse {
    CoordinateResponse {
        name: name.to_owned(),
        protocol,
        decided: false,
        value: Value::Null,
        version: 0,
        winner: None,
        price: None,
        price_micros: None,
        eligible: None,
        support: None,
        total: None,
        tally: Vec::new(),
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
