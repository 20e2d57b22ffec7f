//! `performance.process_limit` through the embedding API: a hard cap on live agents plus
//! live sessions however many threads register at once.

use mabeam_engine::api::Engine;
use mabeam_engine::api::ErrorClass;
use mabeam_engine::coord::AuctionType;
use mabeam_engine::profile::Config;
use mabeam_engine::registry::AgentSpec;
use mabeam_engine::session::OpenAuction;
use std::sync::Arc;

fn config(process_limit: usize) -> Config {
    let mut c = Config::test_min();
    c.engine.workers = 2;
    c.agent_registry.max_agents = 64;
    c.concurrency.max_agents_per_node = 64;
    c.performance.memory_limit_mb = 1_048_576;
    c.performance.process_limit = process_limit;
    c
}

#[test]
fn concurrent_registrations_never_pass_the_process_limit() {
    let engine = Engine::start(config(5)).unwrap();
    let h = Arc::new(engine.handle());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let h = Arc::clone(&h);
            std::thread::spawn(move || {
                (0..10)
                    .map(|i| h.register(AgentSpec::new(format!("a{t}-{i}"), "k")).wait())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<_> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 5);
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(
            (e.code(), e.class()),
            ("process_limit", ErrorClass::Overloaded)
        );
        assert!(e.is_retryable());
    }
    assert_eq!(h.agent_count(), 5);
    // Sessions share the same cap.
    let e = h
        .open_auction(OpenAuction::new(AuctionType::FirstPrice))
        .wait()
        .unwrap_err();
    assert_eq!(e.code(), "process_limit");
    let first = h.agents(&Default::default())[0].id().to_owned();
    h.deregister(&first).wait().unwrap();
    assert!(
        h.open_auction(OpenAuction::new(AuctionType::FirstPrice))
            .wait()
            .is_ok()
    );
}
