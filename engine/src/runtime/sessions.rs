//! Live sessions on their owner worker: commands, admission, deadlines, and the
//! hand-off of due clearings to the clearing pool.
//!
//! Each tick the worker (1) takes back the clearings the pool finished (a channel
//! it drains) and answers the callers waiting on them, (2) fires due deadlines and
//! call-market timers, (3) hands the clearings now due to the pool as one batch,
//! at most `concurrency.coordination_pool_size` in flight engine-wide, and (4)
//! releases the engine-wide slots of sessions that finished. A worker never clears
//! inline and never waits for the pool.

use crate::api::EngineError;
use crate::coord::{Bid, CoordError, Order, Vote};
use crate::runtime::command::Answer;
use crate::runtime::shared::LiveCounters;
use crate::runtime::worker::Worker;
use crate::session::{
    AuctionView, BidReceipt, ConsensusView, Done, Finished, Job, MarketView, OpenAuction,
    OpenConsensus, OpenMarket, OrderReceipt, SessionError, SessionList, SessionSettings,
    SessionState, SessionView, Sessions, VoteReceipt, Waited, clear_job,
};
use crate::telemetry::{Cleared, CoordinationSwitches, Counter, Gauge};
use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use rayon::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Someone waiting for a session's clearing, with the view type they expect.
pub(crate) enum Waiter {
    Auction(Answer<AuctionView>),
    Market(Answer<MarketView>),
    Consensus(Answer<ConsensusView>),
    Any(Answer<SessionView>),
}

impl Waiter {
    /// The kind of session this waiter asks about (`session` for any).
    pub(crate) fn what(&self) -> &'static str {
        match self {
            Waiter::Auction(_) => "auction",
            Waiter::Market(_) => "market",
            Waiter::Consensus(_) => "consensus",
            Waiter::Any(_) => "session",
        }
    }

    pub(crate) fn answer(self, view: SessionView) {
        let mismatch = |v: &SessionView| {
            EngineError::Internal(format!("session {} answered with the wrong kind", v.id()))
        };
        match (self, view) {
            (Waiter::Auction(tx), SessionView::Auction(v)) => tx.send(Ok(v)),
            (Waiter::Market(tx), SessionView::Market(v)) => tx.send(Ok(v)),
            (Waiter::Consensus(tx), SessionView::Consensus(v)) => tx.send(Ok(v)),
            (Waiter::Any(tx), v) => tx.send(Ok(v)),
            (w, v) => w.fail(mismatch(&v)),
        }
    }

    pub(crate) fn fail(self, e: EngineError) {
        match self {
            Waiter::Auction(tx) => tx.send(Err(e)),
            Waiter::Market(tx) => tx.send(Err(e)),
            Waiter::Consensus(tx) => tx.send(Err(e)),
            Waiter::Any(tx) => tx.send(Err(e)),
        }
    }
}

/// One worker's share of a `sessions()` listing; the last share to arrive sends
/// the merged list. A share dropped unanswered (shutdown) fails the listing.
pub(crate) struct ListPart {
    state: Arc<Mutex<Gather>>,
    done: bool,
}

struct Gather {
    views: Vec<SessionView>,
    remaining: usize,
    error: Option<EngineError>,
    reply: Option<Answer<SessionList>>,
}

impl ListPart {
    /// `parts` shares feeding `reply`.
    pub(crate) fn split(parts: usize, reply: Answer<SessionList>) -> Vec<ListPart> {
        let state = Arc::new(Mutex::new(Gather {
            views: Vec::new(),
            remaining: parts,
            error: None,
            reply: Some(reply),
        }));
        (0..parts)
            .map(|_| ListPart {
                state: Arc::clone(&state),
                done: false,
            })
            .collect()
    }

    pub(crate) fn complete(mut self, views: Result<Vec<SessionView>, EngineError>) {
        self.done = true;
        self.finish(views);
    }

    fn finish(&self, views: Result<Vec<SessionView>, EngineError>) {
        let mut g = self.state.lock();
        match views {
            Ok(mut v) => g.views.append(&mut v),
            Err(e) => {
                g.error.get_or_insert(e);
            }
        }
        g.remaining = g.remaining.saturating_sub(1);
        if g.remaining == 0
            && let Some(reply) = g.reply.take()
        {
            match g.error.take() {
                Some(e) => reply.send(Err(e)),
                None => {
                    let mut sessions = std::mem::take(&mut g.views);
                    sessions.sort_by(|a, b| a.id().cmp(b.id()));
                    let count = sessions.len();
                    reply.send(Ok(SessionList { sessions, count }));
                }
            }
        }
    }
}

impl Drop for ListPart {
    fn drop(&mut self) {
        if !self.done {
            self.finish(Err(EngineError::Canceled(crate::runtime::reply::Canceled)));
        }
    }
}

/// A live-session command for the session's owner worker.
pub(crate) enum SessionCmd {
    OpenAuction {
        id: String,
        req: Box<OpenAuction>,
        reply: Answer<AuctionView>,
    },
    OpenMarket {
        id: String,
        req: OpenMarket,
        reply: Answer<MarketView>,
    },
    OpenConsensus {
        id: String,
        req: Box<OpenConsensus>,
        reply: Answer<ConsensusView>,
    },
    Bid {
        id: String,
        bid: Box<Bid>,
        key: Option<String>,
        reply: Answer<BidReceipt>,
    },
    Order {
        id: String,
        order: Box<Order>,
        key: Option<String>,
        reply: Answer<OrderReceipt>,
    },
    Vote {
        id: String,
        vote: Box<Vote>,
        key: Option<String>,
        reply: Answer<VoteReceipt>,
    },
    Close {
        id: String,
        waiter: Waiter,
    },
    Clear {
        id: String,
        reply: Answer<MarketView>,
    },
    Get {
        id: String,
        waiter: Waiter,
    },
    Cancel {
        id: String,
        reply: Answer<SessionView>,
    },
    List {
        part: ListPart,
    },
}

/// The worker's live-session state.
pub(crate) struct LiveState {
    pub(crate) table: Sessions<Waiter>,
    done_tx: Sender<Vec<Done>>,
    done_rx: Receiver<Vec<Done>>,
    /// This worker's clearings on the pool.
    in_flight: usize,
    next_cleanup: Instant,
}

impl LiveState {
    pub(crate) fn new(cfg: &crate::profile::Config, limits: &crate::coord::Limits) -> Self {
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        Self {
            table: Sessions::new(SessionSettings::from_config(cfg, limits)),
            done_tx,
            done_rx,
            in_flight: 0,
            next_cleanup: Instant::now() + cfg.coordination.auction_cleanup_interval,
        }
    }

    /// No clearing of this worker is queued or on the pool.
    pub(crate) fn quiet(&self) -> bool {
        self.in_flight == 0 && self.table.jobs_waiting() == 0
    }
}

fn typed<T>(
    r: Result<SessionView, SessionError>,
    pick: impl FnOnce(SessionView) -> Option<T>,
) -> Result<T, EngineError> {
    let view = r?;
    let id = view.id().to_owned();
    pick(view).ok_or_else(|| EngineError::Internal(format!("session {id} opened as another kind")))
}

impl Worker {
    pub(crate) fn session_command(&mut self, cmd: SessionCmd) {
        let now = self.now_ms;
        match cmd {
            SessionCmd::OpenAuction { id, req, reply } => {
                let r = self.admit_session(|t| t.open_auction(id, &req, now));
                reply.send(r.and_then(|v| {
                    typed(Ok(v), |v| match v {
                        SessionView::Auction(a) => Some(a),
                        _ => None,
                    })
                }));
            }
            SessionCmd::OpenMarket { id, req, reply } => {
                let r = self.admit_session(|t| t.open_market(id, &req, now));
                reply.send(r.and_then(|v| {
                    typed(Ok(v), |v| match v {
                        SessionView::Market(m) => Some(m),
                        _ => None,
                    })
                }));
            }
            SessionCmd::OpenConsensus { id, req, reply } => {
                let r = self.admit_session(|t| t.open_consensus(id, &req, now));
                reply.send(r.and_then(|v| {
                    typed(Ok(v), |v| match v {
                        SessionView::Consensus(c) => Some(c),
                        _ => None,
                    })
                }));
            }
            SessionCmd::Bid {
                id,
                bid,
                key,
                reply,
            } => {
                let r = self
                    .admit_growth()
                    .and_then(|()| self.live.table.bid(&id, *bid, key).map_err(Into::into));
                reply.send(r);
            }
            SessionCmd::Order {
                id,
                order,
                key,
                reply,
            } => {
                let r = self
                    .admit_growth()
                    .and_then(|()| self.live.table.order(&id, *order, key).map_err(Into::into));
                if let Ok(receipt) = &r
                    && receipt.filled > 0
                {
                    self.rec.add(Counter::MarketVolume, receipt.filled);
                }
                reply.send(r);
            }
            SessionCmd::Vote {
                id,
                vote,
                key,
                reply,
            } => {
                let r = self
                    .admit_growth()
                    .and_then(|()| self.live.table.vote(&id, *vote, key).map_err(Into::into));
                reply.send(r);
            }
            SessionCmd::Close { id, waiter } => {
                let what = waiter.what();
                let r = self.live.table.close(&id, what, waiter, now);
                self.settle_finished();
                answer_waited(r);
            }
            SessionCmd::Clear { id, reply } => {
                let r = self.live.table.clear_market(&id, Waiter::Market(reply));
                answer_waited(r);
            }
            SessionCmd::Get { id, waiter } => match self.live.table.get(&id, waiter.what()) {
                Ok(v) => waiter.answer(v),
                Err(e) => waiter.fail(e.into()),
            },
            SessionCmd::Cancel { id, reply } => {
                let r = self.live.table.cancel(&id, now);
                self.settle_finished();
                reply.send(r.map_err(Into::into));
            }
            SessionCmd::List { part } => part.complete(Ok(self.live.table.list())),
        }
    }

    /// Admission (memory, `performance.process_limit`) and the engine-wide session
    /// slot, then `open`.
    fn admit_session(
        &mut self,
        open: impl FnOnce(&mut Sessions<Waiter>) -> Result<SessionView, SessionError>,
    ) -> Result<SessionView, EngineError> {
        self.admit_process()?;
        let max = self.shared.config.coordination.max_concurrent_coordinations;
        let open_now = &self.shared.live.sessions_open;
        if !LiveCounters::reserve(open_now, max) {
            self.release_processes(1);
            self.rec
                .record_rejection(crate::telemetry::RejectReason::Capacity);
            return Err(SessionError::TooManySessions { max }.into());
        }
        match open(&mut self.live.table) {
            Ok(v) => {
                self.rec.inc(Counter::SessionsOpened);
                self.rec.add_gauge(Gauge::SessionsOpen, 1);
                Ok(v)
            }
            Err(e) => {
                LiveCounters::release(open_now, 1);
                self.release_processes(1);
                self.rec
                    .record_rejection(crate::telemetry::RejectReason::Invalid);
                Err(e.into())
            }
        }
    }

    /// The per-tick session work: results in, timers, results out, slots back.
    pub(crate) fn session_tick(&mut self, tick_start: Instant) {
        let now = self.now_ms;
        let mut answers = Vec::new();
        while let Ok(batch) = self.live.done_rx.try_recv() {
            for done in batch {
                self.live.in_flight = self.live.in_flight.saturating_sub(1);
                self.rec
                    .set_gauge(Gauge::CoordinationInFlight, self.live.in_flight as i64);
                self.record_clearing(&done);
                answers.extend(self.live.table.complete(done, now));
            }
        }
        // Free the engine-wide slots before answering, so a caller that sees a
        // session finished can open another at once.
        self.settle_finished();
        for (view, waiters) in answers {
            for w in waiters {
                w.answer(view.clone());
            }
        }
        let cleanup = tick_start >= self.live.next_cleanup;
        if cleanup {
            self.live.next_cleanup =
                tick_start + self.shared.config.coordination.auction_cleanup_interval;
            self.live.table.sweep(now);
        } else {
            self.live.table.tick(now);
        }
        self.dispatch_clearings();
        self.settle_finished();
    }

    /// Releases the engine-wide slots of sessions that finished and counts them.
    fn settle_finished(&mut self) {
        let finished: Vec<Finished> = self.live.table.drain_finished().collect();
        if finished.is_empty() {
            return;
        }
        LiveCounters::release(&self.shared.live.sessions_open, finished.len());
        self.release_processes(finished.len());
        for f in finished {
            self.rec.add_gauge(Gauge::SessionsOpen, -1);
            self.rec.inc(match f.state {
                SessionState::Expired => Counter::SessionsExpired,
                SessionState::Cancelled => Counter::SessionsCancelled,
                _ => Counter::SessionsClosed,
            });
        }
    }

    /// Hands the due clearings to the pool as one batch, within the engine-wide
    /// in-flight limit; the rest wait for a later tick.
    fn dispatch_clearings(&mut self) {
        let waiting = self.live.table.jobs_waiting();
        if waiting == 0 {
            return;
        }
        let max = self.shared.config.concurrency.coordination_pool_size.max(1);
        let got = LiveCounters::reserve_up_to(&self.shared.live.clearings_in_flight, waiting, max);
        if got == 0 {
            return;
        }
        let jobs = self.live.table.take_jobs(got);
        self.live.in_flight += jobs.len();
        self.rec
            .set_gauge(Gauge::CoordinationInFlight, self.live.in_flight as i64);
        let shared = Arc::clone(&self.shared);
        let tx = self.live.done_tx.clone();
        let worker = self.index;
        self.shared.pool.spawn(move || {
            let n = jobs.len();
            let done: Vec<Done> = jobs.into_par_iter().map(|j| run_job(j, &shared)).collect();
            // The worker may be gone (hard stop): then nobody waits for these.
            let _ = tx.send(done);
            LiveCounters::release(&shared.live.clearings_in_flight, n);
            shared.inboxes[worker].wake();
        });
    }

    fn record_clearing(&mut self, done: &Done) {
        let switches = CoordinationSwitches::from_config(&self.shared.config);
        // Auction duration: from opening to clearing.
        let lived = Duration::from_millis(self.now_ms.saturating_sub(done.opened_at));
        self.rec.record_cleared(
            switches,
            Cleared {
                protocol: done.protocol,
                result: done.result.as_ref(),
                entries: done.entries,
                took: done.took,
                lived,
            },
        );
    }

    /// When the sessions next need the worker: a deadline, a call, the cleanup
    /// sweep, or soon when clearings wait for room on the pool.
    pub(crate) fn session_next_timer(&self, now: Instant) -> Instant {
        let mut at = self.live.next_cleanup;
        let due = self.live.table.next_due();
        if due != u64::MAX {
            let wait = due.saturating_sub(self.now_ms);
            at = at.min(now + Duration::from_millis(wait));
        }
        if self.live.table.jobs_waiting() > 0 {
            at = at.min(now + Duration::from_millis(1));
        }
        at
    }

    /// Shutdown: answers every caller still waiting on a clearing.
    pub(crate) fn fail_session_waiters(&mut self) {
        for w in self.live.table.take_all_waiters() {
            w.fail(EngineError::ShuttingDown);
        }
    }
}

fn answer_waited(r: Waited<Waiter>) {
    match r {
        Waited::Now(view, w) => w.answer(*view),
        Waited::Later => {}
        Waited::Refused(e, w) => w.fail(e.into()),
    }
}

fn run_job(j: Job, shared: &crate::runtime::shared::Shared) -> Done {
    let started = Instant::now();
    let protocol = j.request.protocol();
    let (result, carry) = catch_unwind(AssertUnwindSafe(|| clear_job(j.request, &shared.limits)))
        .unwrap_or_else(|_| {
            let e = CoordError::Pool {
                message: "the clearing panicked; this is a bug, please report it".into(),
            };
            (Err(e), Vec::new())
        });
    Done {
        session: j.session,
        id: j.id,
        protocol,
        result,
        carry,
        entries: j.entries,
        opened_at: j.opened_at,
        took: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::command::Command;

    #[test]
    fn session_commands_do_not_grow_the_inbox_slots() {
        // Inboxes are preallocated arrays of commands: the big session payloads
        // are boxed so the slot size stays that of the agent commands.
        let size = std::mem::size_of::<Command>();
        let register = std::mem::size_of::<crate::registry::AgentSpec>() + 16;
        eprintln!("Command: {size} bytes, AgentSpec + reply: {register}");
        assert!(size <= register.max(128), "{size}");
    }
}
