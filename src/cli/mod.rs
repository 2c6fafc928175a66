//! The `rollout` command line: argument parsing, dispatch and output. Each command maps
//! the library's errors to the documented exit codes.

mod args;
mod learning;
mod render;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};
use clap::Parser;
use serde::Serialize;

pub use args::{Cli, Command, LearningCommand, LogFormat};

use crate::config::{self, Config, Rollout};
use crate::controller::{ManualAction, RolloutState, Status};
use crate::daemon::{self, DaemonOptions};
use crate::engine::{self, Outcome};
use crate::error::{AppError, Error, ExitCode};
use crate::status::rollout_status;
use crate::store::{self, DatabaseUrl, LeaderCheck, Leadership, Store, StoreError, Writer};

/// Parses the process arguments, runs the command and returns the exit code.
pub fn main() -> std::process::ExitCode {
    // Like other Unix tools, end quietly when the reader of stdout goes away (`| head`).
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Usage errors are invalid input (exit 1); clap's own default, 2, means "not found" here.
            let code = if e.use_stderr() {
                ExitCode::InvalidInput as u8
            } else {
                0
            };
            let _ = e.print();
            return std::process::ExitCode::from(code);
        }
    };
    init_tracing(
        cli.log_format,
        matches!(cli.command, Command::Daemon { .. } | Command::Tick { .. }),
    );
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(ExitCode::StoreUnavailable as u8);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn init_tracing(format: LogFormat, verbose: bool) {
    let default = if verbose { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROLLOUT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub async fn run(cli: Cli) -> Result<(), Error> {
    match &cli.command {
        Command::Validate { file } => validate(file.as_deref().unwrap_or(&cli.config)),
        Command::Plan { json } => plan(&load(&cli.config)?, *json),
        Command::Daemon { listen } => {
            let opts = DaemonOptions {
                config_path: cli.config.clone(),
                database_override: cli.database.clone(),
                listen_override: *listen,
            };
            daemon::run(opts, shutdown_signal()).await
        }
        Command::Tick { json } => tick(&cli, *json).await,
        Command::Status { name, json } => status(&cli, name.as_deref(), *json).await,
        Command::History { name, json } => history(&cli, name, *json).await,
        Command::Flags { json } => flags(&cli, *json).await,
        Command::Pause(a) => act(&cli, &a.name, ManualAction::Pause, &a.reason, a.json).await,
        Command::Resume(a) => act(&cli, &a.name, ManualAction::Resume, &a.reason, a.json).await,
        Command::Promote(a) => act(&cli, &a.name, ManualAction::Promote, &a.reason, a.json).await,
        Command::Restart(a) => act(&cli, &a.name, ManualAction::Restart, &a.reason, a.json).await,
        Command::Assign { name, units, json } => assign(&cli, name, units, *json).await,
        Command::Ingest { name, file, json } => ingest(&cli, name, file, *json).await,
        Command::Analyze { name, json } => analyze(&cli, name, *json).await,
        Command::Check { name, json } => check(&cli, name, *json).await,
        Command::Learning { command } => learning::run(&cli, command).await,
        Command::Rollback { name, reason, json } => {
            if reason.trim().is_empty() {
                return Err(AppError::InvalidInput(
                    "--reason must say why the rollout is rolled back".into(),
                )
                .into());
            }
            act(&cli, name, ManualAction::Rollback, reason, *json).await
        }
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn load(path: &Path) -> Result<Config, Error> {
    let loaded = config::load_file(path)?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    Ok(loaded.config)
}

fn validate(path: &Path) -> Result<(), Error> {
    let loaded = config::load_file(path)?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    println!(
        "{}: OK ({} rollout{}, {} warning{})",
        path.display(),
        loaded.config.rollouts.len(),
        if loaded.config.rollouts.len() == 1 {
            ""
        } else {
            "s"
        },
        loaded.warnings.len(),
        if loaded.warnings.len() == 1 { "" } else { "s" },
    );
    Ok(())
}

/// The configuration and a migrated store.
async fn open(cli: &Cli) -> Result<(Config, Box<dyn Store>, DatabaseUrl), Error> {
    let config = load(&cli.config)?;
    let url = cli
        .database
        .clone()
        .unwrap_or_else(|| config.database.clone());
    let url = DatabaseUrl::parse(&url).map_err(StoreError::from)?;
    let store = store::open_url(&url)?;
    store.migrate().await?;
    Ok((config, store, url))
}

fn rollout<'a>(config: &'a Config, name: &str) -> Result<&'a Rollout, Error> {
    config
        .rollout(name)
        .ok_or_else(|| AppError::UnknownRollout(name.to_owned()).into())
}

fn person(cli: &Cli) -> String {
    cli.actor.clone().unwrap_or_else(|| {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        format!("{user}@{}", gethostname::gethostname().to_string_lossy())
    })
}

fn print_json<T: Serialize>(value: &T) {
    let text = serde_json::to_string_pretty(value).expect("CLI views serialize");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

async fn act(
    cli: &Cli,
    name: &str,
    action: ManualAction,
    reason: &str,
    json: bool,
) -> Result<(), Error> {
    let (config, store, _) = open(cli).await?;
    let r = rollout(&config, name)?;
    let writer = Writer::person(person(cli));
    let applied = engine::act(&*store, r, action, reason, &writer, Utc::now).await?;
    if json {
        #[derive(Serialize)]
        struct View<'a> {
            rollout: &'a str,
            action: &'a str,
            changed: bool,
            status: crate::status::RolloutStatus,
            flags_version: Option<i64>,
            flags: BTreeMap<String, Option<String>>,
        }
        let state = store.state(name).await?;
        print_json(&View {
            rollout: name,
            action: action.as_str(),
            changed: applied.is_some(),
            status: rollout_status(r, state.as_ref(), Utc::now()),
            flags_version: applied.as_ref().map(|a| a.committed.flags_version),
            flags: applied.map(|a| a.committed.changed).unwrap_or_default(),
        });
    } else {
        match applied {
            Some(a) => println!("{}", render::applied(name, &a)),
            None => println!(
                "{name}: already done ({}); nothing changed",
                action.as_str()
            ),
        }
    }
    Ok(())
}

async fn tick(cli: &Cli, json: bool) -> Result<(), Error> {
    let (config, store, url) = open(cli).await?;
    let mut leadership = Leadership::for_url(&url)?;
    if leadership.check().await? == LeaderCheck::Standby {
        return Err(AppError::NotLeader("a daemon is running; it does the ticking".into()).into());
    }
    let actor = format!("tick:{}", person(cli));
    let now = Utc::now();
    let epoch = store.new_epoch(&actor, now).await?;
    let result = engine::tick_all(
        &*store,
        &config,
        &Writer {
            actor,
            epoch: Some(epoch),
        },
        now,
    )
    .await;
    leadership.release().await;
    let outcomes = result?;
    let mut lines = Vec::new();
    let mut views = Vec::new();
    for (name, o) in &outcomes {
        match o {
            Outcome::Applied(a) => {
                lines.push(render::applied(name, a));
                views.push(serde_json::json!({"rollout": name, "action": a.transition.action, "reason": a.transition.reason}));
            }
            Outcome::Discarded(e) => {
                lines.push(format!("{name}: decision discarded: {e}"));
                views.push(serde_json::json!({"rollout": name, "action": "discarded", "reason": e.to_string()}));
            }
            Outcome::Unchanged { .. } => {
                lines.push(format!("{name}: unchanged"));
                views.push(serde_json::json!({"rollout": name, "action": "none"}));
            }
        }
    }
    if json {
        print_json(&views);
    } else {
        println!("{}", lines.join("\n"));
    }
    Ok(())
}

async fn status(cli: &Cli, name: Option<&str>, json: bool) -> Result<(), Error> {
    let (config, store, _) = open(cli).await?;
    let now = Utc::now();
    let states: BTreeMap<String, RolloutState> = store
        .states()
        .await?
        .into_iter()
        .map(|s| (s.rollout.clone(), s))
        .collect();
    let view = |r: &Rollout| rollout_status(r, states.get(r.name.as_str()), now);
    if let Some(name) = name {
        let v = view(rollout(&config, name)?);
        if json {
            print_json(&v);
        } else {
            print!("{}", render::status_table(std::slice::from_ref(&v)));
        }
        return Ok(());
    }
    let views: Vec<_> = config.rollouts.iter().map(view).collect();
    if json {
        print_json(&views);
    } else {
        print!("{}", render::status_table(&views));
    }
    Ok(())
}

async fn history(cli: &Cli, name: &str, json: bool) -> Result<(), Error> {
    let (config, store, _) = open(cli).await?;
    let rows = store.history(name).await?;
    if rows.is_empty() && config.rollout(name).is_none() {
        return Err(AppError::UnknownRollout(name.to_owned()).into());
    }
    if json {
        print_json(&rows);
    } else if rows.is_empty() {
        println!("{name}: no history yet");
    } else {
        print!("{}", render::history(&rows));
    }
    Ok(())
}

async fn flags(cli: &Cli, json: bool) -> Result<(), Error> {
    let (_, store, _) = open(cli).await?;
    let table = store.flags().await?;
    if json {
        print_json(&table);
    } else {
        print!("{}", render::flags(&table));
    }
    Ok(())
}

async fn assign(cli: &Cli, name: &str, units: &[String], json: bool) -> Result<(), Error> {
    let (config, store, _) = open(cli).await?;
    let r = rollout(&config, name)?;
    let flags = store.rollout_flags(name).await?;
    let views: Vec<_> = units
        .iter()
        .map(|u| crate::status::unit_assignment(r, &flags, u))
        .collect();
    if json {
        print_json(&views);
    } else {
        println!(
            "{:<24} {:>10} {:<10} {:>10} {:<10} ENABLED NOW",
            "UNIT", "U_AB", "VARIANT", "U_ROLLOUT", "IN_ROLLOUT"
        );
        for v in &views {
            println!(
                "{:<24} {:>10.6} {:<10} {:>10.6} {:<10} {}",
                v.unit,
                v.u_ab,
                v.variant.unwrap_or("-"),
                v.u_rollout,
                format!("{} ({}%)", v.in_rollout, v.rollout_percentage),
                v.enabled
            );
        }
    }
    Ok(())
}

/// The bytes of `file` (`-`: stdin) and the name to report errors under.
pub(crate) fn read_input(file: &Path) -> Result<(String, Vec<u8>), Error> {
    if file.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| AppError::InvalidInput(format!("cannot read stdin: {e}")))?;
        Ok(("stdin".to_owned(), buf))
    } else {
        let data = std::fs::read(file)
            .map_err(|e| AppError::InvalidInput(format!("cannot read {}: {e}", file.display())))?;
        Ok((file.display().to_string(), data))
    }
}

async fn ingest(cli: &Cli, name: &str, file: &Path, json: bool) -> Result<(), Error> {
    let (config, store, _) = open(cli).await?;
    rollout(&config, name)?;
    let (source, data) = read_input(file)?;
    let now = Utc::now();
    let rows = crate::experiment::parse_csv(&source, &data, now)?;
    let report = store.ingest(name, &rows, now).await?;
    // New data is judged at once: a critical issue rolls back without waiting for a tick.
    let rolled_back = if report.inserted > 0 {
        let r = rollout(&config, name)?;
        let writer = Writer::person(person(cli));
        // The rows are committed: a failed evaluation must not read as a failed ingest
        // (a re-run would store them twice). The next tick judges them.
        match engine::on_new_data(&*store, r, &writer, Utc::now()).await {
            Ok(Outcome::Applied(a)) => Some(a.transition.reason),
            Ok(_) => None,
            Err(e) => {
                eprintln!("warning: the observations are stored, but judging them failed: {e}; the daemon's next tick will");
                None
            }
        }
    } else {
        None
    };
    if json {
        #[derive(Serialize)]
        struct View {
            #[serde(flatten)]
            report: crate::experiment::IngestReport,
            rolled_back: Option<String>,
        }
        print_json(&View {
            report,
            rolled_back,
        });
    } else {
        println!(
            "{name}: ingested {} observation(s); {} duplicate(s) skipped",
            report.inserted, report.duplicates
        );
        if let Some(reason) = rolled_back {
            println!("{name}: ROLLED BACK: {reason}");
        }
    }
    Ok(())
}

async fn check(cli: &Cli, name: &str, json: bool) -> Result<(), Error> {
    let (config, store, _) = open(cli).await?;
    let r = rollout(&config, name)?;
    let now = Utc::now();
    let state = store.state(name).await?;
    let checks =
        crate::guardrails::run_checks(&*store, crate::guardrails::http_client(), r, now).await?;
    // Measured as if running, so that guardrails can be tried out in any status.
    let as_running = state
        .clone()
        .map(|s| RolloutState {
            status: Status::Running,
            ..s
        })
        .or_else(|| {
            Some(RolloutState {
                rollout: name.to_owned(),
                stage_index: 0,
                stage_label: String::new(),
                stage_entered_at: now,
                status: Status::Running,
                reason: None,
                paused_at: None,
                paused_ms: 0,
                version: 0,
                weights: None,
            })
        });
    let pass = crate::guardrails::evaluate(&*store, r, as_running.as_ref(), now).await?;
    let failed =
        checks.iter().filter(|c| !c.passed).count() + pass.critical.len() + pass.warnings.len();
    if json {
        #[derive(Serialize)]
        struct View<'a> {
            rollout: &'a str,
            safety_checks: &'a [crate::guardrails::CheckResult],
            guardrails: &'a [crate::store::GuardrailReading],
            critical: &'a [String],
            warnings: &'a [String],
            passed: bool,
        }
        print_json(&View {
            rollout: name,
            safety_checks: &checks,
            guardrails: &pass.readings,
            critical: &pass.critical,
            warnings: &pass.warnings,
            passed: failed == 0,
        });
    } else {
        print!("{}", render::checks(name, &checks, &pass));
    }
    if failed > 0 {
        return Err(AppError::ChecksFailed(format!("{name}: {failed} check(s) failed")).into());
    }
    Ok(())
}

async fn analyze(cli: &Cli, name: &str, json: bool) -> Result<(), Error> {
    let (config, store, _) = open(cli).await?;
    let r = rollout(&config, name)?;
    let state = store.state(name).await?;
    let Some(a) = crate::experiment::analyze(&*store, r, state.as_ref()).await? else {
        return Err(AppError::InvalidInput(format!("rollout {name} has no ab_test stage")).into());
    };
    if json {
        print_json(&a);
    } else {
        print!("{}", render::analysis(&a));
    }
    Ok(())
}

/// One stage of `rollout plan`.
#[derive(Debug, Serialize)]
pub struct PlanStep {
    pub index: usize,
    pub kind: &'static str,
    pub percentage: f64,
    pub duration_secs: Option<u64>,
    /// Earliest start, counted from the first tick, if nothing holds or pauses the rollout.
    pub starts_after_days: f64,
    pub summary: String,
    pub flags: BTreeMap<String, String>,
    /// For an `ab_test` stage with `expected_units_per_day`: can it detect `min_effect`?
    pub sample_size: Option<SampleSizePlan>,
}

/// The fixed-horizon sample size of an A/B stage at 80 % power.
#[derive(Debug, Serialize)]
pub struct SampleSizePlan {
    pub needed_treatment: u64,
    pub needed_control: u64,
    pub expected_treatment: f64,
    pub expected_control: f64,
    pub duration_is_enough: bool,
}

fn sample_size(kind: &crate::config::StageKind) -> Option<SampleSizePlan> {
    let crate::config::StageKind::AbTest {
        percentage,
        duration,
        analysis,
        ..
    } = kind
    else {
        return None;
    };
    let per_day = analysis.expected_units_per_day?;
    let share = percentage.get() / 100.0;
    let (t, c) =
        crate::stats::sample_size_per_arm(analysis.min_effect, analysis.alpha, 0.8, share)?;
    let days = duration.get().as_secs_f64() / 86_400.0;
    let (et, ec) = (per_day * days * share, per_day * days * (1.0 - share));
    Some(SampleSizePlan {
        needed_treatment: t,
        needed_control: c,
        expected_treatment: et,
        expected_control: ec,
        duration_is_enough: et >= t as f64 && ec >= c as f64,
    })
}

/// The timeline of a rollout, assuming every stage runs exactly its duration.
pub fn plan_steps(rollout: &Rollout) -> Vec<PlanStep> {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let mut offset = 0u64;
    rollout
        .stages
        .iter()
        .enumerate()
        .map(|(index, stage)| {
            let state = RolloutState {
                rollout: rollout.name.to_string(),
                stage_index: index,
                stage_label: stage.kind.label(),
                stage_entered_at: epoch,
                status: if index + 1 == rollout.stages.len() {
                    Status::Completed
                } else {
                    Status::Running
                },
                reason: None,
                paused_at: None,
                paused_ms: 0,
                version: 1,
                weights: None,
            };
            let duration = stage.kind.duration().map(|d| d.get().as_secs());
            let step = PlanStep {
                index,
                kind: stage.kind.name(),
                percentage: stage.kind.percentage().map_or(0.0, |p| p.get()),
                duration_secs: duration,
                starts_after_days: offset as f64 / 86_400.0,
                summary: render::stage_summary(&stage.kind),
                flags: crate::controller::flags::desired(rollout, &state),
                sample_size: sample_size(&stage.kind),
            };
            offset += duration.unwrap_or(0);
            step
        })
        .collect()
}

fn rollback_flags(rollout: &Rollout) -> BTreeMap<String, String> {
    let state = RolloutState {
        rollout: rollout.name.to_string(),
        stage_index: 0,
        stage_label: String::new(),
        stage_entered_at: DateTime::<Utc>::UNIX_EPOCH,
        status: Status::RolledBack,
        reason: None,
        paused_at: None,
        paused_ms: 0,
        version: 1,
        weights: None,
    };
    crate::controller::flags::desired(rollout, &state)
}

fn plan(config: &Config, json: bool) -> Result<(), Error> {
    if json {
        let views: Vec<_> = config
            .rollouts
            .iter()
            .map(|r| serde_json::json!({"rollout": r.name.as_str(), "stages": plan_steps(r), "rollback_flags": rollback_flags(r)}))
            .collect();
        print_json(&views);
        return Ok(());
    }
    for r in &config.rollouts {
        print!("{}", render::plan(r, &plan_steps(r)));
        println!(
            "  on rollback: writes {}",
            render::join_flags(&rollback_flags(r))
        );
        let total: u64 = r
            .stages
            .iter()
            .filter_map(|s| s.kind.duration())
            .map(|d| d.get().as_secs())
            .sum();
        println!(
            "  earliest completion: {:.1} days after the first tick\n",
            total as f64 / 86_400.0
        );
    }
    Ok(())
}
