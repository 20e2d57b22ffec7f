//! Start-up: `mabeam check-profile` runs the checks `mabeam serve` runs before it starts
//! (directories and files it writes, TLS material, the listen address), so a profile that
//! passes the check starts, and one that fails it fails `serve` with the same key named.

mod http_support;

use http_support::{TempDir, request};
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn prod_profile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/prod.toml")
}

/// `mabeam ARGS` in `dir` with `env`, one worker, output piped.
fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mabeam"));
    cmd.args(args)
        .current_dir(dir)
        .env("MABEAM_LOG", "warn")
        .env("MABEAM_ENGINE__WORKERS", "1")
        .env("MABEAM_ENGINE__PIN_WORKERS", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `mabeam ARGS` in `dir` with `env` (at most 20 s) and returns what it printed.
fn mabeam_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut child = command(dir, args, env).spawn().expect("spawn mabeam");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "mabeam {args:?} still running after 20 s: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn prod_profile_on_a_fresh_machine_check_profile_passes_and_serve_creates_the_audit_directory() {
    // A fresh working directory, the shipped profile as it is.
    let tmp = TempDir::new("fresh");
    let logs = tmp.path("logs");
    let env = [("MABEAM_SERVER__LISTEN", "127.0.0.1:0")];
    let profile = prod_profile();
    let profile = profile.to_str().unwrap();
    let check = mabeam_in(&tmp.0, &["check-profile", profile], &env);
    let stdout = text(&check.stdout);
    assert!(
        check.status.success(),
        "check-profile: {}{stdout}",
        text(&check.stderr)
    );
    assert!(
        stdout.contains("serve will create logs (mode 0750) for security.audit_path"),
        "{stdout}"
    );
    assert!(stdout.contains("start-up: ok"), "{stdout}");
    assert!(!logs.exists(), "check-profile must not create anything");

    // serve with the same profile, environment and directory starts, creating `logs`.
    let mut child = command(&tmp.0, &["serve", "--profile", profile], &env)
        .spawn()
        .expect("spawn mabeam serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut listening = None;
    for line in stdout.by_ref() {
        let line = line.expect("stdout line");
        if let Some(a) = line.strip_prefix("listening on ") {
            listening = Some(a.trim().parse::<SocketAddr>().expect("address"));
            break;
        }
    }
    let Some(addr) = listening else {
        let out = child.wait_with_output().expect("output");
        panic!("serve did not start: {}", text(&out.stderr));
    };
    let mode = std::fs::metadata(&logs)
        .expect("created")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode & !0o750, 0, "mode {mode:o} is wider than 0750");
    assert_eq!(mode & 0o700, 0o700, "mode {mode:o}");
    assert!(
        logs.join("audit.log").exists(),
        "the audit log was not opened"
    );
    let health = request(addr, "GET", "/health", &[], None).expect("GET /health");
    assert_eq!(health.status, 200);
    // The prod profile turns auth on: an unauthenticated write is refused.
    let write = request(
        addr,
        "POST",
        "/api/agents",
        &[("content-type", "application/json")],
        Some(br#"{"id":"a","kind":"k"}"#),
    )
    .expect("POST /api/agents");
    assert_eq!(write.status, 401);
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(term.success());
    // Keep reading: the server prints its shutdown line on the way out.
    let rest = std::thread::spawn(move || stdout.map_while(Result::ok).collect::<Vec<_>>());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("serve did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let rest = rest.join().expect("reader");
    assert!(rest.iter().any(|l| l.starts_with("shutdown: ")), "{rest:?}");
}

/// Each problem: the environment that causes it and the key both commands must name.
#[test]
fn check_profile_and_serve_refuse_the_same_problems_naming_the_key() {
    let tmp = TempDir::new("refuse");
    let file = tmp.path("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let through_file = file.join("logs/audit.log").display().to_string();
    let a_dir = tmp.path("a-dir");
    std::fs::create_dir(&a_dir).unwrap();
    let audit_in_dir = a_dir.join("audit.log").display().to_string();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let missing = tmp.path("missing.pem").display().to_string();
    let free = "127.0.0.1:0";

    type Env<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Env<'_>, &str)> = vec![
        (
            "audit log under a regular file",
            vec![
                ("MABEAM_SECURITY__AUDIT_PATH", through_file.as_str()),
                ("MABEAM_SERVER__LISTEN", free),
            ],
            "security.audit_path",
        ),
        (
            "audit log path is a directory",
            vec![
                ("MABEAM_SECURITY__AUDIT_PATH", a_dir.to_str().unwrap()),
                ("MABEAM_SERVER__LISTEN", free),
            ],
            "security.audit_path",
        ),
        (
            "TLS material missing",
            vec![
                ("MABEAM_SECURITY__AUDIT_PATH", audit_in_dir.as_str()),
                ("MABEAM_SECURITY__TLS_CERT_PATH", missing.as_str()),
                ("MABEAM_SECURITY__TLS_KEY_PATH", missing.as_str()),
                ("MABEAM_SERVER__LISTEN", free),
            ],
            "security.tls_cert_path",
        ),
        (
            "listen address taken",
            vec![
                ("MABEAM_SECURITY__AUDIT_PATH", audit_in_dir.as_str()),
                ("MABEAM_SERVER__LISTEN", taken_addr.as_str()),
            ],
            "server.listen",
        ),
    ];
    let profile = prod_profile();
    let profile = profile.to_str().unwrap();
    for (what, env, key) in &cases {
        let check = mabeam_in(&tmp.0, &["check-profile", profile], env);
        let err = text(&check.stderr);
        assert_eq!(check.status.code(), Some(1), "{what}: check-profile: {err}");
        assert!(
            err.contains(&format!("serve would not start: {key}:")) && err.contains("fix:"),
            "{what}: {err}"
        );
        let serve = mabeam_in(&tmp.0, &["serve", "--profile", profile], env);
        let err = text(&serve.stderr);
        assert_eq!(serve.status.code(), Some(1), "{what}: serve: {err}");
        assert!(
            err.contains(&format!("cannot start: {key}:")) && err.contains("fix:"),
            "{what}: {err}"
        );
        assert!(
            !text(&serve.stdout).contains("listening on"),
            "{what}: serve started"
        );
    }
    drop(taken);
}
