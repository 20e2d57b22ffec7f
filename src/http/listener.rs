//! Listening sockets: one per HTTP thread with `SO_REUSEPORT` (the kernel spreads
//! connections over them), or one shared socket where the option is unavailable.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{SocketAddr, TcpListener};

/// Pending connections the kernel queues per listener.
const BACKLOG: i32 = 1_024;

/// How the listeners were bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// One socket per thread, `SO_REUSEPORT`.
    ReusePort,
    /// One socket, cloned to every thread.
    Shared,
}

fn socket(addr: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if reuse_port {
        set_reuse_port(&s)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(BACKLOG)?;
    Ok(s.into())
}

#[cfg(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
))]
fn set_reuse_port(s: &Socket) -> io::Result<()> {
    s.set_reuse_port(true)
}

#[cfg(not(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
)))]
fn set_reuse_port(_: &Socket) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "SO_REUSEPORT is not available on this platform",
    ))
}

fn bind_reuse_port(addr: SocketAddr, n: usize) -> io::Result<Vec<TcpListener>> {
    let first = socket(addr, true)?;
    // Port 0: the others join the port the kernel picked for the first.
    let actual = first.local_addr()?;
    let mut out = Vec::with_capacity(n);
    out.push(first);
    for _ in 1..n {
        out.push(socket(actual, true)?);
    }
    Ok(out)
}

/// `n` non-blocking listeners on `addr` (all on the same port when `addr` has port 0).
pub(crate) fn bind(addr: SocketAddr, n: usize) -> io::Result<(Vec<TcpListener>, Mode)> {
    let n = n.max(1);
    match bind_reuse_port(addr, n) {
        Ok(v) => Ok((v, Mode::ReusePort)),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse && addr.port() != 0 => Err(e),
        Err(e) => {
            tracing::warn!(error = %e, "SO_REUSEPORT listeners unavailable; sharing one listener");
            let one = socket(addr, false)?;
            let mut out = Vec::with_capacity(n);
            for _ in 1..n {
                out.push(one.try_clone()?);
            }
            out.push(one);
            Ok((out, Mode::Shared))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_binds_every_listener_to_one_port() {
        let (ls, mode) = bind("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        assert_eq!(ls.len(), 3);
        let port = ls[0].local_addr().unwrap().port();
        assert_ne!(port, 0);
        for l in &ls {
            assert_eq!(l.local_addr().unwrap().port(), port);
        }
        if cfg!(target_os = "linux") {
            assert_eq!(mode, Mode::ReusePort);
        }
        // A connection is accepted by one of them.
        let _c = std::net::TcpStream::connect(ls[0].local_addr().unwrap()).unwrap();
    }

    #[test]
    fn a_taken_port_is_an_error() {
        // A plain socket without SO_REUSEPORT holds the port exclusively.
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let err = bind(plain.local_addr().unwrap(), 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
