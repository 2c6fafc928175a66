//! `rollout status` tells the truth: who leads and whether its ticks are on time (a killed
//! daemon shows as overdue), why a pending rollout has not started, what is left of the
//! stage, the A/B stage's progress, the guardrails, one stage numbering, and `--watch`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rollout::assignment::Variant;
use rollout::config::Config;
use rollout::engine;
use rollout::experiment::{Observation, StageEntry};
use rollout::status::RolloutStatus;
use rollout::store::{LeaderRecord, ReadingStatus, Store, StoreError, Writer};
use rollout::{Clock, Service};
use serde_json::Value;

use crate::on_both_stores;
use crate::support::{bin, eventually, run, stderr, stdout, Daemon, TestDb};
use crate::walk::{plan, t0};

/// A clock that always says `self.0`: time is an input.
struct At(DateTime<Utc>);

impl Clock for At {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

pub fn service(store: &Arc<dyn Store>, config: &Config, now: DateTime<Utc>) -> Service {
    Service::new(
        store.clone(),
        Arc::new(arc_swap::ArcSwap::from_pointee(config.clone())),
        Arc::new(At(now)),
    )
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

const THREE_STAGES: &str = "
rollouts:
  - name: gr
    flag_prefix: GR_
    seed: 7
    stages:
      - shadow: { duration: 7d }
      - canary: { percentage: 5, duration: 24h }
      - full: {}
";

/// The overdue rule against the leader row as the store keeps it: a leader that stopped
/// ticking is overdue after three of its intervals; a deposed leader cannot record a tick.
async fn a_leader_that_stopped_ticking_is_overdue(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let c = plan(THREE_STAGES);
    let s = service(&store, &c, t0()).status("gr").await.unwrap();
    assert_eq!(
        (
            &s.liveness.leader,
            s.liveness.last_tick_at,
            s.liveness.overdue
        ),
        (&None, None, Some(true)),
        "nobody ever ticked"
    );
    assert_eq!(
        s.liveness.tick_interval_secs,
        Some(10),
        "the configured tick's"
    );

    let epoch = store.new_epoch("daemon@host-a:4242", t0()).await.unwrap();
    store.record_tick(epoch, t0(), Some(60)).await.unwrap();
    assert_eq!(
        store.leader().await.unwrap(),
        LeaderRecord {
            epoch,
            holder: Some("daemon@host-a:4242".into()),
            acquired_at: Some(t0()),
            last_tick_at: Some(t0()),
            tick_interval_secs: Some(60),
            lease_until: None,
        }
    );
    let (st, cc) = (&store, &c);
    let at = |n| async move {
        service(st, cc, t0() + secs(n))
            .statuses()
            .await
            .unwrap()
            .remove(0)
    };
    let alive = at(180).await;
    assert_eq!(alive.liveness.overdue, Some(false));
    let leader = alive.liveness.leader.unwrap();
    assert_eq!(
        (leader.holder.as_str(), leader.epoch),
        ("daemon@host-a:4242", epoch)
    );
    assert_eq!(
        alive.liveness.tick_interval_secs,
        Some(60),
        "the recorded one"
    );
    assert_eq!(at(181).await.liveness.overdue, Some(true));

    // A standby takes over; the old leader's late record is fenced.
    let newer = store
        .new_epoch("daemon@host-b:7", t0() + secs(200))
        .await
        .unwrap();
    let late = store.record_tick(epoch, t0() + secs(201), Some(60)).await;
    assert!(matches!(late, Err(StoreError::Fenced { .. })), "{late:?}");
    let s = at(202).await;
    assert_eq!(
        s.liveness.leader.as_ref().map(|l| l.holder.as_str()),
        Some("daemon@host-b:7")
    );
    assert_eq!(
        s.liveness.last_tick_at,
        Some(t0()),
        "the last pass anyone made"
    );
    store
        .record_tick(newer, t0() + secs(210), Some(60))
        .await
        .unwrap();
    assert_eq!(at(211).await.liveness.overdue, Some(false));
}

/// A real daemon records its ticks; killed, it shows as overdue in `status`.
async fn a_killed_daemon_shows_as_overdue(db: TestDb) {
    let cfg = db.config(&format!("tick: '* * * * * *'\n{THREE_STAGES}"));
    let daemon = Daemon::start(&cfg, db.dir.path().join("daemon.log"));
    let holder_suffix = format!(":{}", daemon.pid());
    let store = db.store().await;
    eventually(
        Duration::from_secs(60),
        "the daemon's first recorded tick",
        || {
            let store = &store;
            let suffix = &holder_suffix;
            async move {
                let l = store.leader().await.ok()?;
                (l.last_tick_at.is_some() && l.holder.as_deref()?.ends_with(suffix.as_str()))
                    .then_some(())
            }
        },
    )
    .await;
    let out = run(&cfg, &["status", "gr", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let holder = v["leader"]["holder"].as_str().unwrap().to_owned();
    assert!(
        holder.starts_with("daemon@") && holder.ends_with(&holder_suffix),
        "{v}"
    );
    assert_eq!(v["tick_interval_secs"], 1, "{v}");
    assert_eq!(v["status"], "running", "{v}");

    daemon.kill9();
    let v = eventually(
        Duration::from_secs(60),
        "status to call the dead daemon overdue",
        || {
            let cfg = &cfg;
            async move {
                let out = run(cfg, &["status", "gr", "--json"]);
                let v: Value = serde_json::from_slice(&out.stdout).ok()?;
                (v["overdue"] == true).then_some(v)
            }
        },
    )
    .await;
    assert_eq!(v["leader"]["holder"], holder.as_str(), "{v}");
    let text = stdout(&run(&cfg, &["status"]));
    assert!(text.contains(&format!("leader:    {holder}")), "{text}");
    assert!(text.contains("OVERDUE: no tick for more than 3s"), "{text}");
}

const HELD: &str = "
rollouts:
  - name: gr
    flag_prefix: GR_
    seed: 7
    stages:
      - canary: { percentage: 5, duration: 1d }
      - full: {}
    safety_checks:
      - name: data_integrity
        sql: \"SELECT COUNT(*) >= 3 FROM observations WHERE rollout = $1\"
        params: [rollout]
";

fn observations(n: usize, at: DateTime<Utc>) -> Vec<Observation> {
    (0..n)
        .map(|i| Observation {
            unit: format!("u{i}"),
            variant: Variant::Treatment,
            metric: "return_pct".into(),
            value: 1.0,
            observed_at: at,
            event_id: None,
            entry: None,
        })
        .collect()
}

/// A pending rollout that a failing safety check keeps from starting says so in `status`
/// (JSON and table) and in `tick`; starting it clears the hold.
async fn a_pending_rollout_held_by_a_safety_check_says_why(db: TestDb) {
    let cfg = db.config(HELD);
    let out = run(&cfg, &["tick"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("gr: pending, not started: safety check data_integrity failed"),
        "{}",
        stdout(&out)
    );
    let out = run(&cfg, &["status", "gr", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "pending");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .starts_with("safety check data_integrity failed"),
        "{v}"
    );
    let since = v["held_since"].as_str().unwrap().to_owned();
    assert_eq!(v["leader"]["holder"], "tick:tester@it", "{v}");

    // Held again: the reason stands since the first failing tick; the check time moves.
    let store = db.store().await;
    let first = store.pending_holds().await.unwrap();
    assert!(run(&cfg, &["tick"]).status.success());
    let second = store.pending_holds().await.unwrap();
    assert_eq!((first.len(), second.len()), (1, 1));
    assert_eq!(second[0].since, first[0].since);
    assert!(second[0].checked_at > first[0].checked_at);
    let v: Value = serde_json::from_slice(&run(&cfg, &["status", "--json"]).stdout).unwrap();
    assert_eq!(v[0]["held_since"], since.as_str());
    let text = stdout(&run(&cfg, &["status"]));
    assert!(
        text.contains("  reason: safety check data_integrity failed"),
        "{text}"
    );

    // The check passes: the rollout starts, and the hold is gone with the start.
    store
        .ingest("gr", &observations(3, Utc::now()), Utc::now())
        .await
        .unwrap();
    let out = run(&cfg, &["tick"]);
    assert!(stdout(&out).contains("gr: start"), "{}", stdout(&out));
    assert!(store.pending_holds().await.unwrap().is_empty());
    let v: Value = serde_json::from_slice(&run(&cfg, &["status", "gr", "--json"]).stdout).unwrap();
    assert_eq!(
        (&v["status"], &v["reason"], &v["held_since"]),
        (&Value::from("running"), &Value::Null, &Value::Null)
    );
}

/// One numbering for people: stages from 1 with their kind (status, history, actions);
/// `stage_index` from 0 in JSON.
async fn stages_are_numbered_from_one_with_their_kind(db: TestDb) {
    let cfg = db.config(THREE_STAGES);
    let text = stdout(&run(&cfg, &["tick"]));
    assert!(
        text.contains("gr: start (pending -> stage 1 shadow running)"),
        "{text}"
    );
    let out = run(&cfg, &["promote", "gr"]);
    let text = stdout(&out);
    assert!(
        text.contains("gr: promote (stage 1 shadow running -> stage 2 canary:5 running)"),
        "{text}"
    );
    let text = stdout(&run(&cfg, &["status"]));
    let row = text.lines().find(|l| l.starts_with("gr ")).unwrap();
    assert!(row.contains(" 2/3 canary "), "{text}");
    let v: Value = serde_json::from_slice(&run(&cfg, &["status", "gr", "--json"]).stdout).unwrap();
    assert_eq!(
        (&v["stage_index"], &v["stage_kind"]),
        (&Value::from(1), &Value::from("canary"))
    );
    let text = stdout(&run(&cfg, &["history", "gr"]));
    assert!(text.contains("stage 1 shadow "), "{text}");
    assert!(text.contains("stage 1 shadow->2 canary"), "{text}");
}

const AB: &str = "
rollouts:
  - name: gr
    flag_prefix: GR_
    seed: 7
    stages:
      - ab_test: { percentage: 10, duration: 14d, expected_units_per_day: 200 }
      - canary: { percentage: 25, duration: 1d }
      - full: {}
    guardrails:
      - { name: drawdown, metric: return_pct, aggregate: mean, min: -2.0, window: 1h, min_samples: 20 }
      - { name: latency, metric: latency_ms, aggregate: mean, max: 100, window: 1h, severity: warning }
";

/// In the A/B stage: the units per arm against the plan, the time left, and the guardrails
/// summed up by their worst reading.
async fn ab_progress_time_left_and_guardrails(db: TestDb) {
    let store: Arc<dyn Store> = Arc::from(db.store().await);
    let c = plan(AB);
    let writer = Writer::person("t@it");
    engine::tick_all(&*store, &c, &writer, t0()).await.unwrap();
    let mut rows = Vec::new();
    for (variant, n) in [(Variant::Treatment, 4), (Variant::Control, 30)] {
        for i in 0..n {
            rows.push(Observation {
                unit: format!("{variant:?}-{i}"),
                variant,
                metric: "return_pct".into(),
                value: 0.5,
                observed_at: t0() + secs(60),
                event_id: None,
                entry: Some(StageEntry {
                    stage: 0,
                    entered_at: t0(),
                }),
            });
        }
    }
    rows.push(Observation {
        unit: "Treatment-0".into(),
        variant: Variant::Treatment,
        metric: "latency_ms".into(),
        value: 250.0,
        observed_at: t0() + secs(60),
        event_id: None,
        entry: Some(StageEntry {
            stage: 0,
            entered_at: t0(),
        }),
    });
    store.ingest("gr", &rows, t0() + secs(60)).await.unwrap();
    // A pass stores the readings (a latency breach warns and holds the rollout).
    engine::tick_all(&*store, &c, &writer, t0() + secs(120))
        .await
        .unwrap();
    let s: RolloutStatus = service(&store, &c, t0() + secs(600))
        .status("gr")
        .await
        .unwrap();
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["stage_index"], 0);
    assert_eq!(
        v["units"],
        serde_json::json!({"control": 30, "treatment": 4})
    );
    assert_eq!(
        v["planned_units"],
        serde_json::json!({"control": 2520, "treatment": 280}),
        "200 a day for 14 days, 10 % treatment"
    );
    assert_eq!(v["time_left_secs"], 14 * 86_400 - 600);
    let g = &v["guardrail_summary"];
    assert_eq!(
        (&g["configured"], &g["worst"]),
        (&Value::from(2), &Value::from("breach")),
        "{v}"
    );
    assert_eq!(g["not_ok"][0]["guardrail"], "latency", "{v}");
    assert_eq!(g["not_ok"][1]["status"], "insufficient_data", "{v}");
    assert_eq!(
        s.guardrail_summary.as_ref().unwrap().worst,
        Some(ReadingStatus::Breach)
    );
    assert_eq!(v["status"], "blocked", "{v}");
    assert!(v["reason"].as_str().unwrap().contains("latency"), "{v}");
    // Past the A/B stage, no A/B progress.
    let s = service(&store, &c, t0() + secs(700));
    s.act("gr", rollout::controller::ManualAction::Promote, "", "t@it")
        .await
        .unwrap();
    let after = s.status("gr").await.unwrap();
    assert_eq!((after.units, after.planned_units), (None, None));
}

/// `status --watch` off a terminal: a frame a second until SIGINT, then exit 0; with
/// --json, one document per line. An unknown rollout ends it at once.
async fn watch_redraws_until_interrupted(db: TestDb) {
    let cfg = db.config(THREE_STAGES);
    db.store().await; // the database exists (only daemon, tick and ingest create one)
    for json in [false, true] {
        let mut args = vec!["--config", cfg.to_str().unwrap(), "status", "--watch"];
        if json {
            args.push("--json");
        }
        let mut child = bin()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        let mut frames = 0;
        while frames < 2 {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("a frame every second");
            if json {
                let v: Value = serde_json::from_str(&line).expect("one JSON document per line");
                assert_eq!(v[0]["name"], "gr");
                frames += 1;
            } else if line.starts_with("Every 1s: rollout status") {
                frames += 1;
            }
        }
        let killed = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "Ctrl-C ends the watch with 0");
    }
    let out = run(&cfg, &["status", "nope", "--watch"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

on_both_stores!(
    a_leader_that_stopped_ticking_is_overdue,
    a_killed_daemon_shows_as_overdue,
    a_pending_rollout_held_by_a_safety_check_says_why,
    stages_are_numbered_from_one_with_their_kind,
    ab_progress_time_left_and_guardrails,
    watch_redraws_until_interrupted,
);
