//! Lifecycle states and health.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an agent is in its lifecycle.
///
/// ```text
/// registered --> starting --> running --> stopping --> stopped
///     |             |  \         |           |            |
///     |             |   '--> stopping        |            '--> starting (start again)
///     '--> stopped  '--> failed <------------'
///                         |  (running also fails)
///                         '--> starting (restart) | stopped
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Known to the registry, never started.
    Registered,
    /// Being started by its worker.
    Starting,
    /// Running.
    Running,
    /// Being stopped.
    Stopping,
    /// Stopped cleanly; may be started again.
    Stopped,
    /// Crashed or failed to start; the supervisor may restart it.
    Failed,
}

impl AgentState {
    /// Every state, in lifecycle order.
    pub const ALL: [AgentState; 6] = [
        Self::Registered,
        Self::Starting,
        Self::Running,
        Self::Stopping,
        Self::Stopped,
        Self::Failed,
    ];

    /// The states this one may move to (never itself).
    pub fn successors(self) -> &'static [AgentState] {
        use AgentState::*;
        match self {
            Registered => &[Starting, Stopped],
            Starting => &[Running, Stopping, Failed],
            Running => &[Stopping, Failed],
            Stopping => &[Stopped, Failed],
            Stopped => &[Starting],
            Failed => &[Starting, Stopped],
        }
    }

    /// Whether the lifecycle allows moving from `self` to `to`.
    pub fn can_transition_to(self, to: AgentState) -> bool {
        self.successors().contains(&to)
    }

    /// The snake_case name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn allowed_list(self) -> String {
        let names: Vec<&str> = self.successors().iter().map(|s| s.as_str()).collect();
        names.join(", ")
    }
}

impl fmt::Display for AgentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An agent's health as last reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Working normally.
    Healthy,
    /// Working with problems.
    Degraded,
    /// Not working.
    Unhealthy,
    /// Not reported yet.
    #[default]
    Unknown,
}

impl Health {
    /// Every health, in declaration order.
    pub const ALL: [Health; 4] = [
        Self::Healthy,
        Self::Degraded,
        Self::Unhealthy,
        Self::Unknown,
    ];

    /// The snake_case name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        use AgentState::*;
        assert!(Registered.can_transition_to(Starting));
        assert!(Starting.can_transition_to(Running));
        assert!(Running.can_transition_to(Stopping));
        assert!(Stopping.can_transition_to(Stopped));
        assert!(Stopped.can_transition_to(Starting));
        assert!(Failed.can_transition_to(Starting));
        assert!(Running.can_transition_to(Failed));
        assert!(!Registered.can_transition_to(Running));
        assert!(!Stopped.can_transition_to(Running));
        for s in AgentState::ALL {
            assert!(!s.can_transition_to(s), "{s} -> {s}");
            assert!(!s.can_transition_to(Registered));
        }
    }

    #[test]
    fn all_lists_follow_declaration_order() {
        // The status mirror stores `as u8` and reads back through `ALL`.
        for (i, s) in AgentState::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
        }
        for (i, h) in Health::ALL.iter().enumerate() {
            assert_eq!(*h as usize, i);
        }
    }

    #[test]
    fn serde_names() {
        for s in AgentState::ALL {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<AgentState>(&json).unwrap(), s);
        }
        assert_eq!(
            serde_json::to_string(&Health::Healthy).unwrap(),
            "\"healthy\""
        );
        assert_eq!(Health::default(), Health::Unknown);
    }
}
