//! One connection to the server, with the timeout and the mapping of every
//! client error to our statuses. The protocol itself is the `redis` crate's.
//!
//! A call that fails on the network or on the timeout drops the connection:
//! the server's answer may still arrive later, and must not be read as the
//! answer to the next command. The next call connects again, which is also
//! how a handle recovers once the server is back.
//!
//! Calls of one handle take turns on its connection. When the server stops
//! answering, the call on the connection waits the whole timeout; a call
//! that queued behind it meanwhile is failed at once when its turn comes
//! (it has waited as long, for a server known not to answer), rather than
//! waiting a timeout of its own: n callers of one handle all fail within
//! one timeout, not the last one after n of them. A call that arrives after
//! that tries the server again, so a handle recovers at its next call.

use std::time::{Duration, Instant};

use redis::{Client, Connection, ConnectionAddr, RedisError, RedisResult};

use crate::error::{Error, ErrorKind, Result};

/// The connection of one handle, guarded by the handle's I/O mutex.
pub(crate) struct Conn {
    client: Client,
    /// `redis://host:port/db`, without the credentials: for messages.
    server: String,
    timeout: Duration,
    /// Replies the connection handshake waits for (see `new`).
    handshake_replies: u32,
    con: Option<Connection>,
    /// The read and write timeout the socket has now.
    socket_timeout: Option<Duration>,
    /// When the current step must have its answer by; see [`Conn::begin`].
    deadline: Instant,
    /// When the current call started waiting for its turn on this
    /// connection (`None`: not told, so never failed for queueing).
    arrived: Option<Instant>,
    /// When a step last failed for want of an answer within the timeout.
    stalled: Option<Instant>,
    /// Whether this connection was ever made (the next one is a reconnection).
    connected_before: bool,
    /// A connection was made again since [`Conn::take_reconnected`] was last
    /// called: see there.
    reconnected: bool,
}

impl Conn {
    /// Parses the URL; connects lazily, at the first command. A `rediss://`
    /// URL may name the CA certificates (PEM) to trust instead of the
    /// system's with `?ssl_ca_certs=/path/ca.pem` (redis-py's name); the
    /// file is read here.
    pub fn new(url: &str, timeout: Duration) -> Result<Conn> {
        if timeout.is_zero() {
            return Err(Error::invalid_argument("backend timeout must be above 0"));
        }
        let scheme = url.split("://").next().unwrap_or_default();
        if !url.contains("://") || !matches!(scheme, "redis" | "rediss" | "redis+unix" | "unix") {
            return Err(Error::invalid_argument(format!(
                "backend URL {:?} is not usable: expected redis://[user:password@]host[:port][/db], \
                 rediss://... (TLS) or redis+unix:///path",
                redact(url)
            )));
        }
        let tls = scheme == "rediss";
        let (url_for_client, ca_file) = take_ca_file(url)?;
        if tls && !cfg!(feature = "redis-tls") {
            return Err(Error::invalid_argument(format!(
                "backend URL {:?}: this build has no TLS support (built without the \
                 `redis-tls` feature); use redis:// through a TLS tunnel",
                redact(url)
            )));
        }
        if ca_file.is_some() && !tls {
            return Err(Error::invalid_argument(format!(
                "backend URL {:?}: ssl_ca_certs is for rediss:// (TLS) URLs",
                redact(url)
            )));
        }
        if tls && url_for_client.contains('#') {
            return Err(Error::invalid_argument(format!(
                "backend URL {:?}: certificate checks cannot be turned off (#insecure); \
                 name the server's CA with ?ssl_ca_certs=/path/ca.pem",
                redact(url)
            )));
        }
        let parsed = Client::open(url_for_client.as_str()).map_err(|e| {
            Error::invalid_argument(format!("backend URL {:?} does not parse: {e}", redact(url)))
        })?;
        // The handshake is one pipeline whose replies are each read with the
        // whole timeout: CLIENT SETINFO (two replies) is left out, and what
        // remains (AUTH, SELECT) gets a share of the time each.
        let mut info = parsed.get_connection_info().clone();
        let settings = info.redis_settings().clone().set_skip_set_lib_name();
        let handshake_replies =
            u32::from(settings.password().is_some()) + u32::from(settings.db() != 0);
        info = info.set_redis_settings(settings);
        let client = tls_client(info, ca_file.as_deref(), url)?;
        let info = client.get_connection_info();
        let db = info.redis_settings().db();
        let server = match info.addr() {
            ConnectionAddr::Unix(path) => format!("redis+unix://{}?db={db}", path.display()),
            addr @ ConnectionAddr::TcpTls { .. } => format!("rediss://{addr}/{db}"),
            addr => format!("redis://{addr}/{db}"),
        };
        Ok(Conn {
            client,
            server,
            timeout,
            handshake_replies: handshake_replies.max(1),
            con: None,
            socket_timeout: None,
            deadline: Instant::now() + timeout,
            arrived: None,
            stalled: None,
            connected_before: false,
            reconnected: false,
        })
    }

    /// Another connection to the same server with the same settings, not
    /// connected yet (it connects at its first command).
    pub fn detached(&self) -> Conn {
        Conn {
            client: self.client.clone(),
            server: self.server.clone(),
            timeout: self.timeout,
            handshake_replies: self.handshake_replies,
            con: None,
            socket_timeout: None,
            deadline: Instant::now() + self.timeout,
            arrived: None,
            stalled: None,
            connected_before: false,
            reconnected: false,
        }
    }

    /// The timeout of every step.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The server, as messages name it.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Whether the connection was made again (after one was lost) since the
    /// last call, clearing it. The server on the other end may then have
    /// restarted from older data (an RDB snapshot, an AOF without
    /// `appendfsync always`) or be a replica promoted by a failover: the
    /// same store id at a revision this handle has seen may then hold
    /// other writes, so what memory reflects must be read afresh.
    pub fn take_reconnected(&mut self) -> bool {
        std::mem::take(&mut self.reconnected)
    }

    /// Says when the call about to use the connection started waiting for
    /// its turn (before taking the mutex that guards it): if a step times
    /// out after that instant, the call's own steps fail at once.
    pub fn arrive(&mut self, at: Instant) {
        self.arrived = Some(at);
    }

    /// Starts a step: every command until the next `begin` must be answered
    /// within the timeout in all (a call that makes progress, such as a load
    /// in chunks, begins again after each chunk).
    pub fn begin(&mut self) {
        self.deadline = Instant::now() + self.timeout;
    }

    /// Runs `f` on the connection (connecting first if needed) within what
    /// is left of the step's time. `what` names the operation in messages.
    pub fn run<R>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut Connection) -> RedisResult<R>,
    ) -> Result<R> {
        if let (Some(stalled), Some(arrived)) = (self.stalled, self.arrived) {
            if stalled > arrived {
                return Err(Error::new(
                    ErrorKind::BackendUnavailable,
                    format!(
                        "{} did not answer ({what}): a call ahead of this one on the same \
                         handle got no answer within the backend timeout of {} ms while \
                         this one waited for its turn",
                        self.server,
                        self.timeout.as_millis()
                    ),
                ));
            }
        }
        let Some(left) = self
            .deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        else {
            self.stalled = Some(Instant::now());
            return Err(self.timed_out(what));
        };
        if self.con.is_none() {
            let con = match self
                .client
                .get_connection_with_timeout(left / self.handshake_replies)
            {
                Ok(con) => con,
                Err(e) => return Err(self.fail(e, "connect")),
            };
            self.reconnected |= self.connected_before;
            self.connected_before = true;
            self.con = Some(con);
            self.socket_timeout = None;
        }
        // The socket's timeout is what is left of the step, rounded down to
        // 10 ms so that back-to-back calls (each starting a step) find it
        // already set and skip two system calls.
        let wanted = Duration::from_millis((left.as_millis() as u64 / 10 * 10).max(1));
        let con = self.con.as_mut().expect("connected above");
        let timeouts = if self.socket_timeout == Some(wanted) {
            Ok(())
        } else {
            self.socket_timeout = Some(wanted);
            con.set_read_timeout(Some(wanted))
                .and_then(|()| con.set_write_timeout(Some(wanted)))
        };
        let result = timeouts.and_then(|()| f(con));
        result.map_err(|e| {
            // After a network error or a timeout the stream is at an unknown
            // place (a late answer must not be read as the next one), and
            // after a refusal the server may have closed it: connect afresh
            // next time. Errors are rare; the reconnection is cheap.
            self.con = None;
            self.fail(e, what)
        })
    }

    /// `map`, noting a timeout for the calls queued behind this one.
    fn fail(&mut self, e: RedisError, what: &str) -> Error {
        if e.is_timeout() {
            self.stalled = Some(Instant::now());
        }
        self.map(e, what)
    }

    fn timed_out(&self, what: &str) -> Error {
        Error::new(
            ErrorKind::BackendUnavailable,
            format!(
                "{} did not answer ({what}) within the backend timeout of {} ms",
                self.server,
                self.timeout.as_millis()
            ),
        )
    }

    /// Our status for a client error: the server out of reach (or too slow,
    /// or busy loading) is BackendUnavailable, worth retrying; a refusal
    /// (credentials, a wrong-type key, out of memory...) is Backend.
    fn map(&self, e: RedisError, what: &str) -> Error {
        use redis::ServerErrorKind as S;
        if e.is_timeout() {
            return self.timed_out(what);
        }
        let server = &self.server;
        let code = e.code().unwrap_or_default().to_string();
        if is_tls_refusal(&e) {
            return Error::new(
                ErrorKind::Backend,
                format!("{server}: the TLS handshake failed ({what}): {e}"),
            );
        }
        match e.kind() {
            // Redis 7 answers an unauthenticated long command with a protocol
            // error ("unauthenticated multibulk length") and closes.
            _ if matches!(e.kind(), redis::ErrorKind::AuthenticationFailed)
                || matches!(code.as_str(), "WRONGPASS" | "NOAUTH" | "NOPERM")
                || e.to_string().contains("unauthenticated") =>
            {
                Error::new(
                    ErrorKind::Backend,
                    format!("{server} refused the credentials ({what}): {e}"),
                )
            }
            redis::ErrorKind::Server(
                S::BusyLoading | S::TryAgain | S::MasterDown | S::ClusterDown,
            ) => Error::new(
                ErrorKind::BackendUnavailable,
                format!("{server} is not ready ({what}): {e}"),
            ),
            _ if code == "BUSY" => Error::new(
                ErrorKind::BackendUnavailable,
                format!("{server} is busy running a script ({what}): {e}"),
            ),
            redis::ErrorKind::Server(_) | redis::ErrorKind::Extension => {
                Error::new(ErrorKind::Backend, format!("{server} refused {what}: {e}"))
            }
            // Bytes that are not RESP at all: something else listens there
            // (an HTTP server, SSH, ...). Retrying will not help, so Backend.
            redis::ErrorKind::Parse => Error::new(
                ErrorKind::Backend,
                format!(
                    "the server at {server} does not speak the Redis protocol (wrong port?) ({what}): {e}"
                ),
            ),
            redis::ErrorKind::Io => Error::new(
                ErrorKind::BackendUnavailable,
                format!("cannot reach {server} ({what}): {e}"),
            ),
            _ if e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() => {
                Error::new(
                    ErrorKind::BackendUnavailable,
                    format!("cannot reach {server} ({what}): {e}"),
                )
            }
            _ => Error::new(
                ErrorKind::Backend,
                format!("{server} gave an unexpected answer ({what}): {e}"),
            ),
        }
    }
}

/// The URL without our own `ssl_ca_certs` parameter (redis-rs does not
/// know it), and that parameter's file, percent-decoded.
fn take_ca_file(url: &str) -> Result<(String, Option<String>)> {
    let Some((base, rest)) = url.split_once('?') else {
        return Ok((url.to_string(), None));
    };
    let (query, fragment) = match rest.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (rest, None),
    };
    let mut kept = Vec::new();
    let mut ca = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("ssl_ca_certs", v)) => {
                let path = percent_decode(v).ok_or_else(|| {
                    Error::invalid_argument(format!(
                        "backend URL {:?}: ssl_ca_certs is not valid percent-encoded UTF-8",
                        redact(url)
                    ))
                })?;
                if path.is_empty() {
                    return Err(Error::invalid_argument(format!(
                        "backend URL {:?}: ssl_ca_certs is empty",
                        redact(url)
                    )));
                }
                ca = Some(path);
            }
            _ => kept.push(pair),
        }
    }
    let mut out = base.to_string();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    Ok((out, ca))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The client for `info`: with TLS, the CA file's certificates (read now)
/// as the only ones trusted, else the system's.
fn tls_client(info: redis::ConnectionInfo, ca_file: Option<&str>, url: &str) -> Result<Client> {
    #[cfg(feature = "redis-tls")]
    if matches!(info.addr(), ConnectionAddr::TcpTls { .. }) {
        // rustls needs a process-wide crypto provider; ours is ring. One
        // already installed (by the application) is used as it is.
        let _ = rustls::crypto::ring::default_provider().install_default();
        if let Some(path) = ca_file {
            let pem = read_ca_file(path).map_err(|why| {
                Error::invalid_argument(format!(
                    "backend URL {:?}: cannot read ssl_ca_certs {path:?}: {why}",
                    redact(url)
                ))
            })?;
            use rustls::pki_types::{pem::PemObject, CertificateDer};
            let found = CertificateDer::pem_slice_iter(&pem)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map(|c| c.len());
            if !matches!(found, Ok(n) if n > 0) {
                return Err(Error::invalid_argument(format!(
                    "backend URL {:?}: ssl_ca_certs {path:?} holds no PEM certificate",
                    redact(url)
                )));
            }
            let certs = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem),
            };
            return Client::build_with_tls(info, certs).map_err(|e| {
                Error::invalid_argument(format!(
                    "backend URL {:?}: ssl_ca_certs {path:?} holds no usable PEM certificate: {e}",
                    redact(url)
                ))
            });
        }
    }
    let _ = ca_file;
    Client::open(info)
        .map_err(|e| Error::invalid_argument(format!("backend URL {:?}: {e}", redact(url))))
}

/// The largest CA file read: a system bundle of every public CA is about
/// 200 KB.
const MAX_CA_FILE_BYTES: u64 = 4 << 20;

/// The CA file's bytes, from a regular file of at most
/// [`MAX_CA_FILE_BYTES`]. Opened without blocking and checked before it is
/// read, so that a FIFO (whose open and read would wait for a writer
/// forever), a device such as /dev/zero (endless) or a huge file is refused
/// at once instead of hanging the open or exhausting memory.
#[cfg(feature = "redis-tls")]
fn read_ca_file(path: &str) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    if meta.len() > MAX_CA_FILE_BYTES {
        return Err(format!(
            "{} bytes, more than the {MAX_CA_FILE_BYTES} a CA file may have",
            meta.len()
        ));
    }
    // The file may grow after the check: read no more than the bound.
    let mut pem = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_CA_FILE_BYTES + 1)
        .read_to_end(&mut pem)
        .map_err(|e| e.to_string())?;
    if pem.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(format!(
            "more than the {MAX_CA_FILE_BYTES} bytes a CA file may have"
        ));
    }
    Ok(pem)
}

/// A TLS failure that retrying will not cure: the server's certificate is
/// not trusted or does not name it, or it does not speak TLS.
fn is_tls_refusal(e: &RedisError) -> bool {
    let text = e.to_string();
    [
        "certificate",
        "Certificate",
        "CorruptMessage",
        "InvalidMessage",
        "HandshakeFailure",
    ]
    .iter()
    .any(|k| text.contains(k))
}

/// The URL with any password replaced, fit for a message or a log.
///
/// The credentials end at the last `@` (before our `ssl_ca_certs`
/// parameter, whose path may hold one), not at the first `/` or `?`: a
/// password pasted without percent-encoding may hold those (a base64 one
/// often has `/`), and such a URL is the very one that fails to parse and
/// is shown in the message. A host, port and db never hold an `@`.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find("ssl_ca_certs=").unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            let masked = if rest[..at].contains(':') {
                format!("{user}:***")
            } else {
                "***".to_string()
            };
            format!("{scheme}://{masked}@{}", &rest[at + 1..])
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_passwords_only() {
        assert_eq!(redact("redis://u:secret@h:1/2"), "redis://u:***@h:1/2");
        assert_eq!(redact("redis://:secret@h/0"), "redis://:***@h/0");
        assert_eq!(redact("redis://h:6379/0"), "redis://h:6379/0");
        assert_eq!(redact("no url"), "no url");
        // Checked to fail: with the credentials taken to end at the first
        // '/' or '?', these passwords were shown whole.
        assert_eq!(redact("redis://:se/cr?et@h:1/0"), "redis://:***@h:1/0");
        assert_eq!(redact("redis://u:a#b/c@h/0"), "redis://u:***@h/0");
        assert_eq!(
            redact("rediss://:pw@h:1/0?ssl_ca_certs=/a@b.pem"),
            "rediss://:***@h:1/0?ssl_ca_certs=/a@b.pem"
        );
        assert_eq!(
            redact("rediss://h:1/0?ssl_ca_certs=/a@b.pem"),
            "rediss://h:1/0?ssl_ca_certs=/a@b.pem"
        );
    }

    #[test]
    fn bad_urls_are_invalid_arguments_that_name_the_url() {
        for url in [
            "http://h:1/0",
            "redis//h",
            "redis://h:notaport/0",
            "rediss://h:1/0#insecure",
            "rediss://h:1/0?ssl_ca_certs=/nonexistent/ca.pem",
            "redis://h:1/0?ssl_ca_certs=/etc/hostname",
            "",
        ] {
            let e = Conn::new(url, Duration::from_secs(1))
                .err()
                .unwrap_or_else(|| panic!("{url:?} was accepted"));
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{url}: {e}");
            assert!(e.message().contains("backend URL"), "{e}");
        }
        let e = Conn::new("redis://u:pw@h:1/0x", Duration::from_secs(1))
            .err()
            .expect("a bad db is refused");
        assert!(!e.message().contains("pw"), "password leaked: {e}");
        // A password with a '/' not percent-encoded makes the URL unusable;
        // the message must still not show it.
        let e = Conn::new("redis://:se/cret42@h:1/0", Duration::from_secs(1))
            .err()
            .expect("an unencoded '/' in the password breaks the URL");
        assert!(!e.message().contains("cret42"), "password leaked: {e}");
        let ok = Conn::new("redis://u:pw@127.0.0.1:7000/3", Duration::from_secs(1)).unwrap();
        assert_eq!(ok.server(), "redis://127.0.0.1:7000/3");
        let tls = Conn::new("rediss://127.0.0.1:7000/2", Duration::from_secs(1));
        if cfg!(feature = "redis-tls") {
            assert_eq!(tls.unwrap().server(), "rediss://127.0.0.1:7000/2");
        } else {
            let e = tls.err().expect("no TLS in this build");
            assert!(e.message().contains("no TLS support"), "{e}");
        }
    }

    /// Checked to fail: with `std::fs::read` in place of `read_ca_file`,
    /// the FIFO hung (the guard below reported it after 5 s) and /dev/zero
    /// grew until memory ran out.
    #[cfg(feature = "redis-tls")]
    #[test]
    fn a_ca_file_that_is_no_regular_file_or_too_large_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("ca.fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let huge = dir.path().join("huge.pem");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(MAX_CA_FILE_BYTES + 1)
            .unwrap();
        for (path, why) in [
            (fifo.to_str().unwrap(), "not a regular file"),
            ("/dev/zero", "not a regular file"),
            (dir.path().to_str().unwrap(), "not a regular file"),
            (huge.to_str().unwrap(), "more than the"),
        ] {
            let url = format!("rediss://h:1/0?ssl_ca_certs={path}");
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(Conn::new(&url, Duration::from_secs(1)).err());
            });
            let e = rx
                .recv_timeout(Duration::from_secs(5))
                .unwrap_or_else(|_| panic!("ssl_ca_certs={path}: still reading after 5 s"))
                .unwrap_or_else(|| panic!("ssl_ca_certs={path} was accepted"));
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{path}: {e}");
            assert!(
                e.message().contains("ssl_ca_certs") && e.message().contains(why),
                "{path}: {e}"
            );
        }
    }

    #[test]
    fn the_ca_file_parameter_is_ours_and_percent_decoded() {
        assert_eq!(
            take_ca_file("rediss://h:1/0?ssl_ca_certs=%2Ftmp%2Fa%20b.pem&protocol=resp2").unwrap(),
            (
                "rediss://h:1/0?protocol=resp2".to_string(),
                Some("/tmp/a b.pem".to_string())
            )
        );
        assert_eq!(
            take_ca_file("redis://h:1/0").unwrap(),
            ("redis://h:1/0".to_string(), None)
        );
        assert!(take_ca_file("rediss://h/0?ssl_ca_certs=").is_err());
        assert!(take_ca_file("rediss://h/0?ssl_ca_certs=%zz").is_err());
    }
}
