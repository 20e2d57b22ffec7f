//! Outputs are produced and well formed; replay, pipelining and schedules work through
//! the binary; the harness's memory stays flat while it sends.

mod common;

#[test]
fn json_hgrm_svg_html_are_well_formed() {
    let s = common::start(0);
    let dir = common::tempdir("outputs");
    let (json, hgrm, svg, html) = (
        dir.join("r.json"),
        dir.join("r.hgrm"),
        dir.join("r.svg"),
        dir.join("r.html"),
    );
    let (code, out, err) = common::load(&[
        "-t",
        "1",
        "-c",
        "4",
        "-d",
        "2s",
        "-R",
        "600",
        "--latency",
        "--json",
        json.to_str().unwrap(),
        "--hgrm",
        hgrm.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--slo",
        "p99=1s",
        &s.url("/"),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Requests/sec:") && out.contains("Detailed percentile spectrum"),
        "{out}"
    );

    let v = common::json(&json);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["exit_code"], 0);
    let achieved = v["achieved_rps"].as_f64().unwrap();
    assert!((570.0..=630.0).contains(&achieved), "{achieved}");
    assert_eq!(v["requests"]["total"], 1200);
    for k in ["p50", "p75", "p90", "p99", "p99_9", "p99_99", "max"] {
        assert!(v["latency_us"][k].as_u64().is_some(), "{k}");
    }
    let series = v["series"].as_array().unwrap();
    assert!(series.len() >= 2, "{series:?}");
    assert!(
        series
            .iter()
            .take(2)
            .all(|p| p["requests"].as_u64().unwrap() > 400),
        "{series:?}"
    );

    let text = std::fs::read_to_string(&hgrm).unwrap();
    assert!(text.trim_start().starts_with("Value"), "{text}");
    assert!(text.contains("1/(1-Percentile)") && text.contains("#[Mean    ="));
    let rows = mabeam_harness::report::hgrm::parse_rows(&text);
    assert_eq!(rows.last().unwrap().2, 1200);
    assert!(
        rows.windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1)
    );

    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(
        plot.contains("<svg") && plot.trim_end().ends_with("</svg>"),
        "svg"
    );
    assert!(plot.contains("Latency by percentile") && plot.contains("Throughput per second"));

    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    assert_eq!(page.matches("<svg").count(), 2, "two inline plots");
    assert!(page.contains("Budgets (SLO)") && page.contains("p99"));
    for external in ["src=\"http", "href=\"http", "<script src", "<link"] {
        assert!(!page.contains(external), "external asset {external}");
    }
}

#[test]
fn replay_follows_the_trace_at_speed() {
    let s = common::start(0);
    let dir = common::tempdir("replay");
    let trace = dir.join("t.jsonl");
    let mut lines = String::new();
    for i in 0..300 {
        lines.push_str(&format!(
            "{{\"offset_ms\":{},\"method\":\"GET\",\"path\":\"/r{}\"}}\n",
            i * 4,
            i
        ));
    }
    std::fs::write(&trace, lines).unwrap();
    let json = dir.join("r.json");
    let started = std::time::Instant::now();
    // 1.2 s of trace at 2x: about 0.6 s; without -d the whole trace is the window.
    let (code, out, err) = common::load(&[
        "--replay",
        trace.to_str().unwrap(),
        "--speed",
        "2",
        "-t",
        "1",
        "-c",
        "3",
        "--json",
        json.to_str().unwrap(),
        &s.url("/"),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let v = common::json(&json);
    assert_eq!(v["requests"]["ok"], 300, "{out}");
    assert_eq!(s.served(), 300);
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
}

#[test]
fn pipelined_closed_loop() {
    let s = common::start(0);
    let dir = common::tempdir("pipeline");
    let json = dir.join("r.json");
    let (code, out, err) = common::load(&[
        "-t",
        "1",
        "-c",
        "2",
        "--pipeline",
        "8",
        "-R",
        "0",
        "-d",
        "1s",
        "--json",
        json.to_str().unwrap(),
        &s.url("/"),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let v = common::json(&json);
    assert_eq!(v["requests"]["errors"], 0, "{out}");
    assert!(v["requests"]["ok"].as_u64().unwrap() > 500, "{out}");
    assert_eq!(v["pipeline"], 8);
    // Every answered request was served (no answer matched to the wrong request).
    assert!(s.served() >= v["requests"]["ok"].as_u64().unwrap());
}

#[test]
fn ramp_schedule_offers_the_integral() {
    let s = common::start(0);
    let dir = common::tempdir("ramp");
    let json = dir.join("r.json");
    // 100 -> 500 req/s over 2 s: 600 requests.
    let (code, out, err) = common::load(&[
        "-t",
        "1",
        "-c",
        "4",
        "--schedule",
        "ramp:100-500",
        "-d",
        "2s",
        "--json",
        json.to_str().unwrap(),
        &s.url("/"),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let v = common::json(&json);
    let total = v["requests"]["total"].as_u64().unwrap();
    assert!((590..=600).contains(&total), "{total}");
    let series = v["series"].as_array().unwrap();
    let first = series[0]["requests"].as_u64().unwrap();
    let second = series[1]["requests"].as_u64().unwrap();
    assert!(second > first + 100, "ramp: {first} then {second}");
}

#[test]
fn harness_memory_stays_flat() {
    let s = common::start(0);
    let dir = common::tempdir("memory");
    let json = dir.join("r.json");
    let (code, out, err) = common::load(&[
        "-t",
        "2",
        "-c",
        "8",
        "-R",
        "0",
        "-d",
        "3s",
        "--json",
        json.to_str().unwrap(),
        &s.url("/"),
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    let v = common::json(&json);
    let rss: Vec<u64> = v["harness_rss_bytes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    assert!(rss.len() >= 3, "{rss:?}");
    let requests = v["requests"]["total"].as_u64().unwrap();
    assert!(requests > 3000, "{requests}");
    // After the first second (histograms and buffers allocated), RSS does not grow
    // with the number of requests sent.
    let growth = rss.last().unwrap().saturating_sub(rss[1]);
    assert!(
        growth < 2 << 20,
        "harness RSS grew {growth} bytes over {requests} requests: {rss:?}"
    );
}
