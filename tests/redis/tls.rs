//! rediss:// (TLS) against a real `redis-server --tls-port`, with a
//! throwaway CA and server certificate made at test time by the `openssl`
//! command: the cache works through TLS (the same data as through the plain
//! port), the CA is named with `?ssl_ca_certs=`, and an untrusted server,
//! an unreadable CA file, `#insecure`, or a server that does not speak TLS
//! each give a clear status within the timeout.
//!
//! Checked to fail: with `tls_client` ignoring the CA file (the system's
//! trust store only), the open through TLS failed with BACKEND_ERROR
//! ("invalid peer certificate: UnknownIssuer"); with `is_tls_refusal`
//! answering false, the untrusted server gave BACKEND_UNAVAILABLE.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use asset_cache::{AnyBackend, AssetCache, ErrorKind};
use serde_json::Value;

use crate::server::Server;
use crate::support::*;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command must be installed (scripts/test-redis.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, and a server certificate it signed for 127.0.0.1 and localhost.
fn make_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=asset-cache test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

pub fn rediss_with_a_private_ca() {
    let certs = std::env::var_os("ASSET_CACHE_REDIS_WORK")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(unique("tls-certs"));
    let (ca, cert, key) = make_certs(&certs);
    let tls_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server::start(
        "tls",
        &[
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-file",
            cert.to_str().unwrap(),
            "--tls-key-file",
            key.to_str().unwrap(),
            "--tls-ca-cert-file",
            ca.to_str().unwrap(),
            "--tls-auth-clients",
            "no",
        ],
    );
    let name = unique("tls");
    let timeout = Duration::from_secs(3);
    let url = format!(
        "rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={}",
        ca.to_str().unwrap().replace('%', "%25")
    );
    let cache = open(&url, &name, timeout);
    cache.add(asset("t1", 1)).unwrap();
    // The same store through the plain port: it went to this server.
    let plain = open(&server.url(), &name, timeout);
    assert_eq!(plain.get("t1"), Some(asset("t1", 1)));
    plain.add(asset("t2", 2)).unwrap();
    cache.load().unwrap();
    assert_eq!(cache.ids(), ["t1", "t2"]);

    let refused = |url: &str| {
        let t = Instant::now();
        let e = AssetCache::<Value, AnyBackend>::open_any(options(url, &name, timeout))
            .err()
            .unwrap_or_else(|| panic!("{url} opened"));
        assert!(
            t.elapsed() <= timeout + Duration::from_millis(500),
            "{url}: {:?}",
            t.elapsed()
        );
        e
    };
    // The system's trust store does not know our CA.
    let e = refused(&format!("rediss://127.0.0.1:{tls_port}/0"));
    assert_eq!(e.kind(), ErrorKind::Backend, "{e}");
    assert!(
        e.message().contains("TLS")
            && e.message()
                .contains(&format!("rediss://127.0.0.1:{tls_port}")),
        "{e}"
    );
    // TLS to the plain port: the server answers in plain text.
    let e = refused(&format!(
        "rediss://127.0.0.1:{}/0?ssl_ca_certs={}",
        server.port,
        ca.display()
    ));
    assert!(
        matches!(e.kind(), ErrorKind::Backend | ErrorKind::BackendUnavailable),
        "{e}"
    );
    for bad in [
        format!("rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs=/nonexistent/ca.pem"),
        format!(
            "rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={}",
            key.display()
        ),
        format!("rediss://127.0.0.1:{tls_port}/0#insecure"),
    ] {
        let e = refused(&bad);
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}: {e}");
        assert!(e.message().contains("backend URL"), "{e}");
    }
    cache.invalidate().unwrap();
    let _ = std::fs::remove_dir_all(&certs);
}
