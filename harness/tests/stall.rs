//! Coordinated omission: a server that stalls 200 ms every second. The open loop
//! (latency from the intended start) shows the stall at p99; a closed loop hides it.

mod common;

#[test]
fn open_loop_sees_the_stall_closed_loop_hides_it() {
    let server = common::start(200);
    let dir = common::tempdir("stall");
    let open = dir.join("open.json");
    let closed = dir.join("closed.json");
    let url = server.url("/stall");

    let (code, out, err) = common::load(&[
        "-t",
        "1",
        "-c",
        "8",
        "-d",
        "3s",
        "-R",
        "400",
        "--json",
        open.to_str().unwrap(),
        &url,
    ]);
    assert!(code == 0, "open loop run failed ({code}): {out}\n{err}");
    let (code, out, err) = common::load(&[
        "-t",
        "1",
        "-c",
        "8",
        "-d",
        "3s",
        "-R",
        "0",
        "--json",
        closed.to_str().unwrap(),
        &url,
    ]);
    assert!(code == 0, "closed loop run failed ({code}): {out}\n{err}");
    assert!(out.contains("BIASED by coordinated omission"), "{out}");

    let open = common::json(&open);
    let closed = common::json(&closed);
    assert_eq!(open["mode"], "open");
    assert_eq!(closed["mode"], "closed");
    assert_eq!(closed["coordinated_omission"], "biased (closed loop)");
    let open_p99 = open["latency_us"]["p99"].as_u64().unwrap();
    let closed_p99 = closed["latency_us"]["p99"].as_u64().unwrap();
    let closed_max = closed["latency_us"]["max"].as_u64().unwrap();
    eprintln!("open p99 {open_p99} us, closed p99 {closed_p99} us, closed max {closed_max} us");
    // 20% of the time is stalled: open-loop requests meant to start in a stall wait
    // up to 200 ms, so p99 is far into it.
    assert!(
        open_p99 >= 100_000,
        "open p99 {open_p99} us should show the 200 ms stall"
    );
    // The closed loop saw the stall (its max) but its p99 does not show it.
    assert!(closed_max >= 100_000, "closed max {closed_max}");
    assert!(
        closed_p99 * 2 < open_p99,
        "closed p99 {closed_p99} us hides the stall"
    );
    // The service time of the open loop does not show it as plainly as its latency.
    let open_service_p90 = open["service_us"]["p90"].as_u64().unwrap();
    assert!(open["latency_us"]["p90"].as_u64().unwrap() >= open_service_p90);
}
