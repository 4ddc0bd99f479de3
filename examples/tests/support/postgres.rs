//! A real PostgreSQL server (Debian's `postgresql` package, installed here
//! when missing and possible) in a temporary directory on a free loopback
//! port, stopped when dropped. PostgreSQL refuses to run as root, so as
//! root the cluster belongs to the `postgres` user the package creates
//! (`runuser`). When it cannot be had the test fails, or with
//! `CLERK_TESTS_ALLOW_SKIP` set is skipped with a line on stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
    pub port: u16,
}

fn quiet(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `/usr/lib/postgresql/<version>/bin`, the newest installed.
fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn ensure_installed() -> Option<PathBuf> {
    if let Some(bin) = bin_dir() {
        return Some(bin);
    }
    eprintln!("postgres test: installing Debian's postgresql");
    let install = ["install", "-y", "--no-install-recommends", "postgresql"];
    if !quiet(Command::new("apt-get").args(install)) && quiet(Command::new("apt-get").arg("update"))
    {
        quiet(Command::new("apt-get").args(install));
    }
    bin_dir()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
}

impl Postgres {
    pub fn start() -> Option<Self> {
        let Some(bin) = ensure_installed() else {
            assert!(
                std::env::var_os("CLERK_TESTS_ALLOW_SKIP").is_some(),
                "Debian's postgresql is not installed and could not be (apt-get install \
                 postgresql as root); set CLERK_TESTS_ALLOW_SKIP=1 to skip the Postgres tests"
            );
            eprintln!("postgres test SKIPPED (CLERK_TESTS_ALLOW_SKIP): no postgresql");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()?;
        let dir = std::env::temp_dir().join(format!("clerk-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let as_postgres = is_root();
        if as_postgres {
            quiet(Command::new("chown").args(["postgres:postgres"]).arg(&dir));
        }
        let pg = Self {
            bin,
            dir,
            as_postgres,
            port,
        };
        let data = pg.dir.join("data");
        let ok = quiet(&mut pg.command(
            "initdb",
            &["-D", &data.to_string_lossy(), "-A", "trust", "-U", "clerk"],
        )) && quiet(&mut pg.command(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-o",
                &format!(
                    "-p {port} -k {} -c listen_addresses=127.0.0.1",
                    pg.dir.to_string_lossy()
                ),
                "-w",
                "start",
            ],
        ));
        if !ok {
            eprintln!("postgres test: the server did not start");
            return None;
        }
        // `pg_ctl -w` returns once it accepts connections (no sleeping).
        Some(pg)
    }

    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe).args(args);
            c
        } else {
            let mut c = Command::new(exe);
            c.args(args);
            c
        }
    }

    /// `postgres://clerk@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://clerk@127.0.0.1:{}/postgres", self.port)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = quiet(&mut self.command(
            "pg_ctl",
            &["-D", &data.to_string_lossy(), "-m", "immediate", "stop"],
        ));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
