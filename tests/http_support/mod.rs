//! Shared by the `http_*` tests: start the real `mabeam serve` on port 0 with a profile
//! written to a temporary directory, and talk to it with a tiny blocking HTTP/1.1 client
//! (raw `TcpStream`, so malformed requests can be sent too).

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// A profile most tests start from: 2 workers, small limits, short timeouts.
pub const BASE_PROFILE: &str = r#"
[engine]
workers = 2
pin_workers = false

[server]
body_max_bytes = 4096
header_max_bytes = 8192
header_read_timeout_ms = 400
request_timeout_ms = 1500
connections_per_core_max = 64
"#;

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "mabeam-{tag}-{}-{n}-{}",
            std::process::id(),
            Instant::now().elapsed().as_nanos()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `mabeam serve`.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub dir: TempDir,
    lines: Receiver<String>,
    /// The stdout lines printed before `listening on` (e.g. `probes listening on ADDR`).
    pub banner: Vec<String>,
}

impl Server {
    pub fn start(profile: &str) -> Server {
        Self::start_with(profile, &[])
    }

    /// Starts with `profile` (TOML) and extra environment variables; waits for the
    /// `listening on ADDR` line (at most 30 s).
    pub fn start_with(profile: &str, env: &[(&str, &str)]) -> Server {
        let dir = TempDir::new("serve");
        let profile = profile.replace("{dir}", &dir.0.display().to_string());
        let path = dir.path("profile.toml");
        std::fs::write(&path, profile).expect("write profile");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mabeam"));
        cmd.arg("serve")
            .arg("--profile")
            .arg(&path)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--node-id")
            .arg("test-node")
            .env("MABEAM_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn mabeam serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut banner = Vec::new();
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(a) = line.strip_prefix("listening on ") {
                        break a.trim().parse().expect("address");
                    }
                    banner.push(line);
                }
                Err(e) => {
                    let _ = child.kill();
                    let status = child.wait();
                    panic!("server did not start ({e:?}); exit: {status:?}");
                }
            }
        };
        Server {
            child: Some(child),
            addr,
            dir,
            lines,
            banner,
        }
    }

    /// The address a `... listening on ADDR` banner line names (`probes`).
    pub fn banner_addr(&self, what: &str) -> Option<SocketAddr> {
        let prefix = format!("{what} listening on ");
        self.banner
            .iter()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|a| a.trim().parse().ok())
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends `signal` (e.g. "TERM") and waits (at most `within`) for the exit; returns
    /// the status and the stdout lines printed after `listening on`.
    pub fn stop(&mut self, signal: &str, within: Duration) -> (ExitStatus, Vec<String>) {
        self.signal(signal);
        self.wait(within)
    }

    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -{signal} failed");
    }

    pub fn wait(&mut self, within: Duration) -> (ExitStatus, Vec<String>) {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(s) = child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not exit within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = Vec::new();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(500)) {
            out.push(l);
        }
        (status, out)
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Resp {
        request(self.addr, method, path, headers, body.map(str::as_bytes))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn get(&self, path: &str) -> Resp {
        self.request("GET", path, &[], None)
    }

    pub fn post(&self, path: &str, body: &str) -> Resp {
        self.request(
            "POST",
            path,
            &[("content-type", "application/json")],
            Some(body),
        )
    }

    /// Opens the live call market `id` (asserting 201) and places `orders` in turn,
    /// answering each order's response (for the caller's own checks).
    pub fn open_call_market(&self, id: &str, orders: &[&str]) -> Vec<Resp> {
        let opened = self.post("/api/markets", &format!(r#"{{"id":"{id}","kind":"call"}}"#));
        assert_eq!(opened.status, 201, "{}", opened.text());
        let path = format!("/api/markets/{id}/orders");
        orders.iter().map(|o| self.post(&path, o)).collect()
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.request("DELETE", path, &[], None)
    }

    /// Asserts the server still answers `/health`.
    pub fn assert_alive(&self) {
        let r = self.get("/health");
        assert_eq!(r.status, 200, "server stopped answering: {}", r.text());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    /// `error.code` of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// `error.field` of a JSON error body.
    pub fn field(&self) -> String {
        self.json()["error"]["field"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

/// Parses one response from `raw` (the server closed after it).
pub fn parse_response(raw: &[u8]) -> Result<Resp, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no complete head in {:?}", String::from_utf8_lossy(raw)))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|e| e.to_string())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if let Some(len) = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        if body.len() < len {
            return Err(format!("truncated body: {} of {len} bytes", body.len()));
        }
        body.truncate(len);
    }
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// Writes `bytes` and reads until the server closes (at most 10 s).
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(bytes)?;
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => Ok(out),
        // A reset after the response was read counts as the end.
        Err(e) if !out.is_empty() => {
            let _ = e;
            Ok(out)
        }
        Err(e) => Err(e),
    }
}

/// One request on a fresh connection (`Connection: close`).
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Resp, String> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("content-length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    let raw = raw_exchange(addr, &bytes).map_err(|e| e.to_string())?;
    parse_response(&raw)
}

/// Lower-case hex SHA-256 of `s`, as a profile stores tokens.
pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The API.md sealed-bid example.
pub const SEALED: &str = r#"{"protocol":"auction","auction":{"type":"second_price","reserve":10,
  "bids":[{"agent_id":"a","amount":15},{"agent_id":"b","amount":12}]}}"#;
