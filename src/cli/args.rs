//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "rollout",
    version,
    about = "Staged, statistically judged rollout of the learning system"
)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        env = "ROLLOUT_CONFIG",
        default_value = "rollout.yaml"
    )]
    pub config: PathBuf,
    /// Overrides the configuration's `database`.
    #[arg(
        long,
        global = true,
        env = "ROLLOUT_DATABASE_URL",
        hide_env_values = true
    )]
    pub database: Option<String>,
    /// Who is acting, for the history (default: USER@HOST).
    #[arg(long, global = true, env = "ROLLOUT_ACTOR")]
    pub actor: Option<String>,
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Checks a configuration file (default: --config) and prints every problem.
    Validate { file: Option<PathBuf> },
    /// Shows each rollout's timeline and the flags every stage writes; writes nothing.
    Plan {
        #[arg(long)]
        json: bool,
    },
    /// Runs the controller: ticks on the `tick` schedule until SIGTERM or SIGINT, and
    /// serves the HTTP API on `listen` (if set).
    Daemon {
        /// Serves the HTTP API on this address (overrides `listen`; port 0 picks a free
        /// port, logged as "HTTP API listening on http://ADDR").
        #[arg(long, env = "ROLLOUT_LISTEN")]
        listen: Option<std::net::SocketAddr>,
        /// How long the leadership lease lasts (renewed every third of it); a standby takes
        /// over within two leases of the leader freezing or losing the database.
        #[arg(long, env = "ROLLOUT_LEASE", default_value = "10s", value_parser = humantime::parse_duration)]
        lease: std::time::Duration,
        /// The HTTP API's bounds on its clients.
        #[command(flatten)]
        http: crate::http::Limits,
    },
    /// Runs one evaluation pass, then exits.
    Tick {
        #[arg(long)]
        json: bool,
    },
    /// Shows where each rollout is, why, how long its stage has left, its A/B progress and
    /// guardrails, and who leads and whether its ticks are on time.
    Status {
        name: Option<String>,
        #[arg(long)]
        json: bool,
        /// Redraws every second until Ctrl-C (in place on a terminal; otherwise one frame
        /// after another, with --json one JSON document per line).
        #[arg(long, short = 'w')]
        watch: bool,
    },
    /// Shows a rollout's transitions and manual actions.
    History {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Shows the flags table.
    Flags {
        #[arg(long)]
        json: bool,
    },
    /// Stops a rollout's clock; its flags stay as they are.
    Pause(ActionArgs),
    /// Restarts a paused rollout's clock.
    Resume(ActionArgs),
    /// Moves a rollout to its next stage now.
    Promote(ActionArgs),
    /// Rolls a rollout back: applies nothing, 0%, A/B off, plus `on_rollback`.
    Rollback {
        name: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Starts a rolled-back rollout again from its first stage.
    Restart(ActionArgs),
    /// Shows each unit's draws, A/B variant and whether the new path is on for it now.
    Assign {
        name: String,
        #[arg(required = true)]
        units: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Loads A/B observations from a CSV file (`-` for stdin): all rows or none.
    Ingest {
        name: String,
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Runs a rollout's safety checks and measures its guardrails now; writes nothing.
    /// Exits 6 when a check fails or a guardrail is breached.
    Check {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Shows the A/B analysis: tests, effect sizes, intervals, SRM and the verdict.
    Analyze {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Drops the raw observations of stages that have ended, observed more than `--keep`
    /// ago (default and minimum: the longest guardrail window), keeping every aggregate a
    /// verdict reads. `retention:` in the config does this hourly.
    Compact {
        name: String,
        /// How long raw rows are kept, e.g. `30d` (at least the longest guardrail window).
        #[arg(long, value_parser = parse_interval)]
        keep: Option<chrono::Duration>,
        #[arg(long)]
        json: bool,
    },
    /// What each stage of the current attempt saw: for a shadow stage its measures,
    /// counterfactual and exit criteria; for the others units, verdict, breaches, holds, time.
    Report {
        name: String,
        /// Shorthand for --format json.
        #[arg(long)]
        json: bool,
        #[arg(long, value_enum, default_value_t = super::report::ReportFormat::Text)]
        format: super::report::ReportFormat,
    },
    /// Records errors services reported about the learning system, from a CSV file
    /// (`unit,kind,message[,at]`; `-` for stdin): all rows or none.
    Errors {
        name: String,
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// The learning module: its data, pattern analysis and discovery weights.
    Learning {
        #[command(subcommand)]
        command: LearningCommand,
    },
    /// The store itself: least-privilege database roles.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Writes a consistent snapshot of the store to FILE while the daemon runs: a manifest
    /// line (versions, row counts, flags version, SHA-256), then one JSON line per row.
    Backup {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Loads a backup into an empty store (checked whole first); --force replaces what the
    /// store holds.
    Restore {
        file: PathBuf,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// The configuration, state, history and flags as one JSON document, for audit.
    Export {
        /// Accepted for symmetry with the other commands: the export is always JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Prints the PostgreSQL roles and grants for each part of the system (on SQLite: the
    /// file permissions to set); with --apply, migrates the store and applies them
    /// (idempotent; run as a superuser).
    Roles {
        #[arg(long)]
        apply: bool,
        /// Put in front of every role name (`acme_` → `acme_rollout_reader`).
        #[arg(long, env = "ROLLOUT_ROLE_PREFIX", default_value = "")]
        prefix: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LearningCommand {
    /// Loads discovery, thesis or outcome rows from a JSONL file (`-` for stdin): all or none.
    Ingest {
        #[arg(value_enum)]
        kind: KindArg,
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Pattern analysis and the weights the next run would compute; writes nothing.
    Analyze {
        /// The rollout (default: the only one with an `analysis:` block).
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Current, suggested and published weights.
    Weights {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Runs the scheduled pass now: analyse, store the weights, publish where the stage allows.
    Run {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct ActionArgs {
    pub name: String,
    #[arg(long, default_value = "")]
    pub reason: String,
    #[arg(long)]
    pub json: bool,
}

/// The table `learning ingest` loads; mapped onto [`crate::learning::Kind`] (the domain
/// type carries no CLI derive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Discovery,
    Thesis,
    Outcome,
}

impl From<KindArg> for crate::learning::Kind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Discovery => crate::learning::Kind::Discovery,
            KindArg::Thesis => crate::learning::Kind::Thesis,
            KindArg::Outcome => crate::learning::Kind::Outcome,
        }
    }
}

/// A duration: `0`, or a duration as the configuration writes one.
fn parse_interval(s: &str) -> Result<chrono::Duration, String> {
    if s.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic()) == "0" {
        return Ok(chrono::Duration::zero());
    }
    let d = rollout_core::config::domain::StageDuration::parse(s)?;
    chrono::Duration::from_std(d.get()).map_err(|e| e.to_string())
}
