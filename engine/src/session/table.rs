//! [`Sessions`]: the live sessions one worker owns, their deadlines and clearings.
//!
//! Single owner, no clock: every call takes `now` (Unix ms). Clearing is not done
//! here: a session due to clear becomes a [`Job`] the worker hands to the clearing
//! pool; the [`Done`] result comes back through [`Sessions::complete`], which says
//! whom to answer.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::coord::validate::{self, Limits, check_id};
use crate::coord::{
    Bid, CoordError, CoordinationOutcome, CoordinationRequest, Order, Vote, clear,
    clear_call_market,
};
use crate::profile::Config;
use crate::session::error::SessionError;
use crate::session::live::{AuctionBody, Body, ConsensusBody, Entry, EntryLimits, MarketBody};
use crate::session::request::{
    BidReceipt, MarketKind, OpenAuction, OpenConsensus, OpenMarket, OrderReceipt, VoteReceipt,
};
use crate::session::view::{SessionState, SessionView};

/// The limits and timers of one worker's sessions, from the profile.
#[derive(Debug, Clone)]
pub(crate) struct SessionSettings {
    /// Longest deadline a session may ask for (`coordination.session_deadline_max_ms`); a
    /// session that asks for none stays open until closed.
    pub(crate) max_deadline_ms: u64,
    /// Finished sessions kept per worker (`core.history_retention`).
    pub(crate) retained_max: usize,
    /// `coordination.bids_per_auction_max` (also the votes per round).
    pub(crate) bids_max: usize,
    /// `coordination.orders_per_market_max`.
    pub(crate) orders_max: usize,
    /// `coordination.idempotency_keys_max`, per session.
    pub(crate) keys_max: usize,
    /// `coordination.market_update_frequency`: a call market's call interval.
    pub(crate) call_interval_ms: u64,
    /// One-shot validation limits.
    pub(crate) limits: Limits,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl SessionSettings {
    pub(crate) fn from_config(cfg: &Config, limits: &Limits) -> Self {
        Self {
            max_deadline_ms: ms(cfg.coordination.session_deadline_max_ms),
            retained_max: cfg.core.history_retention.max(1),
            bids_max: cfg.coordination.bids_per_auction_max,
            orders_max: cfg.coordination.orders_per_market_max,
            keys_max: cfg.coordination.idempotency_keys_max,
            call_interval_ms: ms(cfg.coordination.market_update_frequency),
            limits: limits.clone(),
        }
    }
}

/// A clearing to run on the pool.
pub(crate) struct Job {
    pub(crate) session: String,
    pub(crate) id: u64,
    pub(crate) request: CoordinationRequest,
    /// Entries in the request.
    pub(crate) entries: usize,
    /// When the session opened (Unix ms).
    pub(crate) opened_at: u64,
}

/// Clears a job's request (on the pool): what [`Done`] carries back. A call market's
/// unfilled remainders come back too, to rest for its next call.
pub(crate) fn clear_job(
    request: CoordinationRequest,
    limits: &Limits,
) -> (Result<CoordinationOutcome, CoordError>, Vec<Order>) {
    match request {
        CoordinationRequest::Market(spec) => {
            let (result, carry) = clear_call_market(spec, limits);
            (result.map(CoordinationOutcome::Market), carry)
        }
        other => (clear(&other, limits), Vec::new()),
    }
}

/// A clearing's result, back from the pool.
pub(crate) struct Done {
    pub(crate) session: String,
    pub(crate) id: u64,
    /// The protocol of the request cleared.
    pub(crate) protocol: crate::coord::Protocol,
    pub(crate) result: Result<CoordinationOutcome, CoordError>,
    /// A call market's unfilled remainders, in submission order.
    pub(crate) carry: Vec<Order>,
    pub(crate) entries: usize,
    /// When the session opened (Unix ms).
    pub(crate) opened_at: u64,
    /// Time the clearing took on the pool.
    pub(crate) took: Duration,
}

/// A session that just finished (for telemetry and the engine-wide open count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Finished {
    pub(crate) protocol: &'static str,
    pub(crate) state: SessionState,
    /// Its lifetime, open to finish, in ms.
    pub(crate) lived_ms: u64,
}

/// What a close or clear request got.
pub(crate) enum Waited<W> {
    /// Answer now with this view.
    Now(Box<SessionView>, W),
    /// The waiter was kept; it is answered when the clearing completes.
    Later,
    /// Refused.
    Refused(SessionError, W),
}

/// One worker's live sessions.
pub(crate) struct Sessions<W> {
    settings: SessionSettings,
    map: HashMap<String, Entry<W>>,
    /// Finished sessions, oldest first, at most `retained_max`.
    retained: VecDeque<String>,
    jobs: VecDeque<Job>,
    next_job: u64,
    finished: Vec<Finished>,
    /// Ids that finished since the last [`Sessions::settle`].
    just_finished: Vec<String>,
    open: usize,
    next_due: u64,
}

impl<W> Sessions<W> {
    pub(crate) fn new(settings: SessionSettings) -> Self {
        Self {
            settings,
            map: HashMap::new(),
            retained: VecDeque::new(),
            jobs: VecDeque::new(),
            next_job: 1,
            finished: Vec::new(),
            just_finished: Vec::new(),
            open: 0,
            next_due: u64::MAX,
        }
    }

    /// Sessions open or closing (holding an engine-wide slot).
    #[cfg(test)]
    pub(crate) fn open_count(&self) -> usize {
        self.open
    }

    /// The earliest deadline or call time (Unix ms), `u64::MAX` if none.
    pub(crate) fn next_due(&self) -> u64 {
        self.next_due
    }

    /// Clearings waiting to go to the pool.
    pub(crate) fn jobs_waiting(&self) -> usize {
        self.jobs.len()
    }

    /// Up to `n` clearings to hand to the pool, oldest first.
    pub(crate) fn take_jobs(&mut self, n: usize) -> Vec<Job> {
        let n = n.min(self.jobs.len());
        self.jobs.drain(..n).collect()
    }

    /// Sessions that finished since the last call.
    pub(crate) fn drain_finished(&mut self) -> std::vec::Drain<'_, Finished> {
        self.finished.drain(..)
    }

    /// Checks a new session's id and deadline; its deadline (Unix ms), `None` for none.
    fn check_new(
        &self,
        id: &str,
        deadline_ms: Option<u64>,
        now: u64,
    ) -> Result<Option<u64>, SessionError> {
        check_id("id", id)?;
        if self.map.contains_key(id) {
            return Err(SessionError::AlreadyExists { id: id.to_owned() });
        }
        let max = self.settings.max_deadline_ms;
        match deadline_ms {
            None => Ok(None),
            Some(ms) if ms == 0 || ms > max => Err(CoordError::InvalidParameter {
                field: "deadline_ms".into(),
                hint: format!(
                    "a deadline is 1 to {max} ms (coordination.session_deadline_max_ms), not \
                     {ms}; leave it out to keep the session open until it is closed"
                ),
            }
            .into()),
            Some(ms) => Ok(Some(now.saturating_add(ms))),
        }
    }

    fn insert(
        &mut self,
        id: String,
        deadline_at: Option<u64>,
        now: u64,
        body: Body,
    ) -> SessionView {
        let entry = Entry {
            id: id.clone(),
            state: SessionState::Open,
            opened_at: now,
            deadline_at,
            closed_at: None,
            ending: None,
            job: None,
            waiting: Vec::new(),
            queued: Vec::new(),
            error: None,
            body,
        };
        let view = entry.view();
        self.next_due = self.next_due.min(deadline_at.unwrap_or(u64::MAX));
        if let Body::Market(m) = &entry.body
            && m.kind == MarketKind::Call
        {
            self.next_due = self.next_due.min(m.next_call_at);
        }
        self.map.insert(id, entry);
        self.open += 1;
        view
    }

    /// Opens a live auction with id `id`.
    pub(crate) fn open_auction(
        &mut self,
        id: String,
        req: &OpenAuction,
        now: u64,
    ) -> Result<SessionView, SessionError> {
        let deadline_at = self.check_new(&id, req.deadline_ms, now)?;
        let probe = req.to_spec();
        validate::auction(&probe, &self.settings.limits)?;
        let body = Body::Auction(AuctionBody::new(probe, self.settings.keys_max));
        Ok(self.insert(id, deadline_at, now, body))
    }

    /// Opens a live market with id `id`.
    pub(crate) fn open_market(
        &mut self,
        id: String,
        req: &OpenMarket,
        now: u64,
    ) -> Result<SessionView, SessionError> {
        let deadline_at = self.check_new(&id, req.deadline_ms, now)?;
        let next_call = now.saturating_add(self.settings.call_interval_ms);
        let s = &self.settings;
        let body = Body::Market(MarketBody::new(
            req.kind,
            s.orders_max,
            s.keys_max,
            next_call,
            s.retained_max,
        ));
        Ok(self.insert(id, deadline_at, now, body))
    }

    /// Opens a consensus round with id `id`.
    pub(crate) fn open_consensus(
        &mut self,
        id: String,
        req: &OpenConsensus,
        now: u64,
    ) -> Result<SessionView, SessionError> {
        let deadline_at = self.check_new(&id, req.deadline_ms, now)?;
        let probe = req.to_spec();
        validate::consensus(&probe, &self.settings.limits)?;
        if req.quorum == Some(0) {
            return Err(CoordError::InvalidParameter {
                field: "quorum".into(),
                hint: "a quorum is at least 1 vote".into(),
            }
            .into());
        }
        let body = Body::Consensus(ConsensusBody::new(probe, self.settings.keys_max));
        Ok(self.insert(id, deadline_at, now, body))
    }

    /// Places a bid in auction `id`.
    pub(crate) fn bid(
        &mut self,
        id: &str,
        bid: Bid,
        key: Option<String>,
    ) -> Result<BidReceipt, SessionError> {
        let lim = limits_of(&self.settings);
        entry_mut(&mut self.map, id, "auction")?.bid(bid, key, &lim)
    }

    /// Places an order in market `id`.
    pub(crate) fn order(
        &mut self,
        id: &str,
        order: Order,
        key: Option<String>,
    ) -> Result<OrderReceipt, SessionError> {
        let lim = limits_of(&self.settings);
        entry_mut(&mut self.map, id, "market")?.order(order, key, &lim)
    }

    /// Counts a vote in round `id`; meeting the quorum starts the round's clearing.
    pub(crate) fn vote(
        &mut self,
        id: &str,
        vote: Vote,
        key: Option<String>,
    ) -> Result<VoteReceipt, SessionError> {
        let lim = limits_of(&self.settings);
        let entry = entry_mut(&mut self.map, id, "consensus")?;
        let receipt = entry.vote(vote, key, &lim)?;
        if receipt.closing && entry.state == SessionState::Open {
            entry.ending = Some(SessionState::Closed);
            start_job(entry, &mut self.jobs, &mut self.next_job);
        }
        Ok(receipt)
    }

    /// Closes session `id` (`what` names the kind the caller expects, or `session`
    /// for any): an auction or round clears its entries, a call market runs a final
    /// call, a continuous market closes at once. `waiter` is answered with the
    /// finished session.
    pub(crate) fn close(&mut self, id: &str, what: &'static str, waiter: W, now: u64) -> Waited<W> {
        let Some(entry) = self.map.get_mut(id).filter(|e| kind_matches(e, what)) else {
            let e = SessionError::NotFound {
                what,
                id: id.to_owned(),
            };
            return Waited::Refused(e, waiter);
        };
        if entry.state.is_finished() {
            return Waited::Now(Box::new(entry.view()), waiter);
        }
        entry.ending.get_or_insert(SessionState::Closed);
        if entry.job.is_some() {
            entry.state = SessionState::Closing;
            entry.queued.push(waiter);
            return Waited::Later;
        }
        let continuous = matches!(&entry.body, Body::Market(m) if m.kind == MarketKind::Continuous);
        let empty_call = matches!(&entry.body, Body::Market(_)) && !entry.has_pending();
        if continuous || empty_call {
            let state = entry.ending.unwrap_or(SessionState::Closed);
            finish(
                entry,
                state,
                now,
                &mut self.finished,
                &mut self.just_finished,
            );
            let view = entry.view();
            self.settle();
            return Waited::Now(Box::new(view), waiter);
        }
        start_job(entry, &mut self.jobs, &mut self.next_job);
        entry.waiting.push(waiter);
        Waited::Later
    }

    /// Runs a call now on call market `id`; `waiter` gets the market after it.
    pub(crate) fn clear_market(&mut self, id: &str, waiter: W) -> Waited<W> {
        let entry = match entry_mut(&mut self.map, id, "market") {
            Ok(e) => e,
            Err(e) => return Waited::Refused(e, waiter),
        };
        match &entry.body {
            Body::Market(m) if m.kind == MarketKind::Call => {}
            Body::Market(_) => {
                let e = SessionError::WrongKind {
                    id: id.to_owned(),
                    kind: "a continuous market",
                    hint: "it matches orders on arrival; there is nothing to clear",
                };
                return Waited::Refused(e, waiter);
            }
            _ => {
                let e = SessionError::NotFound {
                    what: "market",
                    id: id.to_owned(),
                };
                return Waited::Refused(e, waiter);
            }
        }
        if entry.state.is_finished() {
            return Waited::Now(Box::new(entry.view()), waiter);
        }
        if entry.job.is_some() {
            entry.queued.push(waiter);
        } else {
            start_job(entry, &mut self.jobs, &mut self.next_job);
            entry.waiting.push(waiter);
        }
        Waited::Later
    }

    /// Cancels session `id` (not while its clearing runs).
    pub(crate) fn cancel(&mut self, id: &str, now: u64) -> Result<SessionView, SessionError> {
        let entry = entry_mut(&mut self.map, id, "session")?;
        if entry.state != SessionState::Open || entry.job.is_some() {
            let state = if entry.job.is_some() {
                SessionState::Closing
            } else {
                entry.state
            };
            return Err(SessionError::NotOpen {
                id: id.to_owned(),
                state: state.as_str(),
                what: "cancellation",
            });
        }
        finish(
            entry,
            SessionState::Cancelled,
            now,
            &mut self.finished,
            &mut self.just_finished,
        );
        let view = entry.view();
        self.settle();
        Ok(view)
    }

    /// A session's view; `what` as in [`Sessions::close`].
    pub(crate) fn get(&self, id: &str, what: &'static str) -> Result<SessionView, SessionError> {
        self.map
            .get(id)
            .filter(|e| kind_matches(e, what))
            .map(Entry::view)
            .ok_or_else(|| SessionError::NotFound {
                what,
                id: id.to_owned(),
            })
    }

    /// Every session held (open and retained finished ones).
    pub(crate) fn list(&self) -> Vec<SessionView> {
        self.map.values().map(Entry::view).collect()
    }

    /// Deadlines and call timers due at `now`: expiring sessions clear what they
    /// hold (or finish at once when there is nothing to clear), due call markets
    /// run their call. Recomputes [`Sessions::next_due`].
    pub(crate) fn tick(&mut self, now: u64) {
        if now < self.next_due {
            return;
        }
        let interval = self.settings.call_interval_ms;
        let mut next_due = u64::MAX;
        for entry in self.map.values_mut() {
            if entry.state != SessionState::Open {
                continue;
            }
            let deadline_at = entry.deadline_at.unwrap_or(u64::MAX);
            if now >= deadline_at {
                entry.ending = Some(SessionState::Expired);
                if entry.job.is_some() {
                    entry.state = SessionState::Closing;
                    continue;
                }
                let fresh = entry.has_pending();
                match &entry.body {
                    Body::Market(m) if m.kind == MarketKind::Continuous || !fresh => {
                        finish(
                            entry,
                            SessionState::Expired,
                            now,
                            &mut self.finished,
                            &mut self.just_finished,
                        );
                    }
                    _ => start_job(entry, &mut self.jobs, &mut self.next_job),
                }
                continue;
            }
            next_due = next_due.min(deadline_at);
            let has_pending = entry.has_pending();
            if let Body::Market(m) = &mut entry.body
                && m.kind == MarketKind::Call
            {
                if now >= m.next_call_at {
                    m.next_call_at = now.saturating_add(interval);
                    if has_pending && entry.job.is_none() {
                        start_job(entry, &mut self.jobs, &mut self.next_job);
                    }
                }
                if let Body::Market(m) = &entry.body {
                    next_due = next_due.min(m.next_call_at);
                }
            }
        }
        self.next_due = next_due;
        self.settle();
    }

    /// The cleanup sweep: [`Sessions::tick`] over every session whatever the
    /// cached next due time says.
    pub(crate) fn sweep(&mut self, now: u64) {
        self.next_due = 0;
        self.tick(now);
    }

    /// Takes a clearing's result: the session records it and finishes if it was
    /// ending; a call market runs another call if one was asked for meanwhile.
    /// Returns the session's view and the callers to answer with it.
    pub(crate) fn complete(&mut self, done: Done, now: u64) -> Option<(SessionView, Vec<W>)> {
        let entry = self.map.get_mut(&done.session)?;
        if entry.job != Some(done.id) {
            return None;
        }
        entry.job = None;
        // A call's remainders rest for the next call, unless this call was the last one:
        // the market is ending and no order arrived during the call.
        let last = entry.ending.is_some() && !entry.has_pending();
        let ok = entry.apply(done.result, done.carry, !last, now);
        let mut answer = std::mem::take(&mut entry.waiting);
        match entry.ending {
            Some(_) if entry.has_pending() => start_job(entry, &mut self.jobs, &mut self.next_job),
            Some(end) => {
                let state = if ok { end } else { SessionState::Failed };
                finish(
                    entry,
                    state,
                    now,
                    &mut self.finished,
                    &mut self.just_finished,
                );
                answer.append(&mut entry.queued);
            }
            None if !entry.queued.is_empty() => {
                start_job(entry, &mut self.jobs, &mut self.next_job)
            }
            None => {}
        }
        let view = entry.view();
        self.settle();
        Some((view, answer))
    }

    /// Every waiter still held (shutdown: they are answered with an error).
    pub(crate) fn take_all_waiters(&mut self) -> Vec<W> {
        let mut out = Vec::new();
        for e in self.map.values_mut() {
            out.append(&mut e.waiting);
            out.append(&mut e.queued);
        }
        out
    }

    /// Moves sessions that just finished into the retained ring, forgetting the
    /// oldest past `retained_max`.
    fn settle(&mut self) {
        for id in self.just_finished.drain(..) {
            self.open = self.open.saturating_sub(1);
            self.retained.push_back(id);
        }
        while self.retained.len() > self.settings.retained_max {
            if let Some(old) = self.retained.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

fn limits_of(s: &SessionSettings) -> EntryLimits<'_> {
    EntryLimits {
        limits: &s.limits,
        bids_max: s.bids_max,
        orders_max: s.orders_max,
        votes_max: s.bids_max,
    }
}

fn entry_mut<'a, W>(
    map: &'a mut HashMap<String, Entry<W>>,
    id: &str,
    what: &'static str,
) -> Result<&'a mut Entry<W>, SessionError> {
    map.get_mut(id)
        .filter(|e| kind_matches(e, what))
        .ok_or_else(|| SessionError::NotFound {
            what,
            id: id.to_owned(),
        })
}

fn kind_matches<W>(e: &Entry<W>, what: &str) -> bool {
    what == "session" || e.protocol() == what
}

/// Hands the session's entries to a new clearing job; waiters queued for the next
/// clearing now wait for this one.
fn start_job<W>(entry: &mut Entry<W>, jobs: &mut VecDeque<Job>, next_job: &mut u64) {
    let id = *next_job;
    *next_job += 1;
    let (request, entries) = entry.take_request();
    entry.job = Some(id);
    if entry.ending.is_some() {
        entry.state = SessionState::Closing;
    }
    entry.waiting.append(&mut entry.queued);
    jobs.push_back(Job {
        session: entry.id.clone(),
        id,
        request,
        entries,
        opened_at: entry.opened_at,
    });
}

fn finish<W>(
    entry: &mut Entry<W>,
    state: SessionState,
    now: u64,
    finished: &mut Vec<Finished>,
    just: &mut Vec<String>,
) {
    entry.state = state;
    entry.ending = None;
    entry.closed_at = Some(now);
    entry.release();
    finished.push(Finished {
        protocol: entry.protocol(),
        state,
        lived_ms: now.saturating_sub(entry.opened_at),
    });
    just.push(entry.id.clone());
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
