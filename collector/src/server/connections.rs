//! The cap on open connections (`limits.max_connections`) and the open-files limit.
//!
//! Every open connection costs a file descriptor, and so does every file the store opens
//! (DuckDB's database, WAL and temporary files, the intake log's segments, PostgreSQL's pool
//! sockets). Without a cap, a flood of connections (an SDK retrying in a loop, a load balancer
//! health-checking hard, a slowloris: the header timeout bounds each one's life, not their
//! number) takes the process to its `RLIMIT_NOFILE`; then `accept()` fails with `EMFILE` and so
//! do the store's opens: acknowledged-write paths answer 503. Hence, like nginx's
//! `worker_connections` or HAProxy's `maxconn`:
//!
//! * when the collector starts serving, [`raise_open_files_limit`] raises the soft
//!   `RLIMIT_NOFILE` to the hard limit (as Go's runtime does; often 1,024 → 524,288 under
//!   systemd), once per process, logged;
//! * every accept loop (the server's and the stand-in's of [`super::wait_for_store`]) takes a
//!   [`Slot`] before it accepts ([`ConnectionLimit::accept`]). At the cap it stops accepting:
//!   new connections wait in the kernel's listen backlog and are accepted as others close,
//!   instead of failing. The slot moves into the connection's task and is released when the
//!   task ends, TLS handshake included.
//!
//! The count is per process, like the descriptors it protects (`footfall_connections_open`):
//! the stand-in's connections still open when the real server starts count against its cap.
//! Each accept loop compares the count with its own cap.
//!
//! The default cap, [`default_max_connections`], is the soft limit (after the raise) minus
//! [`fd_reserve`] for everything else, at most [`MAX_CONNECTIONS_CEILING`].

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{LazyLock, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::config::Limits;
use crate::metrics::connections;

/// Descriptors the default cap leaves to everything but client connections, on a large limit.
///
/// Measured on the embedded store (`/proc/PID/fd` of `footfall serve`, debug build, 2 cores):
/// 14 at rest (stdio, the runtime's epoll and event fds, the listener, the database and its
/// WAL), at most 22 besides the client connections under ingestion (8 clients, 500-event
/// batches) with exports and online backups at the same time (an intake log segment, a backup's
/// Parquet file per table). PostgreSQL adds its pool (16 sockets), ClickHouse its HTTP
/// connections, alert webhooks a few; DuckDB's temporary files (a query that spills) and new
/// tables grow it. 256 covers all of that several times over.
pub const FD_RESERVE: u64 = 256;

/// The least the default reserves, on a small limit: about three times the measured peak.
pub const FD_RESERVE_MIN: u64 = 64;

/// Most connections the default allows however high the open-files limit is: an idle
/// connection costs about 18 KB of memory (measured: 2,850 idle connections added 51 MB to the
/// resident size), so 10,000 cost about 180 MB; more need `limits.max_connections` set on
/// purpose.
pub const MAX_CONNECTIONS_CEILING: usize = 10_000;

/// Fewest connections the default allows (a tiny open-files limit still serves).
pub const MAX_CONNECTIONS_FLOOR: usize = 16;

/// Descriptors kept for everything but client connections under a soft limit of `soft`:
/// [`FD_RESERVE`], or a quarter of a small limit but at least [`FD_RESERVE_MIN`].
pub fn fd_reserve(soft: u64) -> u64 {
    (soft / 4).clamp(FD_RESERVE_MIN, FD_RESERVE)
}

/// The default of `limits.max_connections` under the soft open-files limit `soft` (`None`:
/// unlimited or unknown): `soft - fd_reserve(soft)`, between [`MAX_CONNECTIONS_FLOOR`] and
/// [`MAX_CONNECTIONS_CEILING`]. E.g. 1,024 → 768, 4,096 → 3,840, 128 → 64, 65,536 → 10,000.
pub fn default_max_connections(soft: Option<u64>) -> usize {
    let Some(soft) = soft else {
        return MAX_CONNECTIONS_CEILING;
    };
    let room = soft.saturating_sub(fd_reserve(soft));
    usize::try_from(room)
        .unwrap_or(usize::MAX)
        .clamp(MAX_CONNECTIONS_FLOOR, MAX_CONNECTIONS_CEILING)
}

/// The open-files limit: soft and hard (`None`: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFilesLimit {
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

#[cfg(unix)]
mod rlimit {
    use super::OpenFilesLimit;

    #[allow(clippy::unnecessary_cast)] // rlim_t is u32 on some 32-bit targets
    fn finite(v: libc::rlim_t) -> Option<u64> {
        (v != libc::RLIM_INFINITY).then_some(v as u64)
    }

    pub fn get() -> std::io::Result<OpenFilesLimit> {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit(2) writes the struct it is given, which lives across the call.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(OpenFilesLimit {
            soft: finite(lim.rlim_cur),
            hard: finite(lim.rlim_max),
        })
    }

    /// Sets the soft limit to the hard one.
    pub fn raise() -> std::io::Result<()> {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as in `get`; setrlimit(2) only reads the struct.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

#[cfg(not(unix))]
mod rlimit {
    use super::OpenFilesLimit;

    pub fn get() -> std::io::Result<OpenFilesLimit> {
        Ok(OpenFilesLimit {
            soft: None,
            hard: None,
        })
    }

    pub fn raise() -> std::io::Result<()> {
        Ok(())
    }
}

/// The current open-files limit (`None` when it cannot be read).
pub fn open_files_limit() -> Option<OpenFilesLimit> {
    rlimit::get().ok()
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, once per process (later calls return the
/// first outcome). Logs the values at info; a failure is a warning (the collector serves with
/// the limit it has). Returns the limit in effect afterwards.
pub fn raise_open_files_limit() -> Option<OpenFilesLimit> {
    static RAISED: OnceLock<Option<OpenFilesLimit>> = OnceLock::new();
    *RAISED.get_or_init(|| {
        let before = match rlimit::get() {
            Ok(before) => before,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the open-files limit (RLIMIT_NOFILE)");
                return None;
            }
        };
        let (soft, hard) = (shown(before.soft), shown(before.hard));
        if before.soft == before.hard {
            tracing::info!(%soft, %hard, "open-files limit (RLIMIT_NOFILE) already at its hard limit");
            return Some(before);
        }
        match rlimit::raise().and_then(|()| rlimit::get()) {
            Ok(after) => {
                tracing::info!(
                    from = %soft,
                    to = %shown(after.soft),
                    "raised the soft open-files limit (RLIMIT_NOFILE) to the hard limit"
                );
                Some(after)
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    %soft,
                    %hard,
                    "cannot raise the soft open-files limit (RLIMIT_NOFILE); serving with it"
                );
                Some(before)
            }
        }
    })
}

/// A limit for the log: its number or `unlimited`.
fn shown(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_string(), |l| l.to_string())
}

/// Wakes the accept loops waiting at their cap when a connection ends.
static CLOSED: LazyLock<Notify> = LazyLock::new(Notify::new);

/// Seconds between two warnings that the cap is reached (each pause is counted in
/// `footfall_connections_limit_reached_total`).
const WARN_EVERY: Duration = Duration::from_secs(10);

/// An accept loop's cap: see the module docs.
#[derive(Debug)]
pub struct ConnectionLimit {
    max: usize,
    last_warning: Mutex<Option<Instant>>,
}

impl ConnectionLimit {
    /// The cap of `limits`: `max_connections`, else [`default_max_connections`] of the soft
    /// open-files limit after [`raise_open_files_limit`]. Logged at info; a configured cap the
    /// open-files limit cannot hold is a warning. Sets `footfall_connections_max`.
    pub fn new(limits: &Limits) -> ConnectionLimit {
        let files = raise_open_files_limit();
        let soft = files.and_then(|f| f.soft);
        let max = match limits.max_connections {
            Some(max) => {
                let room = soft.map(|s| s.saturating_sub(fd_reserve(s)));
                if let Some(room) = room.filter(|&room| (max as u64) > room) {
                    tracing::warn!(
                        max_connections = max,
                        open_files_limit = %shown(soft),
                        "limits.max_connections is more than the open-files limit leaves for connections \
                         ({room}): a flood of connections can starve the store of file descriptors; \
                         raise the limit (systemd: LimitNOFILE=) or lower max_connections"
                    );
                }
                max
            }
            None => default_max_connections(soft),
        };
        tracing::info!(
            max_connections = max,
            open_files_limit = %shown(soft),
            configured = limits.max_connections.is_some(),
            "connection cap"
        );
        connections().max.set(i64::try_from(max).unwrap_or(i64::MAX));
        ConnectionLimit {
            max,
            last_warning: Mutex::new(None),
        }
    }

    /// Accepts the next connection once fewer than the cap are open in the process; the
    /// [`Slot`] counts it until dropped (move it into the connection's task). Cancel-safe.
    ///
    /// One accept loop never exceeds its cap; two serving at once in one process (tests) may
    /// each go one over it.
    pub async fn accept(&self, listener: &TcpListener) -> std::io::Result<(TcpStream, SocketAddr, Slot)> {
        self.room().await;
        let (stream, remote) = listener.accept().await?;
        Ok((stream, remote, Slot::open()))
    }

    /// Waits until fewer than the cap are open.
    async fn room(&self) {
        let metrics = connections();
        let max = i64::try_from(self.max).unwrap_or(i64::MAX);
        let mut paused = false;
        loop {
            // Registered before the check, so a connection ending in between is not missed.
            let mut closed = pin!(CLOSED.notified());
            closed.as_mut().enable();
            if metrics.open.get() < max {
                return;
            }
            if !paused {
                paused = true;
                metrics.limit_reached.inc();
                self.warn();
            }
            closed.await;
        }
    }

    fn warn(&self) {
        let mut last = self.last_warning.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            *last = Some(Instant::now());
            tracing::warn!(
                max_connections = self.max,
                "connection cap reached: new connections wait in the listen backlog until others close \
                 (limits.max_connections; footfall_connections_limit_reached_total)"
            );
        }
    }
}

/// One open connection, counted in `footfall_connections_open` until dropped.
#[derive(Debug)]
pub struct Slot(());

impl Slot {
    fn open() -> Slot {
        connections().open.inc();
        Slot(())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        connections().open.dec();
        CLOSED.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_leaves_a_reserve_for_the_store() {
        // A shell's or systemd's soft limit before the raise.
        assert_eq!(default_max_connections(Some(1024)), 768);
        assert_eq!(default_max_connections(Some(4096)), 4096 - 256);
        // A test's or a container's tiny limit: a quarter, at least 64, is kept.
        assert_eq!(default_max_connections(Some(128)), 64);
        assert_eq!(default_max_connections(Some(256)), 192);
        assert_eq!(default_max_connections(Some(64)), MAX_CONNECTIONS_FLOOR);
        assert_eq!(default_max_connections(Some(0)), MAX_CONNECTIONS_FLOOR);
        // systemd's hard limit, a container's: the ceiling.
        assert_eq!(default_max_connections(Some(524_288)), MAX_CONNECTIONS_CEILING);
        assert_eq!(default_max_connections(Some(10_256)), MAX_CONNECTIONS_CEILING);
        assert_eq!(default_max_connections(Some(10_255)), 9_999);
        assert_eq!(default_max_connections(None), MAX_CONNECTIONS_CEILING);
        assert_eq!(default_max_connections(Some(u64::MAX)), MAX_CONNECTIONS_CEILING);
        for soft in [100, 300, 1000, 2048, 20_000] {
            let max = default_max_connections(Some(soft)) as u64;
            assert!(max + FD_RESERVE_MIN <= soft, "{soft} → {max}");
        }
    }
}
