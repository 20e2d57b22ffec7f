//! Start-up: `mabeam check-profile` runs the checks `mabeam serve` runs before it starts
//! (directories and files it writes, TLS material, the listen address), so a profile that
//! passes the check starts, and one that fails it fails `serve` with the same key named.

mod http_support;

use http_support::{Server, TempDir};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn prod_profile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/prod.toml")
}

/// Runs `mabeam ARGS` with `env` (at most 20 s) and returns what it printed.
fn mabeam(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mabeam"));
    cmd.args(args)
        .env("MABEAM_LOG", "warn")
        .env("MABEAM_ENGINE__WORKERS", "1")
        .env("MABEAM_ENGINE__PIN_WORKERS", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn mabeam");
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
    let tmp = TempDir::new("fresh");
    let logs = tmp.path("var/log/mabeam");
    let audit = logs.join("audit.log");
    let audit_env = audit.display().to_string();
    let env = [
        ("MABEAM_SECURITY__AUDIT_PATH", audit_env.as_str()),
        ("MABEAM_SERVER__LISTEN", "127.0.0.1:0"),
    ];
    let profile = prod_profile();
    let check = mabeam(&["check-profile", profile.to_str().unwrap()], &env);
    let stdout = text(&check.stdout);
    assert!(
        check.status.success(),
        "check-profile: {}{stdout}",
        text(&check.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "serve will create {} (mode 0750) for security.audit_path",
            logs.display()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("start-up: ok"), "{stdout}");
    assert!(!logs.exists(), "check-profile must not create anything");

    // serve with the same profile and environment starts, creating the directory.
    let prod = std::fs::read_to_string(&profile).expect("prod.toml");
    let mut s = Server::start_with(&prod, &env);
    let mode = std::fs::metadata(&logs)
        .expect("created")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode & !0o750, 0, "mode {mode:o} is wider than 0750");
    assert_eq!(mode & 0o700, 0o700, "mode {mode:o}");
    assert_eq!(s.get("/health").status, 200);
    // The prod profile turns auth on: an unauthenticated write is refused.
    assert_eq!(
        s.post("/api/agents", r#"{"id":"a","kind":"k"}"#).status,
        401
    );
    assert!(audit.exists(), "the audit log was not opened");
    let (status, _) = s.stop("TERM", Duration::from_secs(20));
    assert!(status.success());
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

    let cases: Vec<(&str, Vec<(&str, &str)>, &str)> = vec![
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
        let check = mabeam(&["check-profile", profile], env);
        let err = text(&check.stderr);
        assert_eq!(check.status.code(), Some(1), "{what}: check-profile: {err}");
        assert!(
            err.contains(&format!("serve would not start: {key}:")) && err.contains("fix:"),
            "{what}: {err}"
        );
        let serve = mabeam(&["serve", "--profile", profile], env);
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
