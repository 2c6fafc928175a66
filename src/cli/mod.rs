//! The `rollout` command line: argument parsing, dispatch and output. Each command maps
//! the library's errors to the documented exit codes.

mod args;
mod assign;
mod learning;
mod open;
mod ops;
mod render;
mod report;

use std::io::Write;
use std::path::Path;

use clap::Parser;
use serde::Serialize;

pub use args::{Cli, Command, DbCommand, LearningCommand, LogFormat};

use crate::config::{self, Config};
use crate::controller::ManualAction;
use crate::daemon::{self, DaemonOptions};
use crate::engine::Outcome;
use crate::error::{AppError, Error, ExitCode};
use crate::store::Writer;
use open::{open, Access};
use rollout_app::{Judge, Service};

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

/// Logs go to stderr, coloured only when it is a terminal (and `NO_COLOR` is unset).
/// `ROLLOUT_LOG` (a `tracing` filter) replaces the defaults: for the daemon and `tick`, INFO
/// with the scheduler's and sqlx's chatter kept below it; for the other commands, WARN (a
/// rollback or hold they commit is logged; other transitions only on stdout).
fn init_tracing(format: LogFormat, verbose: bool) {
    use std::io::IsTerminal;
    let default = if verbose {
        "info,tokio_cron_scheduler=warn,sqlx=warn"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ROLLOUT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
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
        Command::Daemon {
            listen,
            lease,
            http,
        } => {
            http.check().map_err(Error::invalid_input)?;
            if lease.as_millis() < 300 {
                return Err(Error::invalid_input(format!(
                    "--lease {} is too short; at least 300ms",
                    humantime::format_duration(*lease)
                )));
            }
            let opts = DaemonOptions {
                config_path: cli.config.clone(),
                database_override: cli.database.clone(),
                listen_override: *listen,
                lease: *lease,
                http: http.clone(),
            };
            daemon::run(opts, shutdown_signal()).await
        }
        Command::Tick { json } => tick(&cli, *json).await,
        Command::Status { name, json, watch } => {
            let (service, _) = open(&cli, Access::OnCall).await?;
            if *watch {
                watch_status(&service, name.as_deref(), *json).await
            } else {
                print!("{}", status_frame(&service, name.as_deref(), *json).await?);
                Ok(())
            }
        }
        Command::History { name, json } => history(&cli, name, *json).await,
        Command::Flags { json } => flags(&cli, *json).await,
        Command::Pause(a) => act(&cli, &a.name, ManualAction::Pause, &a.reason, a.json).await,
        Command::Resume(a) => act(&cli, &a.name, ManualAction::Resume, &a.reason, a.json).await,
        Command::Promote(a) => act(&cli, &a.name, ManualAction::Promote, &a.reason, a.json).await,
        Command::Restart(a) => act(&cli, &a.name, ManualAction::Restart, &a.reason, a.json).await,
        Command::Assign { name, units, json } => assign::run(&cli, name, units, *json).await,
        Command::Ingest { name, file, json } => ingest(&cli, name, file, *json).await,
        Command::Analyze { name, json } => analyze(&cli, name, *json).await,
        Command::Check { name, json } => check(&cli, name, *json).await,
        Command::Compact { name, keep, json } => compact(&cli, name, *keep, *json).await,
        Command::Learning { command } => learning::run(&cli, command).await,
        Command::Report { name, json, format } => {
            let format = if *json {
                report::ReportFormat::Json
            } else {
                *format
            };
            report::report(&cli, name, format).await
        }
        Command::Errors { name, file, json } => report::errors(&cli, name, file, *json).await,
        Command::Db {
            command: DbCommand::Roles { apply, prefix },
        } => ops::roles(&cli, prefix, *apply).await,
        Command::Backup { file, json } => ops::backup(&cli, file, *json).await,
        Command::Restore { file, force, json } => ops::restore(&cli, file, *force, *json).await,
        Command::Export { json: _ } => ops::export(&cli).await,
        Command::Rollback { name, reason, json } => {
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

fn person(cli: &Cli) -> String {
    cli.actor.clone().unwrap_or_else(|| {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        format!("{user}@{}", gethostname::gethostname().to_string_lossy())
    })
}

/// A JSON view with the store it was read from or written to (password redacted).
#[derive(Serialize)]
struct WithStore<'a, T: Serialize> {
    #[serde(flatten)]
    inner: &'a T,
    store: String,
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
    let (service, url) = open(
        cli,
        if matches!(action, ManualAction::Rollback | ManualAction::Pause) {
            Access::OnCall
        } else {
            Access::Existing
        },
    )
    .await?;
    let report = service.act(name, action, reason, &person(cli)).await?;
    if json {
        print_json(&WithStore {
            inner: &report,
            store: url.to_string(),
        });
    } else {
        println!("store: {url}");
        match &report.applied {
            Some(a) => println!("{}", render::applied(name, a)),
            None => println!(
                "{name}: already done ({}); nothing changed",
                action.as_str()
            ),
        }
    }
    Ok(())
}

async fn tick(cli: &Cli, json: bool) -> Result<(), Error> {
    let (service, url) = open(cli, Access::Create).await?;
    let actor = format!("{}{}", rollout_core::records::ONE_OFF_HOLDER, person(cli));
    let writer = match service.begin_lease(&actor).await? {
        Some(writer) => writer,
        None => {
            return Err(
                AppError::NotLeader("a daemon is running; it does the ticking".into()).into(),
            )
        }
    };
    let result = service.tick(&writer).await;
    service.end_lease(&actor).await;
    let outcomes = result?;
    let mut lines = Vec::new();
    let mut views = Vec::new();
    for (name, o) in &outcomes {
        match o {
            Outcome::Applied(a) => {
                lines.push(render::applied(name, a));
                views.push(serde_json::json!({"rollout": name, "action": a.transition.action, "reason": a.transition.reason}));
            }
            Outcome::HeldPending { reason } => {
                lines.push(format!("{name}: pending, not started: {reason}"));
                views
                    .push(serde_json::json!({"rollout": name, "action": "none", "reason": reason}));
            }
            Outcome::Discarded(e) => {
                lines.push(format!("{name}: decision discarded: {e}"));
                views.push(serde_json::json!({"rollout": name, "action": "discarded", "reason": e.to_string()}));
            }
            Outcome::Failed { error, held } => {
                let held = if held.is_some() { "; held" } else { "" };
                lines.push(format!("{name}: evaluation failed: {error}{held}"));
                views.push(serde_json::json!({"rollout": name, "action": "failed", "reason": error.to_string(), "held": !held.is_empty()}));
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
        println!("store: {url}");
        println!("{}", lines.join("\n"));
    }
    Ok(())
}

/// One `rollout status` output: the table, or the JSON (pretty, or `compact` on one line).
async fn status_text(service: &Service, name: Option<&str>, json: Json) -> Result<String, Error> {
    let views = match name {
        Some(name) => vec![service.status(name).await?],
        None => service.statuses().await?,
    };
    let text = match (json, name) {
        (Json::No, _) => return Ok(render::status_table(&views, service.now())),
        (Json::Pretty, Some(_)) => serde_json::to_string_pretty(&views[0]),
        (Json::Pretty, None) => serde_json::to_string_pretty(&views),
        (Json::Compact, Some(_)) => serde_json::to_string(&views[0]),
        (Json::Compact, None) => serde_json::to_string(&views),
    };
    Ok(text.expect("status views serialize") + "\n")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Json {
    No,
    Pretty,
    Compact,
}

async fn status_frame(service: &Service, name: Option<&str>, json: bool) -> Result<String, Error> {
    status_text(service, name, if json { Json::Pretty } else { Json::No }).await
}

/// `status --watch`: a new frame every second until SIGINT (Ctrl-C) or SIGTERM, then exit
/// 0. On a terminal each frame is drawn over the last (cursor home, each line cleared to
/// its end, the rest of the screen cleared), like `watch` or `kubectl argo rollouts get
/// rollout -w`; otherwise frames follow one another (with --json, one document per line).
/// The first read's errors end the command (an unknown rollout, an unreachable store);
/// later ones are shown in the frame and the watch goes on.
async fn watch_status(service: &Service, name: Option<&str>, json: bool) -> Result<(), Error> {
    use std::io::IsTerminal;
    use tokio::signal::unix::{signal, SignalKind};
    let tty = std::io::stdout().is_terminal();
    let format = match (json, tty) {
        (false, _) => Json::No,
        (true, true) => Json::Pretty,
        (true, false) => Json::Compact,
    };
    // Installed before the first frame, so that a Ctrl-C right after it is ours.
    let cannot =
        |e: std::io::Error| Error::Runtime(format!("cannot install a signal handler: {e}"));
    let mut interrupt = signal(SignalKind::interrupt()).map_err(cannot)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(cannot)?;
    let mut frame: Result<String, Error> = Ok(status_text(service, name, format).await?);
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await; // the first tick is now
    let mut first_draw = true;
    loop {
        let body = match &frame {
            Ok(text) => text.clone(),
            Err(e) => format!("error: {e}\n"),
        };
        let header = if format == Json::Compact {
            String::new()
        } else {
            format!(
                "Every 1s: rollout status{}   {}\n\n",
                name.map(|n| format!(" {n}")).unwrap_or_default(),
                render::time(Some(service.now()))
            )
        };
        draw(&format!("{header}{body}"), tty, first_draw);
        first_draw = false;
        tokio::select! {
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
            _ = every.tick() => {}
        }
        tokio::select! {
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
            next = status_text(service, name, format) => frame = next,
        }
    }
    if tty {
        println!();
    }
    Ok(())
}

/// Writes one watch frame: over the last one on a terminal, after it otherwise.
fn draw(frame: &str, tty: bool, first: bool) {
    let mut out = std::io::stdout().lock();
    let text = if tty {
        let mut buf = String::from(if first { "\x1b[2J\x1b[H" } else { "\x1b[H" });
        for line in frame.lines() {
            buf.push_str(line);
            buf.push_str("\x1b[K\n");
        }
        buf.push_str("\x1b[J");
        buf
    } else if frame.ends_with('\n') {
        frame.to_owned()
    } else {
        format!("{frame}\n")
    };
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

async fn history(cli: &Cli, name: &str, json: bool) -> Result<(), Error> {
    let (service, _) = open(cli, Access::OnCall).await?;
    let rows = service.history(name).await?;
    if json {
        print_json(&rows);
    } else if rows.is_empty() {
        println!("{name}: no history yet");
    } else {
        let config = service.config();
        print!("{}", render::history(&rows, config.rollout(name)));
    }
    Ok(())
}

async fn flags(cli: &Cli, json: bool) -> Result<(), Error> {
    let (service, _) = open(cli, Access::OnCall).await?;
    let table = service.flags().await?;
    if json {
        print_json(&table);
    } else {
        print!("{}", render::flags(&table));
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
    let (service, url) = open(cli, Access::Create).await?;
    service.rollout(name)?;
    let (source, data) = read_input(file)?;
    let rows = crate::experiment::parse_csv(&source, &data, service.now())?;
    // New data is judged after the commit: by the daemon that leads, if one does (it
    // notices the rows); here otherwise, so that a critical issue rolls back without
    // waiting for a tick.
    let judge = Judge::UnlessADaemonLeads(Writer::person(person(cli)));
    let out = service
        .ingest_observations(name, &source, rows, judge)
        .await?;
    if let Some(daemon) = &out.left_to {
        eprintln!("note: {daemon} leads; it judges the new observations (a rollback shows in `rollout status {name}`)");
    }
    if let Some(e) = &out.judge_error {
        eprintln!("warning: the observations are stored, but judging them failed: {e}; the daemon's next tick will");
    }
    if json {
        print_json(&WithStore {
            inner: &out,
            store: url.to_string(),
        });
    } else {
        println!("store: {url}");
        println!(
            "{name}: ingested {} observation(s); {} duplicate(s) skipped",
            out.report.inserted, out.report.duplicates
        );
        if let Some(reason) = &out.rolled_back {
            println!("{name}: ROLLED BACK: {reason}");
        }
    }
    Ok(())
}

async fn check(cli: &Cli, name: &str, json: bool) -> Result<(), Error> {
    let (service, _) = open(cli, Access::Existing).await?;
    let report = service.check(name).await?;
    if json {
        print_json(&report);
    } else {
        print!(
            "{}",
            render::checks(name, &report.safety_checks, &report.pass())
        );
    }
    if report.failed > 0 {
        return Err(
            AppError::ChecksFailed(format!("{name}: {} check(s) failed", report.failed)).into(),
        );
    }
    Ok(())
}

async fn compact(
    cli: &Cli,
    name: &str,
    keep: Option<chrono::Duration>,
    json: bool,
) -> Result<(), Error> {
    let (service, _) = open(cli, Access::Existing).await?;
    let c = service.compact(name, keep).await?;
    if json {
        print_json(&c);
    } else {
        println!(
            "{}: dropped {} raw observations of ended stages observed before {} (their aggregates are kept), \
             {} guardrail readings (breaches are kept) and {} analysis snapshots (each stage's last is kept)",
            c.rollout,
            c.deleted,
            c.compacted_before.to_rfc3339(),
            c.readings_deleted,
            c.snapshots_deleted
        );
    }
    Ok(())
}

async fn analyze(cli: &Cli, name: &str, json: bool) -> Result<(), Error> {
    let (service, _) = open(cli, Access::Existing).await?;
    let a = service.analyze(name).await?;
    if json {
        print_json(&a);
    } else {
        print!("{}", render::analysis(&a));
    }
    Ok(())
}

fn plan(config: &Config, json: bool) -> Result<(), Error> {
    let plans: Vec<_> = config.rollouts.iter().map(crate::plan::plan).collect();
    if json {
        print_json(&plans);
        return Ok(());
    }
    for (r, p) in config.rollouts.iter().zip(&plans) {
        print!("{}", render::plan(r, &p.stages));
        println!(
            "  on rollback: writes {}",
            render::join_flags(&p.rollback_flags)
        );
        println!(
            "  earliest completion: {:.1} days after the first tick\n",
            p.total_secs as f64 / 86_400.0
        );
    }
    Ok(())
}
