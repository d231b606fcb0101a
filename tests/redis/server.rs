//! Private `redis-server` processes: 127.0.0.1, a free port and a folder of
//! their own under `ASSET_CACHE_REDIS_WORK` (scripts/test-redis.sh's
//! temporary folder, whose trap kills every server by its pid file should a
//! test die before its `Drop`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub port: u16,
    pub dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

fn work_dir() -> PathBuf {
    std::env::var_os("ASSET_CACHE_REDIS_WORK")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().unwrap().port()
}

impl Server {
    /// Starts a server with these extra `redis-server` arguments and waits
    /// until it answers.
    pub fn start(tag: &str, extra: &[&str]) -> Server {
        let port = free_port();
        let dir = work_dir().join(format!("{tag}-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut args: Vec<String> = [
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--dir",
            dir.to_str().unwrap(),
            "--save",
            "",
            "--daemonize",
            "no",
            "--pidfile",
            dir.join("redis.pid").to_str().unwrap(),
            "--logfile",
            dir.join("redis.log").to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut s = Server {
            port,
            dir,
            args,
            child: None,
        };
        s.restart();
        s
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("server running").id() as i32
    }

    /// (Re)starts the server on the same port and folder.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "server already running");
        let child = Command::new("redis-server")
            .args(&self.args)
            .stdin(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test-redis.sh installs it)");
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(mut con) = redis::Client::open(self.url())
                .and_then(|c| c.get_connection_with_timeout(Duration::from_millis(200)))
            {
                // With a password set, PING says NOAUTH: up all the same.
                match redis::cmd("PING").query::<String>(&mut con) {
                    Ok(_) => return,
                    Err(e) if e.code() == Some("NOAUTH") => return,
                    Err(_) => {}
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "redis-server on port {} did not start; see {}",
            self.port,
            self.dir.display()
        );
    }

    /// SIGKILL, and wait until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// A plain connection for inspecting or planting keys.
    pub fn raw(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.signal(libc::SIGCONT);
        }
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The shared server scripts/test-redis.sh started.
pub fn shared_url() -> String {
    std::env::var("ASSET_CACHE_REDIS_URL")
        .expect("ASSET_CACHE_REDIS_URL is not set: run scripts/test-redis.sh")
}
