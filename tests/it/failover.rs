//! Hardening of the control plane on PostgreSQL, process by process: real daemons, real
//! signals and a proxy that cuts or partitions a daemon's connections (`proxy.rs`).
//!
//! - a `NOTIFY` flood from a role that may only `SELECT` costs at most one judgment per
//!   interval, and payloads naming no rollout cost none;
//! - a leader partitioned from the database is replaced within two leases, its sessions are
//!   ended by the new leader, and it writes nothing when the partition heals;
//! - a rollback (CLI, and HTTP on the standby) completes while the leader is frozen inside
//!   its write transaction, saying what it waits for;
//! - after an outage the passes resume within about a second of the store answering, and
//!   `/readyz` says why it is not ready meanwhile, and while passes fail with the store up.

use std::time::{Duration, Instant};

use rollout::controller::Status;
use serde_json::Value;
use sqlx::Connection;

use crate::http::{daemon_address, http_client};
use crate::proxy::Proxy;
use crate::support::{eventually, Daemon, TestDb};

const WAIT: Duration = Duration::from_secs(60);
const LEASE_SECS: u64 = 3;
const LEASE: &[&str] = &["--lease", "3s"];

const LONG: &str = "
tick: '* * * * * *'
rollouts:
  - name: ha
    flag_prefix: HA_
    seed: 5
    stages:
      - shadow: { duration: 1h }
      - full: {}
";

const STEPS: &str = "
tick: '* * * * * *'
rollouts:
  - name: ha
    flag_prefix: HA_
    seed: 5
    stages:
      - shadow: { duration: 2s }
      - canary: { percentage: 5, duration: 2s }
      - canary: { percentage: 25, duration: 2s }
      - canary: { percentage: 50, duration: 2s }
      - full: {}
";

/// A config file named `name` in the test's folder whose `database` is `url`.
fn config_at(db: &TestDb, name: &str, url: &str, body: &str) -> std::path::PathBuf {
    let path = db.dir.path().join(name);
    std::fs::write(&path, format!("database: {url}\n{body}")).unwrap();
    path
}

async fn connect(db: &TestDb) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(&db.url).await.unwrap()
}

/// The leader epoch and holder in `rollout_leader` (none before the first migration).
async fn leader_row(db: &TestDb) -> (i64, Option<String>) {
    sqlx::query_as("SELECT epoch, holder FROM rollout_leader WHERE id = 1")
        .fetch_one(&mut connect(db).await)
        .await
        .unwrap_or((0, None))
}

fn holder_is(holder: &Option<String>, pid: u32) -> bool {
    holder
        .as_deref()
        .is_some_and(|h| h.ends_with(&format!(":{pid}")))
}

/// How many database sessions the daemon with `pid` has (its `application_name` is
/// `rollout HOST:PID`).
async fn sessions_of(db: &TestDb, pid: u32) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name LIKE 'rollout %:' || $1",
    )
    .bind(pid.to_string())
    .fetch_one(&mut connect(db).await)
    .await
    .unwrap()
}

/// `GET base + path` as JSON, with its status.
async fn get_json(base: &str, path: &str) -> Option<(u16, Value)> {
    let r = http_client()
        .get(format!("{base}{path}"))
        .send()
        .await
        .ok()?;
    let status = r.status().as_u16();
    Some((status, r.json().await.ok()?))
}

/// Waits until the daemon at `base` leads.
async fn wait_leading(base: &str) {
    eventually(WAIT, "the daemon to lead", || async {
        let (_, ready) = get_json(base, "/readyz").await?;
        (ready["role"] == "leader").then_some(())
    })
    .await;
}

/// A daemon on `db` with the HTTP API, ticking `LONG`, once it leads; and its base URL.
async fn leading_daemon(db: &TestDb) -> (Daemon, String) {
    let cfg = db.config(LONG);
    let log = db.dir.path().join("d.log");
    let d = Daemon::start_with(&cfg, log.clone(), &["--listen", "127.0.0.1:0"]);
    let base = daemon_address(&log).await;
    wait_leading(&base).await;
    (d, base)
}

/// The judgments the daemon at `base` ran (`rollout_judgments_total`, all results).
async fn judgments(base: &str) -> u64 {
    let text = http_client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("rollout_judgments_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Waits until the judgment count stops moving (no change over a second: a spaced
/// judgment runs every 200 ms while requests are pending) and returns it.
async fn settled_judgments(base: &str) -> u64 {
    let deadline = Instant::now() + WAIT;
    let mut last = judgments(base).await;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = judgments(base).await;
        if now == last {
            return now;
        }
        assert!(Instant::now() < deadline, "the judgments never settled");
        last = now;
    }
}

/// A role that may only read the flags floods the leader with `NOTIFY`: 10,000
/// notifications naming no rollout cost no judgment (dropped before scheduling), and
/// 20,000 naming the rollout, sent one by one as fast as the connection allows, cost at
/// most one judgment per 200 ms of the flood (counting a second more for the listener to
/// catch up with the sender, and the one pending at the end).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL at 127.0.0.1:5432 (scripts/test runs them)"]
async fn a_notify_flood_costs_at_most_one_judgment_per_interval() {
    let db = TestDb::postgres().await;
    let (_d, base) = leading_daemon(&db).await;

    // The flooding role: it may connect and read the flags, nothing else.
    let role = format!("flood_{}", std::process::id());
    let mut admin = connect(&db).await;
    for sql in [
        format!("DROP ROLE IF EXISTS {role}"),
        format!("CREATE ROLE {role} LOGIN"),
        format!("GRANT SELECT ON rollout_flags TO {role}"),
    ] {
        sqlx::query(&sql).execute(&mut admin).await.unwrap();
    }
    let (head, rest) = db.url.split_once("://").unwrap();
    let (_, host) = rest.split_once('@').unwrap();
    let mut flood = sqlx::PgConnection::connect(&format!("{head}://{role}@{host}"))
        .await
        .unwrap();

    let before = settled_judgments(&base).await;
    sqlx::query(
        "SELECT pg_notify('rollout_observations', 'nope' || g) FROM generate_series(1, 10000) g",
    )
    .execute(&mut flood)
    .await
    .unwrap();
    sqlx::query("NOTIFY rollout_observations, 'ha'")
        .execute(&mut flood)
        .await
        .unwrap();
    // Notifications arrive in order: when the one naming `ha` has been judged, the 10,000
    // before it have been seen.
    let after_garbage = settled_judgments(&base).await;
    assert_eq!(
        after_garbage,
        before + 1,
        "10,000 payloads naming no rollout: no judgment; one naming it: one"
    );

    let started = Instant::now();
    for _ in 0..20_000 {
        sqlx::query("NOTIFY rollout_observations, 'ha'")
            .execute(&mut flood)
            .await
            .unwrap();
    }
    let flood_took = started.elapsed();
    let after = settled_judgments(&base).await;
    let ran = after - after_garbage;
    let bound = ((flood_took.as_millis() + 1000) / 200) as u64 + 2;
    eprintln!("20,000 NOTIFY in {flood_took:?}: {ran} judgments (bound {bound})");
    assert!(ran >= 1, "the flood was seen");
    assert!(ran <= bound, "{ran} judgments for a {flood_took:?} flood");

    drop(flood);
    for sql in [format!("DROP OWNED BY {role}"), format!("DROP ROLE {role}")] {
        let _ = sqlx::query(&sql).execute(&mut admin).await;
    }
}

/// A leader whose connections are partitioned (not closed: nothing passes either way) is
/// replaced by the standby within two leases; the new leader ends the old one's database
/// sessions; the old one stands by when its lease runs out, while still cut off; and when
/// the partition heals, what it sent meanwhile is delivered and it writes nothing: every
/// history row after the partition is the new leader's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL at 127.0.0.1:5432 (scripts/test runs them)"]
async fn a_partitioned_leader_is_replaced_and_writes_nothing_when_it_heals() {
    let db = TestDb::postgres().await;
    let (proxy, proxied) = Proxy::before(&db).await;
    let body = STEPS.replace("2s", "4s");
    let a_cfg = config_at(&db, "a.yaml", &proxied, &body);
    let b_cfg = db.config(&body);
    let a = Daemon::start_with(&a_cfg, db.dir.path().join("a.log"), LEASE);
    eventually(WAIT, "the first daemon to lead", || async {
        let (_, holder) = leader_row(&db).await;
        holder_is(&holder, a.pid()).then_some(())
    })
    .await;
    let b = Daemon::start_with(&b_cfg, db.dir.path().join("b.log"), LEASE);
    eventually(WAIT, "the second daemon to stand by", || async {
        b.log_text()
            .contains("standby: another daemon leads")
            .then_some(())
    })
    .await;
    let store = db.store().await;
    eventually(WAIT, "the rollout to start", || async {
        store.state("ha").await.ok()?.map(|_| ())
    })
    .await;
    assert!(sessions_of(&db, a.pid()).await > 0);

    proxy.partition();
    let cut_at = Instant::now();
    let rows_before = store.history("ha").await.unwrap().len();
    eventually(WAIT, "the standby to take over", || async {
        let (_, holder) = leader_row(&db).await;
        holder_is(&holder, b.pid()).then_some(())
    })
    .await;
    let took = cut_at.elapsed();
    eprintln!("failover after a partition: {took:?} (lease {LEASE_SECS} s)");
    assert!(
        took <= Duration::from_secs(2 * LEASE_SECS),
        "took over {took:?} after the partition; two leases are {} s",
        2 * LEASE_SECS
    );
    eventually(WAIT, "the old leader's sessions to be ended", || async {
        (sessions_of(&db, a.pid()).await == 0).then_some(())
    })
    .await;
    assert!(
        b.log_text()
            .contains("ended the previous leader's database sessions"),
        "{}",
        b.log_text()
    );
    eventually(WAIT, "the cut-off leader to stand by", || async {
        a.log_text().contains("lost the leadership").then_some(())
    })
    .await;
    eventually(WAIT, "the new leader to complete the rollout", || async {
        let s = store.state("ha").await.ok()??;
        (s.status() == Status::Completed).then_some(())
    })
    .await;
    let (epoch, _) = leader_row(&db).await;

    proxy.heal();
    eventually(
        WAIT,
        "the old leader to reach the database again",
        || async { (sessions_of(&db, a.pid()).await > 0).then_some(()) },
    )
    .await;
    // Reconnected: its renewals find the lease taken; it wrote nothing since the
    // partition.
    let history = store.history("ha").await.unwrap();
    let after: Vec<&str> = history[rows_before..]
        .iter()
        .map(|e| e.actor.as_str())
        .collect();
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|w| w.ends_with(&format!(":{}", b.pid()))),
        "only the new leader wrote after the partition: {after:?}"
    );
    assert_eq!(
        leader_row(&db).await.0,
        epoch,
        "the lease stayed with the new leader"
    );
    let a_log = a.log_text();
    assert!(
        !a_log[a_log.find("lost the leadership").unwrap()..].contains("became the leader"),
        "{a_log}"
    );
}

/// The leader is frozen (SIGSTOP) inside its write transaction, holding the locks a
/// rollback needs (the test hook holds its `advance` commit open). A rollback through the
/// CLI and one through the standby's HTTP admin endpoint both complete: each wait for a
/// lock is bounded, and the frozen daemon's session, idle in its transaction, is ended and
/// named in the log (without the right to end it, the action would wait, saying so, for the
/// server's 10 s idle-in-transaction timeout). Woken, the old leader cannot undo it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL at 127.0.0.1:5432 (scripts/test runs them)"]
async fn a_rollback_completes_while_the_leader_is_frozen_inside_its_transaction() {
    const TOKEN: &str = "frozen-test-token-0123456789";
    let db = TestDb::postgres().await;
    let cfg = db.config(STEPS);
    let a = Daemon::start_env(
        &cfg,
        db.dir.path().join("a.log"),
        LEASE,
        &[("ROLLOUT_TEST_HOLD_COMMIT", "advance")],
    );
    eventually(WAIT, "the first daemon to lead", || async {
        let (_, holder) = leader_row(&db).await;
        holder_is(&holder, a.pid()).then_some(())
    })
    .await;
    let b_log = db.dir.path().join("b.log");
    let _b = Daemon::start_env(
        &cfg,
        b_log.clone(),
        &["--lease", "3s", "--listen", "127.0.0.1:0"],
        &[("ROLLOUT_ADMIN_TOKEN", TOKEN)],
    );
    let b_base = daemon_address(&b_log).await;
    eventually(WAIT, "the leader to hold its commit open", || async {
        a.log_text()
            .contains("test hook: holding the commit transaction open")
            .then_some(())
    })
    .await;
    a.signal("STOP");
    let frozen_at = Instant::now();

    let cli = {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || {
            let out = crate::support::run(
                &cfg,
                &["rollback", "ha", "--reason", "drawdown on the desk"],
            );
            (out, frozen_at.elapsed())
        })
    };
    let http = async {
        let resp = http_client()
            .post(format!("{b_base}/v1/rollouts/ha/rollback"))
            .bearer_auth(TOKEN)
            .timeout(WAIT)
            .json(&serde_json::json!({"reason": "drawdown, via the standby"}))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or_default();
        (status, body, frozen_at.elapsed())
    };
    let (cli, (status, body, http_took)) = tokio::join!(cli, http);
    let (out, cli_took) = cli.unwrap();
    let stderr = crate::support::stderr(&out);
    eprintln!("rollback with the leader frozen in its transaction: CLI {cli_took:?}, HTTP via the standby {http_took:?}");
    assert!(out.status.success(), "{stderr}");
    assert_eq!(status, 200, "{body}");
    // What blocked them, and what was done about it, said by whichever hit the lock first
    // (the CLI on its stderr, the standby in its log, from the rollback or from its lease
    // claim, which needs the leader row the frozen transaction also holds; the others'
    // waits then end): the frozen daemon's session, named by its process, ended once idle
    // in its transaction for 2 s (or waited for).
    let said = format!("{stderr}\n{}", std::fs::read_to_string(&b_log).unwrap());
    assert!(
        said.contains(&format!(":{} (backend", a.pid()))
            && (said.contains("ended a stalled transaction holding the")
                || said.contains("waiting for a lock held by rollout ")),
        "{said}"
    );
    // Bounded: each wait for a lock is 2 s; a stalled holder is ended (at the latest, the
    // server ends it after 10 s).
    for took in [cli_took, http_took] {
        assert!(took < Duration::from_secs(15), "{took:?}");
    }
    let store = db.store().await;
    let s = store.state("ha").await.unwrap().unwrap();
    assert_eq!(s.status(), Status::RolledBack);
    let rollbacks = store
        .history("ha")
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "rollback")
        .count();
    assert_eq!(rollbacks, 1, "one rollback; the other found it done");

    a.signal("CONT");
    eventually(WAIT, "the old leader to stand by", || async {
        a.log_text().contains("lost the leadership").then_some(())
    })
    .await;
    let s = store.state("ha").await.unwrap().unwrap();
    assert_eq!(s.status(), Status::RolledBack, "the rollback stands");
    assert_eq!(
        store.rollout_flags("ha").await.unwrap()["HA_MODE"],
        "rolled_back"
    );
}

/// The store goes away (the proxy closes every connection and refuses new ones) long
/// enough for the backoff to grow; `/readyz` says not ready, and why, meanwhile. When the
/// store answers again, the passes resume within about a second, whatever the backoff had
/// grown to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL at 127.0.0.1:5432 (scripts/test runs them)"]
async fn passes_resume_within_seconds_of_the_store_answering_and_readyz_says_why() {
    let db = TestDb::postgres().await;
    let (proxy, proxied) = Proxy::before(&db).await;
    let cfg = config_at(&db, "d.yaml", &proxied, LONG);
    let log = db.dir.path().join("d.log");
    let d = Daemon::start_with(&cfg, log.clone(), &["--listen", "127.0.0.1:0"]);
    let base = daemon_address(&log).await;
    wait_leading(&base).await;

    proxy.cut();
    let (status, unready) = eventually(WAIT, "/readyz to say not ready", || async {
        let (status, body) = get_json(&base, "/readyz").await?;
        (status == 503).then_some((status, body))
    })
    .await;
    assert_eq!(status, 503);
    let why = unready["error"].as_str().unwrap_or_default().to_owned();
    assert!(!why.is_empty(), "{unready}");
    eprintln!("/readyz during the outage: {unready}");
    // Long enough for the backoff to have grown past the probe's second.
    eventually(WAIT, "the backoff to grow", || async {
        d.log_text().contains("retry_in=4s").then_some(())
    })
    .await;

    let mut direct = connect(&db).await;
    let restored_at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut direct)
        .await
        .unwrap();
    proxy.restore();
    let restored = Instant::now();
    eventually(WAIT, "a pass after the store answers", || async {
        let last: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("SELECT last_tick_at FROM rollout_leader WHERE id = 1")
                .fetch_one(&mut connect(&db).await)
                .await
                .ok()?;
        last.filter(|t| *t > restored_at).map(|_| ())
    })
    .await;
    let resumed = restored.elapsed();
    eprintln!("passes resumed {resumed:?} after the store answered");
    assert!(resumed < Duration::from_secs(4), "{resumed:?}");
    eventually(WAIT, "/readyz to be ready again", || async {
        let (status, _) = get_json(&base, "/readyz").await?;
        (status == 200).then_some(())
    })
    .await;
}

/// The passes fail while the store still answers (a trigger refuses the pass's record of
/// itself, as a broken table would): `/readyz` says not ready, and that the passes fail,
/// with the store's words; once they succeed again it is ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL at 127.0.0.1:5432 (scripts/test runs them)"]
async fn readyz_says_not_ready_while_the_passes_fail() {
    let db = TestDb::postgres().await;
    let (_d, base) = leading_daemon(&db).await;
    let mut admin = connect(&db).await;
    for sql in [
        "CREATE FUNCTION refuse_ticks() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF NEW.last_tick_at IS DISTINCT FROM OLD.last_tick_at THEN \
         RAISE EXCEPTION 'passes refused by the test'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_ticks BEFORE UPDATE ON rollout_leader \
         FOR EACH ROW EXECUTE FUNCTION refuse_ticks()",
    ] {
        sqlx::query(sql).execute(&mut admin).await.unwrap();
    }
    let unready = eventually(WAIT, "/readyz to say the passes fail", || async {
        let (status, body) = get_json(&base, "/readyz").await?;
        (status == 503).then_some(body)
    })
    .await;
    let why = unready["error"].as_str().unwrap_or_default();
    assert!(
        why.contains("evaluation passes are failing") && why.contains("passes refused by the test"),
        "{unready}"
    );
    assert_eq!(unready["role"], "leader", "{unready}");
    sqlx::query("DROP TRIGGER refuse_ticks ON rollout_leader")
        .execute(&mut admin)
        .await
        .unwrap();
    eventually(WAIT, "/readyz to be ready again", || async {
        let (status, _) = get_json(&base, "/readyz").await?;
        (status == 200).then_some(())
    })
    .await;
}
