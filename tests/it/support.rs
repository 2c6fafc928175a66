//! Test helpers: a fresh database per test on SQLite or PostgreSQL, and the `rollout` binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rollout::store::{self, Store};
use sqlx::{Connection, PgConnection};
use tempfile::TempDir;

pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

fn pg_admin_url() -> String {
    std::env::var("ROLLOUT_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG.into())
}

/// Whether this run is CI: `CI` is `true`, `1` or `yes` in any letter case. The one
/// definition for the Rust tests; `scripts/ci.sh` and `clients/python/tests/conftest.py`
/// say the same for bash and Python.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

/// The PostgreSQL tests are `#[ignore = "needs PostgreSQL ..."]`, so that a plain
/// `cargo test` on a machine without PostgreSQL reports them as ignored instead of passing
/// them. `scripts/test` runs them (`-- --include-ignored`) whenever PostgreSQL is reachable,
/// and always in CI; this test fails a CI run that would leave them out.
#[test]
fn ci_runs_the_postgres_tests() {
    if !in_ci() {
        return; // Outside CI either is fine: `cargo test` says how many were ignored.
    }
    assert!(
        std::env::args().any(|a| a == "--include-ignored" || a == "--ignored"),
        "CI must run the PostgreSQL tests: run scripts/test, or `cargo test -- --include-ignored`"
    );
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    pub dir: TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("rollout.db").display());
        TestDb {
            url,
            dir,
            pg_name: None,
        }
    }

    /// A fresh PostgreSQL database. Every test that calls this is `#[ignore]`d (see
    /// [`ci_runs_the_postgres_tests`]), so it runs only when asked for (`--include-ignored`);
    /// then an unreachable PostgreSQL fails the test: it never passes without having run.
    pub async fn postgres() -> TestDb {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let admin = pg_admin_url();
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "this PostgreSQL test was asked for (--include-ignored) but {admin} is \
                 unreachable: {e}; start it with scripts/ensure-postgres, or run plain \
                 `cargo test` to leave the PostgreSQL tests out (reported as ignored)"
            )
        });
        let name = format!(
            "rollout_it_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            rand::random::<u32>()
        );
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        TestDb {
            url: format!("{base}/{name}"),
            dir: tempfile::tempdir().expect("tempdir"),
            pg_name: Some(name),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg_name.is_some()
    }

    pub async fn store(&self) -> Box<dyn Store> {
        let s = store::open(&self.url).expect("open store");
        s.migrate().await.expect("migrate");
        s
    }

    /// Writes a config file whose `database` is this database.
    pub fn config(&self, body: &str) -> PathBuf {
        let path = self.dir.path().join("rollout.yaml");
        std::fs::write(&path, format!("database: {}\n{body}", self.url)).expect("write config");
        path
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        let admin = pg_admin_url();
        // Drop runs inside the test's runtime; a separate thread gets its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut c = PgConnection::connect(&admin).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// Generates a SQLite and a PostgreSQL test from `async fn(TestDb)`. The PostgreSQL one is
/// `#[ignore]`d, with the same reason as each test that calls `TestDb::postgres()` directly.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::TestDb::sqlite()).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL at 127.0.0.1:5432 (scripts/test runs them)"]
                async fn postgres() {
                    super::$name($crate::support::TestDb::postgres().await).await
                }
            }
        )*
    };
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rollout"));
    c.env_remove("ROLLOUT_DATABASE_URL")
        .env_remove("ROLLOUT_CONFIG")
        .env("ROLLOUT_ACTOR", "tester@it");
    c
}

/// Runs `rollout --config CONFIG ARGS...` to completion.
pub fn run(config: &Path, args: &[&str]) -> Output {
    bin()
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run rollout")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A `rollout daemon` child process, killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn start(config: &Path, log: PathBuf) -> Daemon {
        Daemon::start_with(config, log, &[])
    }

    /// `rollout daemon ARGS...`, e.g. `--listen 127.0.0.1:PORT`.
    pub fn start_with(config: &Path, log: PathBuf, args: &[&str]) -> Daemon {
        Daemon::start_env(config, log, args, &[])
    }

    /// [`Daemon::start_with`] with environment variables set.
    pub fn start_env(config: &Path, log: PathBuf, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let child = bin()
            .arg("--config")
            .arg(config)
            .arg("daemon")
            .args(args)
            .env("ROLLOUT_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn daemon");
        Daemon { child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{sig} failed");
    }

    pub fn kill9(mut self) {
        self.signal("KILL");
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it returns `Some`, failing after `timeout`. Waiting for an observable
/// condition, not for time to pass.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
