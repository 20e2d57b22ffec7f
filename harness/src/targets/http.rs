//! A minimal HTTP/1.1 client connection: keep-alive, pipelining, responses parsed with
//! `httparse` (Content-Length and chunked bodies).

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response (head and body) accepted.
pub const RESPONSE_MAX_BYTES: usize = 16 << 20;
/// Most response headers parsed.
const HEADERS_MAX: usize = 64;

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    /// Resolved address.
    pub addr: SocketAddr,
    /// `Host` header value.
    pub host: String,
    /// Path of the URL (used when no scenario is given).
    pub path: String,
}

impl HttpTarget {
    /// Parses `http://host[:port][/path]` and resolves it.
    pub fn parse(url: &str) -> Result<HttpTarget, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            if url.starts_with("https://") {
                format!("{url}: https is not supported; target the plain-HTTP listener")
            } else {
                format!("{url}: write the target as http://HOST[:PORT][/PATH]")
            }
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(format!("{url}: no host"));
        }
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty())
            && !authority.ends_with(']')
        {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        use std::net::ToSocketAddrs;
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("{url}: cannot resolve {authority}: {e}"))?
            .next()
            .ok_or_else(|| format!("{url}: {authority} resolves to no address"))?;
        Ok(HttpTarget {
            addr,
            host: authority.to_owned(),
            path: path.to_owned(),
        })
    }
}

/// What a response head said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// Status code.
    pub status: u16,
    /// Bytes of the whole response (head and body).
    pub len: usize,
    /// The server will close the connection after it.
    pub close: bool,
    /// Where the `X-Mabeam-Node` value lies in the response (offset from its start,
    /// length), when the header is there and at most [`NODE_MAX_BYTES`] long.
    pub node: Option<(usize, usize)>,
}

/// Longest `X-Mabeam-Node` value kept.
pub const NODE_MAX_BYTES: usize = 64;

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The bytes are not an HTTP/1.x response.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// No length: the body would run to the end of the connection.
    #[error("response has neither Content-Length nor chunked encoding")]
    NoLength,
}

/// Parses one complete response from the front of `buf`; `Ok(None)` if more bytes
/// are needed.
pub fn parse_response(buf: &[u8], head_request: bool) -> Result<Option<Parsed>, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut res = httparse::Response::new(&mut headers);
    let head = match res.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(ParseError::Malformed(e.to_string())),
    };
    let status = res.code.unwrap_or(0);
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut close = res.version == Some(0);
    let mut node = None;
    for h in res.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value)
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or_else(|| ParseError::Malformed("bad Content-Length".to_owned()))?;
            content_length = Some(v);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h
                .value
                .windows(7)
                .any(|w| w.eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = h.value.eq_ignore_ascii_case(b"close");
        } else if h.name.eq_ignore_ascii_case("x-mabeam-node") && h.value.len() <= NODE_MAX_BYTES {
            // The value borrows from `buf`: its offset is the distance between the starts.
            let at = (h.value.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
            if at + h.value.len() <= head {
                node = Some((at, h.value.len()));
            }
        }
    }
    if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(Some(Parsed {
            status,
            len: head,
            close,
            node,
        }));
    }
    if chunked {
        return match chunked_len(&buf[head..])? {
            Some(n) => Ok(Some(Parsed {
                status,
                len: head + n,
                close,
                node,
            })),
            None => Ok(None),
        };
    }
    match content_length {
        Some(n) if buf.len() >= head + n => Ok(Some(Parsed {
            status,
            len: head + n,
            close,
            node,
        })),
        Some(_) => Ok(None),
        None => Err(ParseError::NoLength),
    }
}

/// Length of a complete chunked body at the front of `buf` (trailers allowed).
fn chunked_len(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    let mut at = 0usize;
    loop {
        match httparse::parse_chunk_size(&buf[at..]) {
            Ok(httparse::Status::Complete((n, size))) => {
                at += n;
                if size == 0 {
                    // Trailers end with an empty line.
                    loop {
                        let rest = &buf[at..];
                        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
                            return Ok(None);
                        };
                        at += eol + 2;
                        if eol == 0 {
                            return Ok(Some(at));
                        }
                    }
                }
                let size = usize::try_from(size)
                    .ok()
                    .filter(|s| *s <= RESPONSE_MAX_BYTES)
                    .ok_or_else(|| ParseError::Malformed("chunk too large".to_owned()))?;
                if buf.len() < at + size + 2 {
                    return Ok(None);
                }
                at += size + 2;
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(ParseError::Malformed("bad chunk size".to_owned())),
        }
    }
}

/// A keep-alive connection with a read buffer.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    filled: usize,
    start: usize,
    /// The last response's `X-Mabeam-Node` value (`node_len` bytes of it).
    node: [u8; NODE_MAX_BYTES],
    node_len: Option<usize>,
}

impl Conn {
    /// Connects within `timeout`.
    pub async fn connect(addr: SocketAddr, timeout: Duration) -> std::io::Result<Conn> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
            })??;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: vec![0; 16 << 10],
            filled: 0,
            start: 0,
            node: [0; NODE_MAX_BYTES],
            node_len: None,
        })
    }

    /// Sends `bytes`.
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Takes the next complete response out of the buffer, if there is one.
    pub fn next_response(&mut self, head_request: bool) -> Result<Option<Parsed>, ParseError> {
        let r = parse_response(&self.buf[self.start..self.filled], head_request)?;
        if let Some(p) = r {
            self.node_len = p.node.map(|(at, len)| {
                let from = self.start + at;
                self.node[..len].copy_from_slice(&self.buf[from..from + len]);
                len
            });
            self.start += p.len;
            if self.start == self.filled {
                self.start = 0;
                self.filled = 0;
            }
        }
        Ok(r)
    }

    /// The `X-Mabeam-Node` value of the response [`Conn::next_response`] last returned.
    pub fn node(&self) -> Option<&[u8]> {
        self.node_len.map(|len| &self.node[..len])
    }

    /// Reads more bytes (cancel-safe). `Ok(0)` means the server closed.
    pub async fn read_more(&mut self) -> std::io::Result<usize> {
        if self.filled == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.filled, 0);
                self.filled -= self.start;
                self.start = 0;
            } else if self.buf.len() < RESPONSE_MAX_BYTES {
                let n = (self.buf.len() * 2).min(RESPONSE_MAX_BYTES);
                self.buf.resize(n, 0);
            } else {
                return Err(std::io::Error::other("response larger than 16 MiB"));
            }
        }
        let n = self.stream.read(&mut self.buf[self.filled..]).await?;
        self.filled += n;
        Ok(n)
    }
}

/// Writes a request head and body into `out` (cleared first).
pub fn write_request(
    out: &mut Vec<u8>,
    method: &str,
    path: &[u8],
    host: &str,
    headers: &[u8],
    body: &[u8],
) {
    out.clear();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(headers);
    if !body.is_empty() || method == "POST" || method == "PUT" || method == "PATCH" {
        use std::io::Write;
        let _ = write!(out, "Content-Length: {}\r\n", body.len());
        if !headers_have(headers, b"content-type") {
            out.extend_from_slice(b"Content-Type: application/json\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

fn headers_have(headers: &[u8], name: &[u8]) -> bool {
    headers.split(|b| *b == b'\n').any(|line| {
        line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name)
            && line[name.len()] == b':'
    })
}

/// One GET with its own connection: used for `/metrics` scrapes and the setup phase.
pub async fn fetch(
    addr: SocketAddr,
    host: &str,
    method: &str,
    path: &str,
    headers: &[u8],
    body: &[u8],
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let work = async {
        let mut conn = Conn::connect(addr, timeout)
            .await
            .map_err(|e| e.to_string())?;
        let mut req = Vec::new();
        write_request(&mut req, method, path.as_bytes(), host, headers, body);
        conn.send(&req).await.map_err(|e| e.to_string())?;
        loop {
            let before = conn.start;
            if let Some(p) = conn
                .next_response(method == "HEAD")
                .map_err(|e| e.to_string())?
            {
                let whole = &conn.buf[before..before + p.len];
                let head = whole
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map(|i| i + 4)
                    .unwrap_or(whole.len());
                let body = decode_body(whole, head);
                return Ok((p.status, body));
            }
            if conn.read_more().await.map_err(|e| e.to_string())? == 0 {
                return Err("connection closed before a full response".to_owned());
            }
        }
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| format!("no answer within {timeout:?}"))?
}

fn decode_body(whole: &[u8], head: usize) -> Vec<u8> {
    let head_text = String::from_utf8_lossy(&whole[..head]).to_ascii_lowercase();
    if !head_text.contains("transfer-encoding: chunked") {
        return whole[head..].to_vec();
    }
    let mut out = Vec::new();
    let mut at = head;
    while let Ok(httparse::Status::Complete((n, size))) = httparse::parse_chunk_size(&whole[at..]) {
        at += n;
        if size == 0 {
            break;
        }
        let end = (at + size as usize).min(whole.len());
        out.extend_from_slice(&whole[at..end]);
        at = end + 2;
        if at >= whole.len() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_node_header() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Mabeam-Node: mabeam-2\r\n\r\nok";
        let p = parse_response(r, false).unwrap().unwrap();
        let (at, len) = p.node.unwrap();
        assert_eq!(&r[at..at + len], b"mabeam-2");
        let r = b"HTTP/1.1 204 No\r\n\r\n";
        assert_eq!(parse_response(r, false).unwrap().unwrap().node, None);
        let long = format!(
            "HTTP/1.1 204 No\r\nx-mabeam-node: {}\r\n\r\n",
            "n".repeat(65)
        );
        assert_eq!(
            parse_response(long.as_bytes(), false)
                .unwrap()
                .unwrap()
                .node,
            None
        );
    }

    #[test]
    fn parses_lengths() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 204 No\r\n\r\n";
        let p = parse_response(r, false).unwrap().unwrap();
        assert_eq!((p.status, p.len, p.close), (200, 40, false));
        let p2 = parse_response(&r[40..], false).unwrap().unwrap();
        assert_eq!(p2.status, 204);
        assert_eq!(parse_response(&r[..30], false).unwrap(), None);
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\n\r\n", false),
            Err(ParseError::NoLength)
        );
        assert!(parse_response(b"garbage\r\n\r\n", false).is_err());
    }

    #[test]
    fn parses_chunked() {
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        let p = parse_response(r, false).unwrap().unwrap();
        assert_eq!(p.len, r.len());
        assert!(p.close);
        assert_eq!(parse_response(&r[..r.len() - 1], false).unwrap(), None);
        let head = r.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(decode_body(r, head), b"abc");
    }

    #[test]
    fn urls() {
        let t = HttpTarget::parse("http://127.0.0.1:8080/health").unwrap();
        assert_eq!(t.addr.port(), 8080);
        assert_eq!(t.path, "/health");
        assert_eq!(
            HttpTarget::parse("http://127.0.0.1").unwrap().addr.port(),
            80
        );
        assert!(HttpTarget::parse("ftp://x").is_err());
        assert!(HttpTarget::parse("https://x").is_err());
        assert!(HttpTarget::parse("http://").is_err());
    }

    #[test]
    fn requests() {
        let mut out = Vec::new();
        write_request(&mut out, "POST", b"/a", "h:1", b"X-Y: 1\r\n", b"{}");
        let s = String::from_utf8(out).unwrap();
        assert_eq!(
            s,
            "POST /a HTTP/1.1\r\nHost: h:1\r\nX-Y: 1\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"
        );
    }
}
