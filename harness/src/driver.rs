//! Load threads: one current-thread tokio runtime each, its share of the connections,
//! and a ticker that hands the thread's interval to the collector once a second.

use crate::conn::{Plan, PlanTarget, ThreadRec, run_embedded, run_http};
use crate::record::Interval;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;
use tokio::sync::Notify;

/// A running load thread's channels.
#[derive(Debug)]
pub struct ThreadLink {
    /// Where the collector returns emptied intervals.
    pub recycle: Sender<Interval>,
    /// The thread.
    pub join: std::thread::JoinHandle<()>,
}

/// Starts thread `index` of `threads`; it sends intervals to `out`.
pub fn spawn(
    plan: Arc<Plan>,
    index: usize,
    threads: usize,
    entries: usize,
    out: Sender<Interval>,
) -> std::io::Result<ThreadLink> {
    let (recycle, spares) = std::sync::mpsc::channel::<Interval>();
    let join = std::thread::Builder::new()
        .name(format!("mabeam-load-{index}"))
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("mabeam-load: thread {index}: cannot start a runtime: {e}");
                    let mut last = Interval::new(entries);
                    last.thread = index;
                    last.last = true;
                    let _ = out.send(last);
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, thread_main(plan, index, threads, entries, out, spares));
        })?;
    Ok(ThreadLink { recycle, join })
}

async fn thread_main(
    plan: Arc<Plan>,
    index: usize,
    threads: usize,
    entries: usize,
    out: Sender<Interval>,
    spares: Receiver<Interval>,
) {
    let mut first = Interval::new(entries);
    first.thread = index;
    let rec = Rc::new(ThreadRec {
        interval: RefCell::new(first),
    });
    let live = Rc::new(Cell::new(0usize));
    let done = Rc::new(Notify::new());
    for conn in (index..plan.connections).step_by(threads) {
        let (plan, rec, live, done) = (
            Arc::clone(&plan),
            Rc::clone(&rec),
            Rc::clone(&live),
            Rc::clone(&done),
        );
        live.set(live.get() + 1);
        tokio::task::spawn_local(async move {
            match &plan.target {
                PlanTarget::Http(t) => run_http(&plan, t, &rec, conn).await,
                PlanTarget::Embedded(h) => run_embedded(&plan, h, &rec, conn).await,
            }
            live.set(live.get() - 1);
            if live.get() == 0 {
                done.notify_one();
            }
        });
    }
    let mut k: u32 = 1;
    loop {
        let tick = plan.measure_start + Duration::from_secs(k as u64);
        let finished = if live.get() == 0 {
            true
        } else {
            tokio::select! {
                _ = tokio::time::sleep_until(tick.into()) => false,
                _ = done.notified() => true,
            }
        };
        let spare = spares.try_recv().unwrap_or_else(|_| Interval::new(entries));
        let mut full = rec.interval.replace(spare);
        full.thread = index;
        full.second = (k - 1) as u64;
        full.last = finished;
        rec.interval.borrow_mut().thread = index;
        if out.send(full).is_err() || finished {
            return;
        }
        k += 1;
    }
}
