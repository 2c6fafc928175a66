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

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
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

    /// A fresh PostgreSQL database, or `None` (with a loud message) when PostgreSQL is not
    /// running outside CI. In CI (`CI=true`) a missing PostgreSQL fails the test.
    pub async fn postgres() -> Option<TestDb> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let admin = pg_admin_url();
        let mut conn = match PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) if in_ci() => {
                panic!("PostgreSQL is required in CI but {admin} is unreachable: {e}")
            }
            Err(e) => {
                eprintln!("SKIPPED: PostgreSQL test, {admin} is unreachable ({e}); CI=true makes this a failure");
                return None;
            }
        };
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
        Some(TestDb {
            url: format!("{base}/{name}"),
            dir: tempfile::tempdir().expect("tempdir"),
            pg_name: Some(name),
        })
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

/// Generates a SQLite and a PostgreSQL test from `async fn(TestDb)`.
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
                async fn postgres() {
                    if let Some(db) = $crate::support::TestDb::postgres().await {
                        super::$name(db).await
                    }
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
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let child = bin()
            .arg("--config")
            .arg(config)
            .arg("daemon")
            .env("ROLLOUT_LOG", "info")
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
