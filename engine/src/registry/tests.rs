//! Unit tests of the registry as a whole (single thread; the concurrent tests are in
//! `engine/tests/registry_*.rs` and `engine/tests/loom_*.rs`).

use super::*;

fn setup(shards: usize, max: usize) -> (Registry, Vec<ShardWriter>) {
    Registry::new(shards, max).expect("valid config")
}

fn register(reg: &Registry, ws: &mut [ShardWriter], id: &str) -> Result<AgentRef, RegistryError> {
    ws[reg.shard_of(id)].register(AgentSpec::new(id, "worker"), 10)
}

#[test]
fn config_limits() {
    assert!(matches!(
        Registry::new(0, 10),
        Err(RegistryError::InvalidConfig { .. })
    ));
    assert!(matches!(
        Registry::new(1, 0),
        Err(RegistryError::InvalidConfig { .. })
    ));
    assert!(Registry::new(SHARDS_MAX + 1, 10).is_err());
    assert!(Registry::new(1, SLOTS_MAX + 1).is_err());
    let (reg, ws) = setup(3, 10);
    assert_eq!(ws.len(), 3);
    assert_eq!(reg.shards(), 3);
    assert!(ws.iter().enumerate().all(|(i, w)| w.shard() == i));
}

#[test]
fn register_get_deregister() {
    let (reg, mut ws) = setup(2, 10);
    let r = register(&reg, &mut ws, "a1").unwrap();
    assert_eq!(r.shard as usize, reg.shard_of("a1"));
    let rec = reg.get("a1").unwrap();
    assert_eq!(rec.id(), "a1");
    assert_eq!(rec.state, AgentState::Registered);
    assert_eq!(rec.health, Health::Unknown);
    assert_eq!(rec.registered_at_ms, 10);
    assert_eq!(rec.agent_ref, r);
    assert_eq!(reg.resolve("a1"), Some(r));
    assert_eq!(reg.get_ref(r).unwrap().id(), "a1");
    assert!(reg.contains("a1"));
    assert_eq!(reg.count(), 1);
    assert!(matches!(
        register(&reg, &mut ws, "a1"),
        Err(RegistryError::AlreadyExists { .. })
    ));
    let gone = ws[r.shard as usize].deregister("a1").unwrap();
    assert_eq!(gone.agent_ref, r);
    assert!(reg.get("a1").is_none());
    assert!(reg.get_ref(r).is_none());
    assert_eq!(reg.count(), 0);
    assert!(matches!(
        ws[r.shard as usize].deregister("a1"),
        Err(RegistryError::NotFound { .. })
    ));
}

#[test]
fn stale_ref_never_reaches_reused_slot() {
    let (reg, mut ws) = setup(1, 1);
    let a = register(&reg, &mut ws, "a").unwrap();
    ws[0].deregister("a").unwrap();
    let b = register(&reg, &mut ws, "b").unwrap();
    assert_eq!(a.slot, b.slot, "the only slot is reused");
    assert_ne!(a.generation, b.generation);
    assert!(reg.get_ref(a).is_none());
    assert_eq!(reg.get_ref(b).unwrap().id(), "b");
    // Re-registering the same id also gets a fresh handle.
    ws[0].deregister("b").unwrap();
    let b2 = register(&reg, &mut ws, "b").unwrap();
    assert!(reg.get_ref(b).is_none());
    assert_eq!(reg.get_ref(b2).unwrap().id(), "b");
    assert!(
        reg.get_ref(AgentRef {
            shard: 9,
            slot: 0,
            generation: 1
        })
        .is_none()
    );
    assert!(
        reg.get_ref(AgentRef {
            shard: 0,
            slot: 999,
            generation: 1
        })
        .is_none()
    );
}

#[test]
fn capacity_is_exact_and_disturbs_nothing() {
    let (reg, mut ws) = setup(4, 5);
    for i in 0..5 {
        register(&reg, &mut ws, &format!("a{i}")).unwrap();
    }
    let err = register(&reg, &mut ws, "extra").unwrap_err();
    assert_eq!(err, RegistryError::Capacity { max: 5 });
    assert_eq!(err.code(), "capacity");
    assert_eq!(reg.count(), 5);
    assert!(reg.get("extra").is_none());
    for i in 0..5 {
        assert!(reg.contains(&format!("a{i}")));
    }
    ws[reg.shard_of("a0")].deregister("a0").unwrap();
    register(&reg, &mut ws, "extra").unwrap();
}

#[test]
fn skewed_keys_fill_one_shard_to_the_total_limit() {
    let (reg, mut ws) = setup(4, 64);
    let ids: Vec<String> = (0..10_000)
        .map(|i| format!("k{i}"))
        .filter(|id| reg.shard_of(id) == 2)
        .take(65)
        .collect();
    for id in &ids[..64] {
        ws[2].register(AgentSpec::new(id.as_str(), "w"), 0).unwrap();
    }
    assert_eq!(ws[2].len(), 64);
    assert!(matches!(
        ws[2].register(AgentSpec::new(ids[64].as_str(), "w"), 0),
        Err(RegistryError::Capacity { max: 64 })
    ));
    for id in &ids[..64] {
        assert!(reg.contains(id), "{id}");
    }
}

#[test]
fn wrong_shard_is_refused() {
    let (reg, mut ws) = setup(2, 10);
    let other = 1 - reg.shard_of("a1");
    let err = ws[other]
        .register(AgentSpec::new("a1", "w"), 0)
        .unwrap_err();
    assert_eq!(err.code(), "wrong_shard");
    assert!(matches!(
        ws[other].deregister("a1"),
        Err(RegistryError::WrongShard { .. })
    ));
}

#[test]
fn invalid_specs_are_refused_before_anything_changes() {
    let (reg, mut ws) = setup(1, 10);
    let err = ws[0]
        .register(AgentSpec::new("bad id", "w"), 0)
        .unwrap_err();
    assert_eq!(err.code(), "invalid_agent");
    let err = ws[0].register(AgentSpec::new("ok", ""), 0).unwrap_err();
    assert_eq!(err.code(), "invalid_agent");
    assert_eq!(reg.count(), 0);
}

#[test]
fn lifecycle_and_counters() {
    let (reg, mut ws) = setup(1, 10);
    let w = &mut ws[0];
    w.register(AgentSpec::new("a", "w"), 0).unwrap();
    let err = w.transition("a", AgentState::Running, 1).unwrap_err();
    assert_eq!(
        err,
        RegistryError::InvalidTransition {
            id: "a".into(),
            from: AgentState::Registered,
            to: AgentState::Running
        }
    );
    assert_eq!(
        reg.get("a").unwrap().updated_at_ms,
        0,
        "a refused transition changes nothing"
    );
    for (t, s) in [
        AgentState::Starting,
        AgentState::Running,
        AgentState::Failed,
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(w.transition("a", s, t as u64 + 1).unwrap().state, s);
    }
    assert_eq!(w.record_failure("a", 7).unwrap(), 1);
    assert_eq!(w.record_restart("a", 8).unwrap(), 1);
    w.set_health("a", Health::Degraded).unwrap();
    assert_eq!(reg.with("a", |r| r.health), Some(Health::Degraded));
    let rec = reg.get("a").unwrap();
    assert_eq!(
        (
            rec.state,
            rec.failures,
            rec.restarts,
            rec.health,
            rec.updated_at_ms
        ),
        (AgentState::Failed, 1, 1, Health::Degraded, 8)
    );
    assert!(matches!(
        w.transition("zz", AgentState::Starting, 0),
        Err(RegistryError::NotFound { .. })
    ));
}

#[test]
fn update_is_checked() {
    let (reg, mut ws) = setup(1, 10);
    let w = &mut ws[0];
    w.register(AgentSpec::new("a", "w"), 0).unwrap();
    let n = w
        .update("a", |r| {
            r.restarts = 5;
            std::sync::Arc::make_mut(&mut r.spec)
                .metadata
                .insert("zone".into(), "eu".into());
            42
        })
        .unwrap();
    assert_eq!(n, 42);
    let rec = reg.get("a").unwrap();
    assert_eq!(rec.restarts, 5);
    assert_eq!(rec.spec.metadata["zone"], "eu");
    let bad_id = w.update("a", |r| {
        std::sync::Arc::make_mut(&mut r.spec).id = "b".into()
    });
    assert!(matches!(bad_id, Err(RegistryError::InvalidSpec { .. })));
    let bad_kind = w.update("a", |r| {
        std::sync::Arc::make_mut(&mut r.spec).kind = "no way".into()
    });
    assert!(matches!(bad_kind, Err(RegistryError::InvalidSpec { .. })));
    let bad_state = w.update("a", |r| r.state = AgentState::Running);
    assert!(matches!(
        bad_state,
        Err(RegistryError::InvalidTransition { .. })
    ));
    let bad_ref = w.update("a", |r| r.agent_ref.generation += 1);
    assert!(bad_ref.is_err());
    assert_eq!(
        reg.get("a").unwrap(),
        rec,
        "refused updates publish nothing"
    );
}

#[test]
fn list_filters_and_sorts() {
    let (reg, mut ws) = setup(3, 50);
    for i in (0..30).rev() {
        let id = format!("a{i:02}");
        let kind = if i % 2 == 0 { "even" } else { "odd" };
        let mut spec = AgentSpec::new(id.as_str(), kind);
        if i % 3 == 0 {
            spec = spec.with_capability("three");
        }
        ws[reg.shard_of(&id)].register(spec, 0).unwrap();
    }
    let all = reg.list(&AgentFilter::default());
    assert_eq!(all.len(), 30);
    assert!(all.windows(2).all(|w| w[0].id() < w[1].id()));
    let f = AgentFilter {
        kind: Some("even".into()),
        capability: Some("three".into()),
        state: None,
    };
    let ids: Vec<String> = reg.list(&f).iter().map(|r| r.id().to_owned()).collect();
    assert_eq!(ids, ["a00", "a06", "a12", "a18", "a24"]);
    ws[reg.shard_of("a06")]
        .transition("a06", AgentState::Starting, 1)
        .unwrap();
    let starting = AgentFilter {
        state: Some(AgentState::Starting),
        ..AgentFilter::default()
    };
    assert_eq!(reg.list(&starting).len(), 1);
}

#[test]
fn churn_keeps_index_small_and_backlog_drains() {
    let (reg, mut ws) = setup(1, 8);
    for round in 0..5_000 {
        let id = format!("c{}", round % 16);
        if reg.contains(&id) {
            ws[0].deregister(&id).unwrap();
        } else if reg.count() < 8 {
            ws[0]
                .register(AgentSpec::new(id.as_str(), "w"), round)
                .unwrap();
            ws[0].transition(&id, AgentState::Starting, round).unwrap();
        }
    }
    let guard = crate::sync::epoch::pin();
    assert!(reg.inner.shards[0].table.buckets(&guard) <= 32);
    drop(guard);
    // Other tests pin concurrently (and may be descheduled while pinned): allow time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while reg.retired_backlog() != 0 && std::time::Instant::now() < deadline {
        ws[0].flush();
        std::thread::yield_now();
    }
    assert_eq!(reg.retired_backlog(), 0);
}

#[test]
fn registry_handles_are_shareable() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    fn assert_send<T: Send>() {}
    assert_send_sync::<Registry>();
    assert_send::<ShardWriter>();
}

#[test]
fn status_follows_every_write_for_short_and_long_ids() {
    let (reg, mut ws) = setup(2, 200);
    let long = format!("agent-{}", "x".repeat(60));
    for id in [
        "a1",
        "exactly-forty-characters-long-agent-id-x",
        long.as_str(),
    ] {
        let r = register(&reg, &mut ws, id).unwrap();
        let w = &mut ws[r.shard as usize];
        let status = reg.status(id).unwrap();
        assert_eq!(status.agent_ref, r);
        assert_eq!(status.state, AgentState::Registered);
        assert_eq!(status.health, Health::Unknown);
        w.transition(id, AgentState::Starting, 11).unwrap();
        w.transition(id, AgentState::Running, 12).unwrap();
        w.set_health(id, Health::Degraded).unwrap();
        assert_eq!(w.record_restart(id, 13).unwrap(), 1);
        assert_eq!(w.record_failure(id, 13).unwrap(), 1);
        w.update(id, |rec| rec.failures = 7).unwrap();
        let status = reg.status(id).unwrap();
        assert_eq!(status, AgentStatus::of(&reg.get(id).unwrap()), "{id}");
        assert_eq!(status.state, AgentState::Running);
        assert_eq!(status.health, Health::Degraded);
        assert_eq!((status.restarts, status.failures), (1, 7));
        assert_eq!(reg.status_ref(r), Some(status));
        // A refused write changes nothing.
        assert!(w.transition(id, AgentState::Registered, 14).is_err());
        assert_eq!(reg.status(id), Some(status));
        w.deregister(id).unwrap();
        assert_eq!(reg.status(id), None);
        assert_eq!(reg.status_ref(r), None);
        assert!(!reg.contains(id));
        // The slot is reused: the old handle stays stale.
        let again = register(&reg, &mut ws, id).unwrap();
        assert_ne!(again, r);
        assert_eq!(reg.status_ref(r), None);
        assert_eq!(
            reg.status_ref(again).map(|s| s.state),
            Some(AgentState::Registered)
        );
    }
    // Handles that were never issued find nothing.
    for bad in [
        AgentRef {
            shard: 9,
            slot: 0,
            generation: 1,
        },
        AgentRef {
            shard: 0,
            slot: 10_000,
            generation: 1,
        },
        AgentRef {
            shard: 0,
            slot: 0,
            generation: 99,
        },
    ] {
        assert_eq!(reg.status_ref(bad), None, "{bad}");
    }
}

#[test]
fn status_of_many_agents_after_churn() {
    // Enough agents that probe chains form and deletions shift them.
    let (reg, mut ws) = setup(1, 1_000);
    for n in 0..1_000 {
        register(&reg, &mut ws, &format!("agent-{n}")).unwrap();
    }
    for n in (0..1_000).step_by(3) {
        ws[0].deregister(&format!("agent-{n}")).unwrap();
    }
    for n in 0..1_000 {
        let id = format!("agent-{n}");
        assert_eq!(reg.status(&id).is_some(), n % 3 != 0, "{id}");
        assert_eq!(
            reg.status(&id).map(|s| s.agent_ref),
            reg.with(&id, |rec| rec.agent_ref)
        );
    }
    assert!(reg.status("agent-1000").is_none());
}

#[test]
fn status_of_a_shard_far_past_its_share_falls_back_and_stays_exact() {
    // 4 shards of 64: each expects 16 agents (32 lines, 24 mirrored); put all 64 in one.
    let (reg, mut ws) = setup(4, 64);
    let ids: Vec<String> = (0..10_000)
        .map(|n| format!("skew-{n}"))
        .filter(|id| reg.shard_of(id) == 0)
        .take(64)
        .collect();
    assert_eq!(ids.len(), 64);
    let refs: Vec<AgentRef> = ids
        .iter()
        .map(|id| register(&reg, &mut ws, id).unwrap())
        .collect();
    for (id, r) in ids.iter().zip(&refs) {
        assert_eq!(reg.status(id).map(|s| s.agent_ref), Some(*r), "{id}");
        assert_eq!(reg.status_ref(*r).map(|s| s.agent_ref), Some(*r));
    }
    assert!(reg.status("skew-absent").is_none());
    for id in ids.iter().step_by(2) {
        ws[0].record_restart(id, 20).unwrap();
    }
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(
            reg.status(id).map(|s| s.restarts),
            Some(u32::from(n % 2 == 0))
        );
    }
    for id in &ids[..40] {
        ws[0].deregister(id).unwrap();
    }
    for (n, (id, r)) in ids.iter().zip(&refs).enumerate() {
        assert_eq!(reg.status(id).is_some(), n >= 40, "{id}");
        assert_eq!(reg.status_ref(*r).is_some(), n >= 40, "{id}");
    }
}
