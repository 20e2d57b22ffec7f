//! Budgets pass and fail as they should, through the real binary: exit 0 when every
//! budget is met, 1 on a breach, 2 for an invalid run, 3 for nonsense refused before any
//! load starts.

mod common;

use std::sync::atomic::Ordering;

#[test]
fn budgets_met_exit_0() {
    let s = common::start(0);
    let (code, out, err) = common::load(&[
        "-t",
        "1",
        "-c",
        "2",
        "-d",
        "1s",
        "-R",
        "200",
        "--slo",
        "p50=1s,p99=2s,errors=1%",
        &s.url("/"),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("Verdict: PASS"), "{out}");
}

#[test]
fn latency_breach_exit_1() {
    let s = common::start(0);
    let (code, out, err) = common::load(&[
        "-t",
        "1",
        "-c",
        "4",
        "-d",
        "1s",
        "-R",
        "100",
        "--slo",
        "p50=1ms",
        &s.url("/slow"),
    ]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("[FAIL]") && out.contains("p50"), "{out}");
}

#[test]
fn error_budget_breach_exit_1() {
    let s = common::start(0);
    let (code, out, err) = common::load(&[
        "-t",
        "1",
        "-c",
        "2",
        "-d",
        "1s",
        "-R",
        "100",
        "--slo",
        "errors=0.1%",
        &s.url("/fail"),
    ]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("unexpected status"), "{out}");
}

#[test]
fn too_few_samples_is_invalid_exit_2() {
    let s = common::start(0);
    // 100 requests cannot judge a p99.9 (1000 needed).
    let (code, out, err) = common::load(&[
        "-t",
        "1",
        "-c",
        "2",
        "-d",
        "1s",
        "-R",
        "100",
        "--slo",
        "p999=1s",
        &s.url("/"),
    ]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("1000 needed"), "{out}");
}

#[test]
fn rate_not_reached_is_invalid_exit_2() {
    let s = common::start(0);
    // Two connections to a 20 ms endpoint top out near 100/s; 1000/s is asked.
    let (code, out, err) = common::load(&[
        "-t",
        "1",
        "-c",
        "2",
        "-d",
        "1s",
        "-R",
        "1000",
        "--timeout",
        "500ms",
        &s.url("/slow"),
    ]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("achieved") && out.contains("invalid"), "{out}");
}

#[test]
fn profile_budgets_gc_pause_breach_and_backlog() {
    let s = common::start(0);
    let dir = common::tempdir("profile");
    let profile = dir.join("p.toml");
    std::fs::write(
        &profile,
        "[budgets]\nlatency_p50_ms = 1000\nlatency_p99_ms = 2000\nlatency_p999_ms = 3000\nerror_rate = 0.01\ngc_pause_p99_ms = 5\ngc_pause_max_ms = 20\n",
    )
    .unwrap();
    let json = dir.join("r.json");
    let args = [
        "-t",
        "1",
        "-c",
        "2",
        "-d",
        "1s",
        "-R",
        "1000",
        "--drain-wait",
        "2s",
        "--profile",
        profile.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ];
    // Sweeps of 1 ms and a backlog that drains: every budget met.
    s.knobs.sweep_pause_us.store(800, Ordering::Relaxed);
    let url = s.url("/");
    let mut a: Vec<&str> = args.to_vec();
    a.push(&url);
    let (code, out, err) = common::load(&a);
    assert_eq!(code, 0, "{out}\n{err}");
    let v = common::json(&json);
    let checks = v["checks"].as_array().unwrap();
    let find = |name: &str| {
        checks
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(find("gc_pause_p99")["status"], "pass", "{out}");
    assert_eq!(find("reclaim_backlog_drained")["status"], "pass", "{out}");
    assert_eq!(find("memory_growth")["status"], "pass", "{out}");

    // Sweeps of 40 ms: over the p99 and max budgets.
    s.knobs.sweep_pause_us.store(40_000, Ordering::Relaxed);
    let (code, out, _) = common::load(&a);
    assert_eq!(code, 1, "{out}");
    let v = common::json(&json);
    let checks = v["checks"].as_array().unwrap();
    let find = |name: &str| {
        checks
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(find("gc_pause_p99")["status"], "fail", "{out}");
    assert_eq!(find("gc_pause_max")["status"], "fail", "{out}");

    // A backlog that never drains.
    s.knobs.sweep_pause_us.store(800, Ordering::Relaxed);
    s.knobs.backlog_drains.store(false, Ordering::Relaxed);
    let (code, out, _) = common::load(&a);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[FAIL]") && out.contains("reclaim_backlog_drained"),
        "{out}"
    );
}

#[test]
fn nonsense_is_refused_before_any_load_exit_3() {
    let s = common::start(0);
    let url = s.url("/");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        drop(l);
        format!("http://{a}/")
    };
    let dir = common::tempdir("refuse");
    let trace = dir.join("t.jsonl");
    std::fs::write(&trace, "{\"offset_ms\":0,\"path\":\"/\"}\n").unwrap();
    let mix = dir.join("m.toml");
    std::fs::write(&mix, "[[entry]]\nname = \"a\"\npath = \"/\"\n").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["-t", "4", "-R", "2", &url], "below the 4 threads"),
        (vec!["-t", "4", "-c", "2", &url], "-c"),
        (vec!["-d", "0s", &url], "duration is zero"),
        (vec!["-d", "ten", &url], "not a duration"),
        (vec![&closed], "unreachable"),
        (vec!["--slo", "p99=fast", &url], "--slo"),
        (vec!["--slo", "p100=1ms", &url], "--slo"),
        (vec!["--slo", "q=1", &url], "--slo"),
        (vec!["--schedule", "zigzag", &url], "unknown schedule"),
        (vec!["--schedule", "ramp:0-1", "-t", "2", &url], "peak rate"),
        (vec!["--pipeline", "0", &url], "--pipeline"),
        (vec!["--timeout", "0ms", &url], "--timeout"),
        (vec!["-H", "NoColon", &url], "-H"),
        (vec!["--rate=-5", &url], "-R"),
        (
            vec!["--speed", "0", "--replay", trace.to_str().unwrap(), &url],
            "--speed",
        ),
        (
            vec![
                "--mix",
                mix.to_str().unwrap(),
                "--replay",
                trace.to_str().unwrap(),
                &url,
            ],
            "choose one",
        ),
        (vec![], "no target"),
        (vec!["--embedded", &url], "choose one target"),
        (vec!["--rate-tolerance", "lots", &url], "--rate-tolerance"),
        (vec!["--mix", "/nonexistent/mix.toml", &url], "cannot read"),
        (vec!["ftp://127.0.0.1/"], "http://"),
        (vec!["--target-pid", "999999999", &url], "--target-pid"),
        (vec!["--bogus-flag", &url], "bogus"),
    ];
    for (args, needle) in cases {
        let (code, out, err) = common::load(&args);
        assert_eq!(code, 3, "{args:?} not refused: {out}\n{err}");
        assert!(
            err.contains(needle),
            "{args:?}: message {err:?} lacks {needle:?}"
        );
    }
    assert_eq!(s.served(), 0, "a refused run sent requests");
}

#[test]
fn timeouts_are_counted_and_breach_the_error_budget() {
    let s = common::start(0);
    let dir = common::tempdir("timeout");
    let json = dir.join("r.json");
    // /slow answers in 20 ms; a 5 ms timeout fails every request.
    let (code, out, err) = common::load(&[
        "-t",
        "1",
        "-c",
        "2",
        "-d",
        "1s",
        "-R",
        "50",
        "--timeout",
        "5ms",
        "--slo",
        "errors=1%",
        "--json",
        json.to_str().unwrap(),
        &s.url("/slow"),
    ]);
    assert_eq!(code, 1, "{out}\n{err}");
    let v = common::json(&json);
    assert!(v["requests"]["timeouts"].as_u64().unwrap() >= 40, "{out}");
    // Against /, answered in well under a second, the same timeout never fires.
    let (code, out, _) = common::load(&[
        "-t",
        "1",
        "-c",
        "2",
        "-d",
        "1s",
        "-R",
        "50",
        "--timeout",
        "1s",
        "--slo",
        "errors=0%",
        "--json",
        json.to_str().unwrap(),
        &s.url("/"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(common::json(&json)["requests"]["timeouts"], 0);
}
