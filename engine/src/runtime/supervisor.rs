//! Restart decisions, as OTP supervisors make them.
//!
//! When an agent ends, its strategy says whether it comes back:
//!
//! | strategy    | crashed (panic, failed init) | exited normally | stopped by an operator |
//! |-------------|------------------------------|-----------------|------------------------|
//! | `permanent` | restart                      | restart         | stays stopped          |
//! | `transient` | restart                      | stays stopped   | stays stopped          |
//! | `temporary` | stays failed                 | stays stopped   | stays stopped          |
//!
//! Restarts are bounded by the agent's restart intensity: more than
//! `max_restarts` restarts within `max_seconds` and the supervisor gives up; the
//! agent stays failed and the give-up is counted and reported. `auto_restart =
//! false` in the profile turns every restart off.

use std::collections::VecDeque;

/// How an agent ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// It panicked in a callback, or its `init` failed.
    Crashed,
    /// It asked to stop (`AgentContext::stop`).
    Normal,
    /// An operator or the engine stopped it (stop, deregister, shutdown).
    Shutdown,
}

/// The supervisor's decision for one exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start a fresh instance now.
    Restart,
    /// Leave it down; its strategy does not restart on this kind of exit.
    StayDown,
    /// The restart intensity is exhausted: leave it failed and report it.
    GiveUp,
}

pub use crate::registry::RestartStrategy as Strategy;

/// Restart bookkeeping for one agent: the times of its recent restarts.
#[derive(Debug, Clone)]
pub struct RestartWindow {
    max_restarts: u32,
    window_ms: u64,
    recent: VecDeque<u64>,
}

impl RestartWindow {
    /// Allows at most `max_restarts` restarts within any `max_seconds`.
    pub fn new(max_restarts: u32, max_seconds: u32) -> Self {
        Self {
            max_restarts,
            window_ms: u64::from(max_seconds) * 1000,
            recent: VecDeque::with_capacity(max_restarts.min(64) as usize + 1),
        }
    }

    /// Decides what follows an exit at `now_ms`, and records the restart if the
    /// answer is [`Decision::Restart`].
    pub fn on_exit(
        &mut self,
        strategy: Strategy,
        reason: ExitReason,
        auto_restart: bool,
        now_ms: u64,
    ) -> Decision {
        let wants_restart = match (strategy, reason) {
            (_, ExitReason::Shutdown) => false,
            (Strategy::Temporary, _) => false,
            (Strategy::Transient, ExitReason::Normal) => false,
            (Strategy::Transient, ExitReason::Crashed) => true,
            (Strategy::Permanent, _) => true,
        };
        if !wants_restart || !auto_restart {
            return Decision::StayDown;
        }
        while let Some(&t) = self.recent.front() {
            if now_ms.saturating_sub(t) >= self.window_ms {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        if self.recent.len() >= self.max_restarts as usize {
            return Decision::GiveUp;
        }
        self.recent.push_back(now_ms);
        Decision::Restart
    }

    /// Restarts counted in the current window.
    pub fn recent(&self) -> usize {
        self.recent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;
    use ExitReason::*;
    use Strategy::*;

    #[test]
    fn the_strategy_table_holds() {
        let cases = [
            (Permanent, Crashed, Restart),
            (Permanent, Normal, Restart),
            (Permanent, Shutdown, StayDown),
            (Transient, Crashed, Restart),
            (Transient, Normal, StayDown),
            (Transient, Shutdown, StayDown),
            (Temporary, Crashed, StayDown),
            (Temporary, Normal, StayDown),
            (Temporary, Shutdown, StayDown),
        ];
        for (strategy, reason, want) in cases {
            let mut w = RestartWindow::new(3, 5);
            assert_eq!(
                w.on_exit(strategy, reason, true, 0),
                want,
                "{strategy:?} {reason:?}"
            );
        }
    }

    #[test]
    fn auto_restart_off_never_restarts() {
        let mut w = RestartWindow::new(3, 5);
        assert_eq!(w.on_exit(Permanent, Crashed, false, 0), StayDown);
    }

    #[test]
    fn intensity_gives_up_past_max_restarts_in_window() {
        let mut w = RestartWindow::new(3, 5);
        assert_eq!(w.on_exit(Permanent, Crashed, true, 0), Restart);
        assert_eq!(w.on_exit(Permanent, Crashed, true, 1000), Restart);
        assert_eq!(w.on_exit(Permanent, Crashed, true, 2000), Restart);
        assert_eq!(w.on_exit(Permanent, Crashed, true, 3000), GiveUp);
    }

    #[test]
    fn old_restarts_leave_the_window() {
        let mut w = RestartWindow::new(2, 5);
        assert_eq!(w.on_exit(Transient, Crashed, true, 0), Restart);
        assert_eq!(w.on_exit(Transient, Crashed, true, 1000), Restart);
        assert_eq!(w.on_exit(Transient, Crashed, true, 4999), GiveUp);
        // At 5000 ms the first restart (t=0) is out of the 5 s window.
        assert_eq!(w.on_exit(Transient, Crashed, true, 5000), Restart);
        assert_eq!(w.recent(), 2);
    }

    #[test]
    fn zero_max_restarts_never_restarts() {
        let mut w = RestartWindow::new(0, 5);
        assert_eq!(w.on_exit(Permanent, Crashed, true, 0), GiveUp);
    }
}
