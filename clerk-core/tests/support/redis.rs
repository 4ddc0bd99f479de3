//! A real `redis-server` (Debian's package, installed here when missing and
//! possible) on a free loopback port in a temporary directory, stopped when
//! dropped. When it cannot be had the test fails, or with
//! `CLERK_TESTS_ALLOW_SKIP` set is skipped with a line on stderr.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const SERVER: &str = "/usr/bin/redis-server";

pub struct RedisServer {
    child: Child,
    pub port: u16,
    dir: std::path::PathBuf,
}

fn ensure_installed() -> bool {
    if std::path::Path::new(SERVER).exists() {
        return true;
    }
    eprintln!("redis test: installing Debian's redis-server");
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let install = ["install", "-y", "--no-install-recommends", "redis-server"];
    if !apt(&install) && apt(&["update"]) {
        apt(&install);
    }
    std::path::Path::new(SERVER).exists()
}

impl RedisServer {
    pub fn start() -> Option<Self> {
        if !ensure_installed() {
            // Never counted as passed: without it the test fails, unless
            // skipping is asked for explicitly.
            assert!(
                std::env::var_os("CLERK_TESTS_ALLOW_SKIP").is_some(),
                "Debian's redis-server is not installed and could not be (apt-get install \
                 redis-server as root); set CLERK_TESTS_ALLOW_SKIP=1 to skip the Redis tests"
            );
            eprintln!("redis test SKIPPED (CLERK_TESTS_ALLOW_SKIP): no redis-server");
            return None;
        }
        Self::on(free_port())
    }

    /// Starts (again) on `port`.
    pub fn on(port: u16) -> Option<Self> {
        let dir = std::env::temp_dir().join(format!("clerk-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let mut child = Command::new(SERVER)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
            ])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let out = child.stdout.take()?;
        let mut lines = BufReader::new(out).lines();
        // Blocks until the server says it is ready (no sleeping).
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains("Ready to accept connections") => break,
                Some(Ok(_)) => {}
                _ => {
                    let _ = child.kill();
                    eprintln!("redis test: redis-server exited before it was ready");
                    return None;
                }
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Some(Self { child, port, dir })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}
